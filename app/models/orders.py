from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.ledger import LedgerTransaction
    from app.models.members import Member
    from app.models.programs import Program


class Order(Model):
    """An order the store reported, with its lines and what it earned."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="orders", on_delete=fields.RESTRICT
    )
    # NULL for the order of a customer who is not a member (kept for analytics, earning
    # nothing) until the customer enrols and the order is credited (app/services/orders/guests.py).
    member: fields.ForeignKeyNullableRelation["Member"] = fields.ForeignKeyField(
        "models.Member", related_name="orders", on_delete=fields.RESTRICT, null=True
    )
    # The store's customer id as reported with the order (member or not); rewritten when the
    # member is erased. NULL only for orders recorded before migration 0021 of erased members.
    customer_id = fields.CharField(max_length=128, null=True)
    order_id = fields.CharField(max_length=128)
    currency = fields.CharField(max_length=3)
    # Program-currency units per unit of the order's currency, when the two differ.
    exchange_rate = fields.CharField(max_length=32, null=True)
    total_minor = fields.BigIntField()
    shipping_minor = fields.BigIntField(default=0)
    tax_minor = fields.BigIntField(default=0)
    discount_minor = fields.BigIntField(default=0)
    lines: Any = fields.JSONField()
    # Where it was placed: WEB, APP, STORE or MARKETPLACE, and a shop's location.
    channel = fields.CharField(max_length=16, null=True)
    store_location = fields.CharField(max_length=128, null=True)
    request_hash = fields.CharField(max_length=64)
    points_earned = fields.BigIntField()
    # NULL when the order earned nothing (no journal transaction is written for zero points).
    transaction: fields.ForeignKeyNullableRelation["LedgerTransaction"] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="orders", on_delete=fields.RESTRICT, null=True
    )
    # Why the order earned what it did, per line, under the rules of that moment; refunds take
    # back from this, never from a recomputation with today's rules.
    earning: Any = fields.JSONField(null=True)
    status = fields.CharField(max_length=24, default="PLACED")
    # Units refunded so far per line index, and the points taken back so far.
    refunded_quantities: Any = fields.JSONField(default=dict)
    points_refunded = fields.BigIntField(default=0)
    # Points a refund should have taken back but the member had already spent.
    points_unrecovered = fields.BigIntField(default=0)
    # Money refunded so far, in the order's currency: amount refunds add to it, and a refund of
    # every unit sets it to the total.
    refunded_minor = fields.BigIntField(default=0, db_default=0)
    placed_at = fields.DatetimeField()
    # Reported by the store after the order was recorded; the return window runs from delivery.
    paid_at = fields.DatetimeField(null=True)
    fulfilled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "orders"
        unique_together = (("program", "order_id"),)
        # A member's orders by time: tier contributions, and the member list's last-order filter.
        # A program's orders by time: a backtest's pages, in (placed_at, id) order.
        indexes = (
            ("member_id", "placed_at"),
            ("program_id", "customer_id"),
            ("program_id", "placed_at", "id"),
        )
