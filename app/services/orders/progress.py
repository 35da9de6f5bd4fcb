"""An order's payment and delivery, reported after it was recorded; delivery restarts the return
window of its pending points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db import (
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.validation import Checker
from app.services.core.events import append_event
from app.services.orders.cart import check_time
from app.services.orders.service import OrderRecord, get_order, lock_order, order_row
from app.services.programs.service import ProgramScope, require_program
from app.services.referrals.order_rewards import on_order_fulfilled


@dataclass(frozen=True)
class OrderProgressInput:
    program_slug: str
    order_id: str
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = None


async def report_order_progress(data: OrderProgressInput, scope: ProgramScope) -> OrderRecord:
    """Record when an order was paid or delivered; reporting the same time again is harmless.

    Delivery restarts the return window: pending points of the order then mature `pendingDays`
    after delivery (never earlier than they would have from the order time).
    """
    check = Checker()
    for field, moment in (("paidAt", data.paid_at), ("fulfilledAt", data.fulfilled_at)):
        if moment is not None:
            check_time(check, moment, field)
    if data.paid_at is None and data.fulfilled_at is None:
        check.add(ErrorCode.REQUIRED, "give paidAt or fulfilledAt", ["input"])
    check.raise_if_any()
    program = await require_program(data.program_slug, scope)
    order_ref = data.order_id.strip()
    now = utc_now()
    async with in_transaction() as conn:
        order = order_row(await lock_order(conn, program, order_ref))
        changes: dict[str, datetime] = {}
        for column, field, reported, current in (
            ("paid_at", "paidAt", data.paid_at, order.paid_at),
            ("fulfilled_at", "fulfilledAt", data.fulfilled_at, order.fulfilled_at),
        ):
            if reported is None:
                continue
            reported = reported.astimezone(UTC)
            if reported < order.placed_at:
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"{field} is before the order was placed",
                    ["input", field],
                )
            if current is not None and current != reported:
                raise DomainError(
                    ErrorCode.ORDER_PROGRESS_CONFLICT,
                    f"{field} was reported before as {current.isoformat()}",
                    ["input", field],
                )
            if current is None:
                changes[column] = reported
        if not changes:
            return order
        for column, moment in changes.items():
            await fetch_one(
                conn,
                f"UPDATE orders SET {column} = ? WHERE id = ? RETURNING id",
                (moment, order.id),
            )
        fulfilled_at = changes.get("fulfilled_at")
        if fulfilled_at is not None and order.transaction_id is not None:
            await fetch_one(
                conn,
                "UPDATE point_lots SET pending_until = ? WHERE transaction_id = ?"
                " AND pending_until IS NOT NULL AND pending_until < ? RETURNING id",
                (
                    fulfilled_at + timedelta(days=program.pending_days),
                    order.transaction_id,
                    fulfilled_at + timedelta(days=program.pending_days),
                ),
            )
        if fulfilled_at is not None:
            await on_order_fulfilled(
                conn,
                order_pk=order.id,
                pending_until=fulfilled_at + timedelta(days=program.pending_days),
            )
        # A guest order's progress is stored and announces nothing (no member to tell).
        if order.member_id is not None:
            await append_event(
                conn,
                program_id=program.id,
                member_id=order.member_id,
                event_type="order.fulfilled" if fulfilled_at is not None else "order.paid",
                payload={
                    "orderPk": encode_id("Order", order.id),
                    "orderId": order_ref,
                    **{
                        ("paidAt" if column == "paid_at" else "fulfilledAt"): moment.isoformat()
                        for column, moment in changes.items()
                    },
                },
                now=now,
            )
    updated = await get_order(order.id, scope)
    assert updated is not None
    return updated
