from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program
    from app.models.rewards import Reward


class TierSettings(Model):
    """A program's tier rules (app/domain/tiers.py). No row, or no tiers: tiers are off."""

    id = fields.BigIntField(primary_key=True)
    program: fields.OneToOneRelation[Program] = fields.OneToOneField(
        "models.Program", related_name="tier_settings", on_delete=fields.RESTRICT
    )
    metric = fields.CharField(max_length=16)
    period = fields.CharField(max_length=24)
    downgrade = fields.CharField(max_length=16)
    grace_days = fields.IntField(default=0)
    # Bumped by every change of the rules; the recalculation job brings everyone to it.
    version = fields.IntField(default=1)
    recalculated_version = fields.IntField(default=0)
    # The last member id the running recalculation finished (resumable, paged by member id).
    recalculation_cursor = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "tier_settings"


class Tier(Model):
    """One level of a program. A tier dropped from the configuration is retired, not deleted:
    history and entry grants keep pointing at it."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="tiers", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=64)
    # Position among the active tiers, 0 the lowest; NULL once retired.
    rank = fields.IntField(null=True)
    threshold = fields.BigIntField()
    # Purchase points x this (2 decimals) while in the tier; NULL: no multiplier.
    earn_multiplier = fields.CharField(max_length=8, null=True)
    reward_discount_percent = fields.IntField(default=0)
    entry_points = fields.BigIntField(default=0)
    entry_reward: fields.ForeignKeyNullableRelation[Reward] = fields.ForeignKeyField(
        "models.Reward", related_name="entry_reward_tiers", on_delete=fields.RESTRICT, null=True
    )
    # What storefronts show of the tier ("Free shipping", "Early access"): texts, in order.
    perks: Any = fields.JSONField(default=list, db_default="[]")
    retired_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tiers"
        unique_together = (("program", "name"),)


class MemberTier(Model):
    """The tier a member holds now (the result of app/domain/tiers.py, stored). No row: the
    member was never evaluated and holds what a value of 0 qualifies for."""

    id = fields.BigIntField(primary_key=True)
    member: fields.OneToOneRelation[Member] = fields.OneToOneField(
        "models.Member", related_name="tier_state", on_delete=fields.RESTRICT
    )
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="member_tiers", on_delete=fields.RESTRICT
    )
    tier: fields.ForeignKeyNullableRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name="holders", on_delete=fields.RESTRICT, null=True
    )
    since = fields.DatetimeField()
    # When the tier can next change with no new activity: the period job looks here.
    review_at = fields.DatetimeField(null=True)
    config_version = fields.IntField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "member_tiers"
        indexes = (("review_at",),)


class TierChange(Model):
    """A member's tier history: from, to, why, when (names, so it outlives retired tiers)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="tier_changes", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="tier_changes", on_delete=fields.RESTRICT
    )
    from_tier = fields.CharField(max_length=64, null=True)
    to_tier = fields.CharField(max_length=64, null=True)
    reason = fields.CharField(max_length=16)
    # MANUAL changes: the admin's reason.
    note = fields.CharField(max_length=500, null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "tier_changes"
        indexes = (("member_id", "id"),)


class TierEntryGrant(Model):
    """A tier's entry reward given to a member: once per member and tier, ever."""

    id = fields.BigIntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="tier_entry_grants", on_delete=fields.RESTRICT
    )
    tier: fields.ForeignKeyRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name="entry_grants", on_delete=fields.RESTRICT
    )
    points = fields.BigIntField(default=0)
    redemption_id = fields.BigIntField(null=True)
    # Why a catalogue reward could not be given (out of stock, inactive); the points were paid.
    reward_failure = fields.CharField(max_length=32, null=True)
    granted_at = fields.DatetimeField()

    class Meta:
        table = "tier_entry_grants"
        unique_together = (("member", "tier"),)


class TierAssignment(Model):
    """A tier set by an admin: a floor under the member's earned tier (they can still earn
    their way above it) from `assigned_at` until `locked_until`, or, without a lock, for as
    long as the downgrade policy keeps a tier reached at that instant (app/domain/tiers.py).
    At most one is live per member (`cleared_at` NULL): a new one or a clear ends the previous.
    Rows are kept: they are part of the history a tier is recomputed from."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="tier_assignments", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="tier_assignments", on_delete=fields.RESTRICT
    )
    tier: fields.ForeignKeyRelation[Tier] = fields.ForeignKeyField(
        "models.Tier", related_name="assignments", on_delete=fields.RESTRICT
    )
    locked_until = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=500)
    assigned_at = fields.DatetimeField()
    cleared_at = fields.DatetimeField(null=True)
    clear_reason = fields.CharField(max_length=500, null=True)

    class Meta:
        table = "tier_assignments"
        indexes = (("member_id", "id"),)
