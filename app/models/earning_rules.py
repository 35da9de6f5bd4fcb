from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class EarningRule(Model):
    """A purchase rule or campaign of a program (its semantics: app/domain/earning.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="earning_rules", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=32)
    multiplier = fields.CharField(max_length=16, null=True)
    points = fields.BigIntField(null=True)
    priority = fields.IntField(default=0)
    exclusive = fields.BooleanField(default=False)
    minimum_order_minor = fields.BigIntField(default=0)
    include_skus: Any = fields.JSONField(default=list)
    include_categories: Any = fields.JSONField(default=list)
    exclude_skus: Any = fields.JSONField(default=list)
    exclude_categories: Any = fields.JSONField(default=list)
    # Hooks for tiers and segments: the rule applies only to members in one of them.
    eligible_tiers: Any = fields.JSONField(default=list)
    eligible_segments: Any = fields.JSONField(default=list)
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    paused = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "earning_rules"
        indexes = (("program_id", "paused"),)
