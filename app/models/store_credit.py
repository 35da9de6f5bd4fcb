from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class StoreCreditMovement(Model):
    """One movement of a member's store credit, beside its journal transaction: what the
    history lists, and for a checkout spend how much of it refunds have given back."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="store_credit_movements", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="store_credit_movements", on_delete=fields.RESTRICT
    )
    transaction: fields.OneToOneRelation["LedgerTransaction"] = fields.OneToOneField(
        "models.LedgerTransaction", related_name="store_credit_movement", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    # Signed change of the balance, in minor units of `currency` (the program's).
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    balance_after_minor = fields.BigIntField()
    reason = fields.CharField(max_length=500)
    # What the credit came from (e.g. a redemption), for credits made by other services.
    source_ref = fields.CharField(max_length=128, null=True)
    order_ref = fields.CharField(max_length=128, null=True)
    # A refund: the spend it gives back.
    spend: fields.ForeignKeyNullableRelation["StoreCreditMovement"] = fields.ForeignKeyField(
        "models.StoreCreditMovement", related_name="refunds", on_delete=fields.RESTRICT, null=True
    )
    # A spend: how much refunds have given back so far (never more than it spent).
    refunded_minor = fields.BigIntField(default=0, db_default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "store_credit_movements"
        indexes = (("member_id", "id"),)
