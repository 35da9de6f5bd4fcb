from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program


class LedgerTransaction(Model):
    """One movement of points: a journal transaction whose entries sum to zero."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="ledger_transactions", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="ledger_transactions", on_delete=fields.RESTRICT, null=True
    )
    kind = fields.CharField(max_length=32)
    # Net change of the member's points (available + pending), kept for the activity feed.
    points = fields.BigIntField()
    description = fields.CharField(max_length=500)
    order_ref = fields.CharField(max_length=128, null=True)
    reverses: fields.ForeignKeyNullableRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="reversals", on_delete=fields.RESTRICT, null=True
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_transactions"
        indexes = (("member_id", "id"),)


class LedgerEntry(Model):
    """One leg of a journal transaction on a named account. Never updated or deleted."""

    id = fields.BigIntField(primary_key=True)
    transaction: fields.ForeignKeyRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="entries", on_delete=fields.RESTRICT
    )
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="ledger_entries", on_delete=fields.RESTRICT
    )
    # Program accounts carry the member too, so per-member lifetime figures can be recomputed.
    member: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="ledger_entries", on_delete=fields.RESTRICT, null=True
    )
    account = fields.CharField(max_length=32)
    amount = fields.BigIntField()
    # The last entry of a transaction: a trigger checks that the transaction sums to zero then.
    closes_transaction = fields.BooleanField(default=False)

    class Meta:
        table = "ledger_entries"
        indexes = (("member_id", "account"), ("transaction_id",))


class PointLot(Model):
    """Points earned together, spent oldest-first: the unit that expiry will work on."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="point_lots", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="point_lots", on_delete=fields.RESTRICT
    )
    transaction: fields.ForeignKeyRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="lots", on_delete=fields.RESTRICT
    )
    points = fields.BigIntField()
    remaining = fields.BigIntField()
    expires_at = fields.DatetimeField(null=True)
    # Set while the points are pending (not yet spendable); cleared when they mature.
    pending_until = fields.DatetimeField(null=True)
    # The expiry transaction that took what was left of the lot.
    expired_by: fields.ForeignKeyNullableRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction",
        related_name="expired_lots",
        on_delete=fields.RESTRICT,
        null=True,
    )
    # What expiry took from the lot and no refund of its order has counted yet: a refund takes
    # these back first, so points that already expired are not taken from the member again.
    expired_points = fields.BigIntField(default=0, db_default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "point_lots"
        indexes = (("member_id", "remaining"), ("pending_until",))
