"""Refunds and cancellations: take back exactly what the refunded lines or money earned.

By lines. What a line earned is read from the breakdown stored with the order when it earned,
never recomputed with today's rules. Units are taken back in proportion (`refund_share`), so any
sequence of partial refunds takes back at most, and for a full refund exactly, what the order
earned.

By amount. `amount_minor` is money refunded in the order's currency, out of its total (what the
customer paid, `total_minor`, whatever part of it earned). With E the points the order earned,
T its total, R the money refunded before and A this refund, the points taken back are

    min(floor(E x (R + A) / T) - C, E - C), and never below 0,

where C is what refunds of the order have already accounted for (points reversed plus points
unrecovered). The rounding is cumulative, so any split of the money takes back the same points
as one refund of the sum; a refund that brings R + A to T takes back exactly E - C, the rest.
R + A may not pass T (REFUND_EXCEEDS_AMOUNT). Such a refund counts all units as refunded.

Both kinds may follow each other on one order: every refund is capped at E - C, so together
they never take back more than the order earned; a refund of every unit refunds the whole
total too.

Points still pending are taken back first; then available points. Points the member has
already spent (the shortfall) follow the program's `refund_shortfall_policy`: WRITE_OFF records
them on the order as unrecovered and reports them in the `order.refunded` event, for the store
to settle; NEGATIVE_BALANCE takes them all the same, as a debt (MEMBER_DEBT) that the member's
next available points repay first (app/services/ledger/service.py) and that blocks redemptions while
it is owed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, execute, fetch_one, from_json, in_transaction, utc_now
from app.domain.earning import refund_share
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR, MAX_QUANTITY
from app.domain.tiers import TierChangeReason
from app.domain.validation import EXTERNAL_ID_MAX, REASON_MAX, Checker
from app.services.analytics import rollups
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once
from app.services.engagement.progress import on_order_refunded as challenges_on_order_refunded
from app.services.ledger.service import Movement, lock_member_row, post_movement
from app.services.orders.service import OrderRecord, get_order, lock_order
from app.services.programs.service import (
    ProgramRecord,
    ProgramScope,
    RefundShortfallPolicy,
    require_program,
)
from app.services.punch_cards.service import on_order_refunded as punch_cards_on_order_refunded
from app.services.referrals.order_rewards import on_order_refunded
from app.services.tiers.service import on_member_activity as on_tier_activity

_OPERATION = "refundOrder"
MAX_REFUND_LINES = 500


@dataclass(frozen=True)
class RefundLine:
    line_index: int
    quantity: int


@dataclass(frozen=True)
class RefundOrderInput:
    program_slug: str
    order_id: str
    idempotency_key: str
    # None refunds everything not refunded yet (a cancellation when `cancel` is set).
    lines: list[RefundLine] | None = None
    cancel: bool = False
    reason: str | None = None
    # Money refunded, in the order's currency: instead of lines.
    amount_minor: int | None = None


@dataclass(frozen=True)
class RefundResult:
    order: OrderRecord
    points_reversed: int
    points_unrecovered: int
    replayed: bool


def _validate(data: RefundOrderInput) -> None:
    check = Checker()
    check.text(["input", "orderId"], data.order_id, EXTERNAL_ID_MAX)
    check.idempotency_key(data.idempotency_key)
    check.text(["input", "reason"], data.reason, REASON_MAX, required=False)
    if data.amount_minor is not None:
        if data.lines is not None:
            check.add(
                ErrorCode.INVALID_VALUE,
                "refund either lines or an amount, not both",
                ["input", "amountMinor"],
            )
        elif data.cancel:
            check.add(
                ErrorCode.INVALID_VALUE,
                "a cancellation takes back the whole order: omit amountMinor",
                ["input", "amountMinor"],
            )
        check.int_range(
            ["input", "amountMinor"],
            data.amount_minor,
            1,
            MAX_AMOUNT_MINOR,
            ErrorCode.INVALID_AMOUNT,
        )
    if data.lines is not None:
        if not data.lines:
            check.add(ErrorCode.REQUIRED, "name at least one line to refund", ["input", "lines"])
        if len(data.lines) > MAX_REFUND_LINES:
            check.add(ErrorCode.TOO_MANY, "too many refund lines", ["input", "lines"])
        for index, line in enumerate(data.lines[:MAX_REFUND_LINES]):
            check.int_range(
                ["input", "lines", str(index), "quantity"],
                line.quantity,
                1,
                MAX_QUANTITY,
                ErrorCode.INVALID_QUANTITY,
            )
    check.raise_if_any()


def _units_to_refund(
    data: RefundOrderInput, earned_lines: list[dict[str, Any]], refunded: dict[str, int]
) -> dict[int, int]:
    """Units per line index this request refunds, checked against what is left to refund."""
    if data.lines is None:
        return {
            line["index"]: line["quantity"] - refunded.get(str(line["index"]), 0)
            for line in earned_lines
            if line["quantity"] > refunded.get(str(line["index"]), 0)
        }
    by_index = {line["index"]: line for line in earned_lines}
    units: dict[int, int] = {}
    for position, line in enumerate(data.lines):
        field = ["input", "lines", str(position), "lineIndex"]
        if line.line_index not in by_index:
            raise DomainError(
                ErrorCode.LINE_NOT_IN_ORDER,
                f"the order has no line {line.line_index}",
                field,
            )
        units[line.line_index] = units.get(line.line_index, 0) + line.quantity
    for index, quantity in units.items():
        left = by_index[index]["quantity"] - refunded.get(str(index), 0)
        if quantity > left:
            raise DomainError(
                ErrorCode.REFUND_EXCEEDS_QUANTITY,
                f"line {index} has {left} unit(s) left to refund, not {quantity}",
                ["input", "lines"],
            )
    return units


def _every_unit_refunded(earned_lines: list[dict[str, Any]], refunded: dict[str, int]) -> bool:
    return all(refunded.get(str(line["index"]), 0) >= line["quantity"] for line in earned_lines)


def _points_of_units(
    earning: dict[str, Any], units: dict[int, int], refunded: dict[str, int]
) -> int:
    """What refunding `units` takes back by the stored breakdown; records them in `refunded`."""
    points_back = 0
    by_index = {line["index"]: line for line in earning["lines"]}
    for index, quantity in sorted(units.items()):
        line = by_index[index]
        before = refunded.get(str(index), 0)
        points_back += refund_share(line["points"], line["quantity"], before, quantity)
        refunded[str(index)] = before + quantity
    if _every_unit_refunded(earning["lines"], refunded) and any(units.values()):
        # Shipping and tax points go with the last units of the order.
        points_back += sum(c["points"] for c in earning["orderComponents"])
    return points_back


def _add_amount(
    order_ref: str,
    total: int,
    refunded_before: int,
    amount: int,
    earning: dict[str, Any],
    refunded: dict[str, int],
) -> int:
    """The money refunded after this amount refund, checked against what is left of the total."""
    left = total - refunded_before
    if left <= 0 or _every_unit_refunded(earning["lines"], refunded):
        raise DomainError(
            ErrorCode.ORDER_ALREADY_REFUNDED,
            f"order {order_ref!r} has been refunded in full already",
            ["input", "orderId"],
        )
    if amount > left:
        raise DomainError(
            ErrorCode.REFUND_EXCEEDS_AMOUNT,
            f"{left} of the order's {total} minor units are left to refund, not {amount}",
            ["input", "amountMinor"],
        )
    return refunded_before + amount


@dataclass(frozen=True)
class _Refunded:
    """What one refund did: the answer a replay of its key gives again."""

    order_pk: int
    points_reversed: int
    points_unrecovered: int


async def refund_order(data: RefundOrderInput, scope: ProgramScope) -> RefundResult:
    _validate(data)
    program = await require_program(data.program_slug, scope)
    order_ref = data.order_id.strip()
    request = IdempotentRequest.of(
        scope=str(program.id),
        key=data.idempotency_key,
        operation=_OPERATION,
        payload={
            "orderId": order_ref,
            "lines": None
            if data.lines is None
            else [[line.line_index, line.quantity] for line in data.lines],
            "cancel": data.cancel,
            **({} if data.amount_minor is None else {"amountMinor": data.amount_minor}),
        },
    )
    now = utc_now()
    async with in_transaction() as conn:
        outcome = await run_once(
            conn,
            request,
            now=now,
            perform=lambda: _refund(conn, program, data, order_ref, now),
            remember=lambda refunded: {
                "orderPk": refunded.order_pk,
                "pointsReversed": refunded.points_reversed,
                "pointsUnrecovered": refunded.points_unrecovered,
            },
            replay=_stored_refund,
        )
    order = await get_order(outcome.value.order_pk, scope)
    assert order is not None
    return RefundResult(
        order=order,
        points_reversed=outcome.value.points_reversed,
        points_unrecovered=outcome.value.points_unrecovered,
        replayed=outcome.replayed,
    )


async def _stored_refund(stored: dict[str, Any]) -> _Refunded:
    return _Refunded(
        order_pk=int(stored["orderPk"]),
        points_reversed=int(stored["pointsReversed"]),
        points_unrecovered=int(stored["pointsUnrecovered"]),
    )


@dataclass(frozen=True)
class _RefundPlan:
    """What a refund takes back, worked out from the locked order before anything moves."""

    units: dict[int, int]
    points_back: int
    # Units refunded per line index, this refund's included.
    refunded_quantities: dict[str, int]
    refunded_minor: int
    fully_refunded: bool


def _plan_refund(data: RefundOrderInput, order_ref: str, locked: dict[str, Any]) -> _RefundPlan:
    earning = from_json(locked["earning"]) or {"lines": [], "orderComponents": []}
    refunded: dict[str, int] = from_json(locked["refunded_quantities"]) or {}
    accounted = int(locked["points_refunded"]) + int(locked["points_unrecovered"])
    points_left = max(int(locked["points_earned"]) - accounted, 0)
    total = int(locked["total_minor"])
    if data.amount_minor is None:
        units = _units_to_refund(data, earning["lines"], refunded)
        if not units:
            raise DomainError(
                ErrorCode.ORDER_ALREADY_REFUNDED,
                f"every unit of order {order_ref!r} has been refunded already",
                ["input", "orderId"],
            )
        points_back = _points_of_units(earning, units, refunded)
        fully_refunded = _every_unit_refunded(earning["lines"], refunded)
        refunded_minor = total if fully_refunded else int(locked["refunded_minor"])
    else:
        refunded_minor = _add_amount(
            order_ref,
            total,
            int(locked["refunded_minor"]),
            data.amount_minor,
            earning,
            refunded,
        )
        fully_refunded = refunded_minor == total
        units = {}
        if fully_refunded:
            units = _units_to_refund(data, earning["lines"], refunded)
            for index, quantity in units.items():
                refunded[str(index)] = refunded.get(str(index), 0) + quantity
            points_back = points_left
        else:
            share = int(locked["points_earned"]) * refunded_minor // total
            points_back = max(share - accounted, 0)
    return _RefundPlan(
        units=units,
        points_back=min(points_back, points_left),
        refunded_quantities=refunded,
        refunded_minor=refunded_minor,
        fully_refunded=fully_refunded,
    )


async def _refund(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    data: RefundOrderInput,
    order_ref: str,
    now: datetime,
) -> _Refunded:
    # Locked, so concurrent refunds of one order see each other's refunded quantities.
    locked = await lock_order(
        conn,
        program,
        order_ref,
        "id, member_id, earning, refunded_quantities, transaction_id, total_minor,"
        " refunded_minor, points_earned, points_refunded, points_unrecovered, placed_at,"
        " currency, exchange_rate, channel",
    )
    plan = _plan_refund(data, order_ref, locked)
    order_pk = int(locked["id"])
    await _count_refund(conn, program, locked, plan.refunded_minor)
    if locked["member_id"] is None:
        # A guest order: no points, no member, no event; the money refunded counts.
        await _update_order(conn, order_pk, data, plan, 0, 0)
        return _Refunded(order_pk=order_pk, points_reversed=0, points_unrecovered=0)
    member_id = int(locked["member_id"])
    reversed_points, unrecovered = await _take_back(
        conn,
        program_id=program.id,
        member_id=member_id,
        transaction_id=locked["transaction_id"],
        points=plan.points_back,
        order_ref=order_ref,
        policy=program.refund_shortfall_policy,
        now=now,
    )
    # A fully refunded or cancelled order cancels its referral rewards still pending.
    await on_order_refunded(
        conn, order_pk=order_pk, fully_refunded=plan.fully_refunded or data.cancel, now=now
    )
    # Punches of refunded lines come off the member's punch cards (services/punch_cards.py).
    await punch_cards_on_order_refunded(
        conn,
        program_id=program.id,
        member_id=member_id,
        order_pk=order_pk,
        refunded_quantities=plan.refunded_quantities,
        now=now,
    )
    # The order's contributions to challenges not yet completed shrink with it.
    await challenges_on_order_refunded(
        conn,
        member_id=member_id,
        order_pk=order_pk,
        total_minor=int(locked["total_minor"]),
        refunded_before_minor=int(locked["refunded_minor"]),
        refunded_after_minor=plan.refunded_minor,
        whole_order=plan.fully_refunded or data.cancel,
        now=now,
    )
    status = await _update_order(conn, order_pk, data, plan, reversed_points, unrecovered)
    # The refunded money and points stop counting in the order's tier period.
    await on_tier_activity(
        conn,
        program_id=program.id,
        member_id=member_id,
        reason=TierChangeReason.REFUND,
        now=now,
    )
    await append_event(
        conn,
        program_id=program.id,
        member_id=member_id,
        event_type="order.cancelled" if data.cancel else "order.refunded",
        payload={
            "orderPk": encode_id("Order", order_pk),
            "orderId": order_ref,
            "lines": [{"lineIndex": i, "quantity": q} for i, q in sorted(plan.units.items())],
            **({} if data.amount_minor is None else {"amountMinor": data.amount_minor}),
            "refundedMinor": plan.refunded_minor,
            "pointsReversed": reversed_points,
            "pointsUnrecovered": unrecovered,
            "status": status,
            **({"reason": data.reason.strip()} if data.reason and data.reason.strip() else {}),
        },
        now=now,
    )
    return _Refunded(
        order_pk=order_pk, points_reversed=reversed_points, points_unrecovered=unrecovered
    )


async def _update_order(
    conn: BaseDBAsyncClient,
    order_pk: int,
    data: RefundOrderInput,
    plan: _RefundPlan,
    reversed_points: int,
    unrecovered: int,
) -> str:
    """Record the refund on the order; returns its new status."""
    if data.cancel:
        status = "CANCELLED"
    else:
        status = "REFUNDED" if plan.fully_refunded else "PARTIALLY_REFUNDED"
    await fetch_one(
        conn,
        "UPDATE orders SET refunded_quantities = ?, points_refunded = points_refunded + ?,"
        " points_unrecovered = points_unrecovered + ?, refunded_minor = ?, status = ?"
        " WHERE id = ? RETURNING id",
        (
            json.dumps(plan.refunded_quantities),
            reversed_points,
            unrecovered,
            plan.refunded_minor,
            status,
            order_pk,
        ),
    )
    return status


async def _count_refund(
    conn: BaseDBAsyncClient, program: ProgramRecord, locked: dict[str, Any], refunded_minor: int
) -> None:
    """The money refunded, in the rollup of the day the order was placed: the difference of
    the order's refunded total in the program's currency, before and after."""

    def converted(amount: int) -> int:
        return rollups.in_program_currency(
            amount, locked["currency"], program.currency, locked["exchange_rate"]
        )

    await rollups.add(
        conn,
        program.id,
        local_date(as_datetime(locked["placed_at"]), program.time_zone),
        rollups.order_counts(
            member=locked["member_id"] is not None,
            channel=locked["channel"],
            orders=0,
            revenue_minor=0,
            refunded_minor=converted(refunded_minor) - converted(int(locked["refunded_minor"])),
        ),
    )


async def _take_back(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    transaction_id: int | None,
    points: int,
    order_ref: str,
    policy: RefundShortfallPolicy,
    now: datetime,
) -> tuple[int, int]:
    """Reverse `points` of an order: its pending points first, then its points that already
    expired (expiry took them from the member once), then available points, then, under the
    NEGATIVE_BALANCE policy, what is still short as a debt; returns (taken, unrecovered)."""
    if points == 0 or transaction_id is None:
        return 0, 0
    # Lock the member row first (as maturing does): the lots and the balance read below stay
    # as they are until this transaction ends.
    member = await lock_member_row(conn, member_id, "points_available")
    assert member is not None
    left = await _take_back_from_lots(
        conn,
        program_id=program_id,
        member_id=member_id,
        transaction_id=transaction_id,
        points=points,
        order_ref=order_ref,
        now=now,
    )
    if left == 0:
        return points, 0
    member = await fetch_one(
        conn, "SELECT points_available FROM members WHERE id = ?", (member_id,)
    )
    assert member is not None
    from_available = min(left, int(member["points_available"]))
    if from_available > 0:
        await _post_refund(
            conn,
            program_id=program_id,
            member_id=member_id,
            points=from_available,
            description=f"Refund of order {order_ref}",
            order_ref=order_ref,
            now=now,
        )
    shortfall = left - from_available
    if shortfall == 0:
        return points, 0
    if policy is not RefundShortfallPolicy.NEGATIVE_BALANCE:
        return points - shortfall, shortfall
    await _post_refund(
        conn,
        program_id=program_id,
        member_id=member_id,
        points=shortfall,
        member_account=Account.MEMBER_DEBT,
        description=f"Refund of order {order_ref}: {shortfall} points already spent, owed",
        order_ref=order_ref,
        now=now,
    )
    return points, 0


async def _take_back_from_lots(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    transaction_id: int,
    points: int,
    order_ref: str,
    now: datetime,
) -> int:
    """Take back what the order's own lot still holds pending, then what of it expired; returns
    the points still to take back."""
    left = points
    pending_lot = await fetch_one(
        conn,
        "SELECT id, remaining FROM point_lots WHERE transaction_id = ?"
        " AND pending_until IS NOT NULL",
        (transaction_id,),
    )
    if pending_lot is not None and int(pending_lot["remaining"]) > 0:
        from_pending = min(left, int(pending_lot["remaining"]))
        await _post_refund(
            conn,
            program_id=program_id,
            member_id=member_id,
            points=from_pending,
            member_account=Account.MEMBER_PENDING,
            lot_id=int(pending_lot["id"]),
            description=f"Refund of order {order_ref} (pending points)",
            order_ref=order_ref,
            now=now,
        )
        left -= from_pending
    # Points of the order that already expired left the member once: they count as taken.
    expired_lot = await fetch_one(
        conn,
        "SELECT id, expired_points FROM point_lots WHERE transaction_id = ? AND expired_points > 0",
        (transaction_id,),
    )
    if left and expired_lot is not None:
        from_expired = min(left, int(expired_lot["expired_points"]))
        await execute(
            conn,
            "UPDATE point_lots SET expired_points = expired_points - ? WHERE id = ?",
            (from_expired, expired_lot["id"]),
        )
        left -= from_expired
    return left


async def _post_refund(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    points: int,
    description: str,
    order_ref: str,
    now: datetime,
    member_account: Account = Account.MEMBER_AVAILABLE,
    lot_id: int | None = None,
) -> None:
    """Take `points` of an order back off one of the member's accounts."""
    await post_movement(
        conn,
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=TransactionKind.REFUND,
            points=-points,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=member_account,
            lot_id=lot_id,
            description=description,
            order_ref=order_ref,
        ),
        now,
    )
