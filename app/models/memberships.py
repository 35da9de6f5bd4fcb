from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program
    from app.models.rewards import Reward
    from app.models.tiers import Tier


class MembershipPlan(Model):
    """A paid membership a program sells (the store bills, Laurel keeps the benefits)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="membership_plans", on_delete=fields.RESTRICT
    )
    # The store's own id for the plan.
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    fee_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    interval = fields.CharField(max_length=8)
    trial_days = fields.IntField(default=0)
    # After a period ends unpaid (or a payment fails), benefits last this many more days.
    grace_days = fields.IntField(default=0)
    # The lowest tier a member holds while the membership is active.
    tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name="membership_plans", on_delete=fields.RESTRICT, null=True
    )
    earn_multiplier = fields.CharField(max_length=8, null=True)
    perks: Any = fields.JSONField(default=list)
    welcome_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "models.Reward", related_name="welcome_plans", on_delete=fields.RESTRICT, null=True
    )
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "membership_plans"
        unique_together = (("program", "code"),)


class Membership(Model):
    """A member's subscription to a plan. At most one not ended per member and plan (a
    partial unique index, created by the migration)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="memberships", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="memberships", on_delete=fields.RESTRICT
    )
    plan: fields.ForeignKeyRelation[MembershipPlan] = fields.ForeignKeyField(
        "models.MembershipPlan", related_name="memberships", on_delete=fields.RESTRICT
    )
    # TRIALING, ACTIVE, PAST_DUE or ENDED.
    status = fields.CharField(max_length=16)
    started_at = fields.DatetimeField()
    current_period_start = fields.DatetimeField()
    current_period_end = fields.DatetimeField()
    cancel_at_period_end = fields.BooleanField(default=False)
    # When the membership ends unless renewed: the `memberships` job ends it then.
    ends_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    end_reason = fields.CharField(max_length=16, null=True)
    welcome_redemption_id = fields.BigIntField(null=True)
    # Why the welcome reward could not be given (RewardUnavailable), when it could not.
    welcome_reward_failure = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "memberships"
        indexes = (("ends_at",), ("member_id", "plan_id"))


class MembershipFirst(Model):
    """A member's first membership of a plan: the trial and the welcome reward, once ever."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="membership_firsts", on_delete=fields.RESTRICT
    )
    plan: fields.ForeignKeyRelation[MembershipPlan] = fields.ForeignKeyField(
        "models.MembershipPlan", related_name="firsts", on_delete=fields.RESTRICT
    )
    trial_days = fields.IntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "membership_firsts"
        unique_together = (("member", "plan"),)
