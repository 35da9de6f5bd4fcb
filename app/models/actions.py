from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class ActionRule(Model):
    """Points for something a member does other than buying (semantics: domain/actions.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="action_rules", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    action = fields.CharField(max_length=32)
    # The social network for follows and shares, or the store's name for a custom event.
    qualifier = fields.CharField(max_length=64, default="")
    points = fields.BigIntField()
    frequency = fields.CharField(max_length=16)
    frequency_limit = fields.IntField(default=1)
    # Most points one member can earn from this rule, ever; NULL means no cap.
    cap_points = fields.BigIntField(null=True)
    paused = fields.BooleanField(default=False)
    # Whether the member may report it from a storefront with a member token (a sign-up).
    self_service = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "action_rules"
        indexes = (("program_id", "action", "qualifier"),)


class ActionRecord(Model):
    """An action a member earned points for (a reference never earns twice)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="action_records", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="action_records", on_delete=fields.RESTRICT
    )
    rule: fields.ForeignKeyRelation[ActionRule] = fields.ForeignKeyField(
        "models.ActionRule", related_name="records", on_delete=fields.RESTRICT
    )
    # The store's id of what was done (a review id): unique per rule and member when given.
    reference = fields.CharField(max_length=128)
    points = fields.BigIntField()
    transaction: fields.ForeignKeyNullableRelation[LedgerTransaction] = fields.ForeignKeyField(
        "models.LedgerTransaction",
        related_name="action_records",
        on_delete=fields.RESTRICT,
        null=True,
    )
    occurred_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "action_records"
        unique_together = (("rule", "member", "reference"),)
        indexes = (("member_id", "rule_id", "occurred_at"),)
