from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class Member(Model):
    """A store customer enrolled in one program, with balances cached from the ledger."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="members", on_delete=fields.RESTRICT
    )
    customer_id = fields.CharField(max_length=128)
    email = fields.CharField(max_length=254, null=True)
    name = fields.CharField(max_length=200, null=True)
    birthday = fields.DateField(null=True)
    enrolled_at = fields.DatetimeField()
    # Caches of the ledger: changed only by services/ledger.py in the same transaction as the
    # entries, and recomputed by `laurel verify-ledger`.
    points_available = fields.BigIntField(default=0)
    points_pending = fields.BigIntField(default=0)
    lifetime_earned = fields.BigIntField(default=0)
    lifetime_redeemed = fields.BigIntField(default=0)

    class Meta:
        table = "members"
        unique_together = (("program", "customer_id"),)
