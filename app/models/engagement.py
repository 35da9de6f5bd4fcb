from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class Badge(Model):
    """A badge members earn once: by a challenge or a milestone (app/domain/engagement.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="badges", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    image_url = fields.CharField(max_length=2000, null=True)
    # NONE (given by challenges only), FIRST_ORDER, ORDER_COUNT, MEMBER_FOR_DAYS.
    milestone = fields.CharField(max_length=24)
    # The milestone's n (orders, days); 1 for FIRST_ORDER, 0 for NONE.
    threshold = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    archived_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "badges"
        indexes = (("program_id", "milestone"),)


class MemberBadge(Model):
    """A badge a member earned: once per member and badge."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="member_badges", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="badges", on_delete=fields.RESTRICT
    )
    badge: fields.ForeignKeyRelation["Badge"] = fields.ForeignKeyField(
        "models.Badge", related_name="awards", on_delete=fields.RESTRICT
    )
    # What earned it: "challenge:<id>:<period>" or "milestone".
    source = fields.CharField(max_length=128)
    awarded_at = fields.DatetimeField()

    class Meta:
        table = "member_badges"
        unique_together = (("member", "badge"),)


class Challenge(Model):
    """A goal members reach within a window (monthly, optionally) for points and/or a badge."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="challenges", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    goal = fields.CharField(max_length=24)
    target = fields.BigIntField()
    # ACTION_COUNT: the action kind and, optionally, its qualifier ("" for any).
    action = fields.CharField(max_length=32, null=True)
    action_qualifier = fields.CharField(max_length=64, default="")
    recurrence = fields.CharField(max_length=16)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField(null=True)
    points = fields.IntField(default=0)
    badge: fields.ForeignKeyNullableRelation["Badge"] = fields.ForeignKeyField(
        "models.Badge", related_name="challenges", on_delete=fields.RESTRICT, null=True
    )
    status = fields.CharField(max_length=16)
    archived_at = fields.DatetimeField(null=True)
    # Segment keys: only members in one of them progress and see it; [] for every member.
    eligible_segments: Any = fields.JSONField(default=list, db_default="[]")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "challenges"
        indexes = (("program_id", "status", "goal"),)


class ChallengeProgress(Model):
    """A member's progress on one challenge in one period, and its completion."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="challenge_progress", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="challenge_progress", on_delete=fields.RESTRICT
    )
    challenge: fields.ForeignKeyRelation["Challenge"] = fields.ForeignKeyField(
        "models.Challenge", related_name="progress", on_delete=fields.RESTRICT
    )
    period_key = fields.CharField(max_length=16)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField(null=True)
    progress = fields.BigIntField(default=0)
    completed_at = fields.DatetimeField(null=True)
    # The grant's idempotency key (member, challenge, period), set when it completes.
    grant_key = fields.CharField(max_length=128, null=True, unique=True)
    transaction: fields.ForeignKeyNullableRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction",
        related_name="challenge_grants",
        on_delete=fields.RESTRICT,
        null=True,
    )
    updated_at = fields.DatetimeField()

    class Meta:
        table = "challenge_progress"
        unique_together = (("member", "challenge", "period_key"),)


class ChallengeContribution(Model):
    """What one order, action or referral added to a progress row, so that a refund knows what
    to take off and nothing counts twice."""

    id = fields.BigIntField(primary_key=True)
    progress: fields.ForeignKeyRelation["ChallengeProgress"] = fields.ForeignKeyField(
        "models.ChallengeProgress", related_name="contributions", on_delete=fields.RESTRICT
    )
    # "order:<pk>", "action:<pk>", "referral:<pk>".
    source = fields.CharField(max_length=64)
    amount = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "challenge_contributions"
        unique_together = (("progress", "source"),)
        indexes = (("source",),)
