from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class Reward(Model):
    """Something a member can buy with points (`stock` NULL means unlimited)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="rewards", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=32)
    cost_points = fields.BigIntField()
    value_minor = fields.BigIntField(null=True)
    stock = fields.IntField(null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "rewards"


class Redemption(Model):
    """A reward bought with points, carrying the code that the checkout of the store honours."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="redemptions", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="redemptions", on_delete=fields.RESTRICT
    )
    reward: fields.ForeignKeyRelation["Reward"] = fields.ForeignKeyField(
        "models.Reward", related_name="redemptions", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=64, unique=True)
    points_spent = fields.BigIntField()
    status = fields.CharField(max_length=16)
    transaction: fields.ForeignKeyRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="redemptions", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "redemptions"
