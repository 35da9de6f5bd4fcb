"""Orders reported by the store, and the points they earn.

The order's own id is its natural idempotency key: a second report with the same content
returns the first result and earns nothing; with other content it is refused.

An order in another currency than the program's is converted with the rate given with it, or
else with the rate the program configures for that currency (`programs.exchange_rates`); the
rate used is stored with the order. A member who opted out has the order recorded with no
points, and its breakdown says why (`noPointsReason`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    connection,
    execute,
    fetch_one,
    in_transaction,
    utc_now,
)
from app.domain.earning import CartLine, Earning, MemberAttributes, PurchaseRule, without_points
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import (
    MAX_AMOUNT_MINOR,
    MAX_EXCHANGE_RATE,
    MAX_POINTS_PER_MOVEMENT,
    MAX_QUANTITY,
    MIN_EXCHANGE_RATE,
    convert_minor,
    is_known_currency,
    parse_exchange_rate,
)
from app.domain.tiers import TierChangeReason
from app.domain.validation import EXTERNAL_ID_MAX, IDEMPOTENCY_KEY_MAX, Checker
from app.rows import RowMapper
from app.services.core import idempotency
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once
from app.services.ledger.service import Movement, post_movement
from app.services.orders.earning import earn, earning_json
from app.services.orders.earning_rules import active_purchase_rules
from app.services.programs.service import ProgramRecord, ProgramScope, in_scope, require_program
from app.services.punch_cards.service import on_order_recorded as punch_cards_on_order_recorded
from app.services.referrals.order_rewards import on_order_fulfilled, on_order_recorded
from app.services.tiers.service import member_attributes as tier_attributes
from app.services.tiers.service import on_member_activity as on_tier_activity

MAX_LINES = 500
EARLIEST_ORDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of the shop and of Laurel disagree a little; an order from tomorrow is a mistake.
ORDER_CLOCK_SKEW = timedelta(days=1)
_OPERATION = "recordOrder"
NO_POINTS_OPTED_OUT = "MEMBER_OPTED_OUT"


@dataclass(frozen=True)
class OrderLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None


@dataclass(frozen=True)
class RecordOrderInput:
    program_slug: str
    customer_id: str
    order_id: str
    currency: str
    total_minor: int
    lines: list[OrderLineInput]
    placed_at: datetime
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    idempotency_key: str | None = None
    # Program-currency units per unit of `currency`, for an order in another currency.
    exchange_rate: str | None = None
    # Money of the order paid with points or store credit: earns only if the program says so.
    paid_with_points_minor: int = 0
    paid_with_store_credit_minor: int = 0


@dataclass(frozen=True)
class OrderRecord:
    id: int
    program_id: int
    member_id: int
    order_id: str
    currency: str
    total_minor: int
    points_earned: int
    transaction_id: int | None
    placed_at: datetime
    created_at: datetime
    # The stored breakdown (services/earning.py `earning_json`).
    earning: dict[str, Any] | None
    status: str
    points_refunded: int
    points_unrecovered: int
    exchange_rate: str | None
    paid_at: datetime | None
    fulfilled_at: datetime | None
    refunded_minor: int


@dataclass(frozen=True)
class RecordedOrder:
    order: OrderRecord
    # True when this call found the order already recorded and wrote nothing.
    already_recorded: bool


_record = RowMapper(OrderRecord)


async def get_order(order_pk: int, scope: ProgramScope) -> OrderRecord | None:
    row = await fetch_one(
        connection(), f"SELECT {_record.columns} FROM orders WHERE id = ?", (order_pk,)
    )
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _record(row)


def _check_cart(
    check: Checker,
    *,
    currency: str,
    program_currency: str,
    lines: Sequence[OrderLineInput],
    amounts: dict[str, int],
    exchange_rate: str | None,
    configured_rate: str | None = None,
) -> int:
    """Check what an order and a cart preview share; returns the lines' total.

    `configured_rate` is the program's rate for the order's currency, used when the order
    gives none.
    """
    normalised = currency.strip().upper()
    if not is_known_currency(normalised):
        check.add(
            ErrorCode.UNKNOWN_CURRENCY,
            f"{currency!r} is not an ISO 4217 currency code",
            ["input", "currency"],
        )
    elif normalised != program_currency and exchange_rate is None and configured_rate is None:
        check.add(
            ErrorCode.CURRENCY_MISMATCH,
            f"the program counts in {program_currency}, the order is in {normalised}:"
            f" give exchangeRate (the program has no rate for {normalised})",
            ["input", "currency"],
        )
    elif normalised == program_currency and exchange_rate is not None:
        check.add(
            ErrorCode.INVALID_VALUE,
            "exchangeRate is only for orders in another currency than the program's",
            ["input", "exchangeRate"],
        )
    elif exchange_rate is not None and parse_exchange_rate(exchange_rate) is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"exchangeRate must be a decimal between {MIN_EXCHANGE_RATE} and"
            f" {MAX_EXCHANGE_RATE} with at most 10 significant digits",
            ["input", "exchangeRate"],
        )
    for name, value in amounts.items():
        check.int_range(["input", name], value, 0, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT)
    if not lines:
        check.add(ErrorCode.REQUIRED, "an order needs at least one line", ["input", "lines"])
    if len(lines) > MAX_LINES:
        check.add(ErrorCode.TOO_MANY, f"an order has at most {MAX_LINES} lines", ["input", "lines"])
        return 0
    lines_total = 0
    for index, line in enumerate(lines):
        path = ["input", "lines", str(index)]
        check.text([*path, "sku"], line.sku, EXTERNAL_ID_MAX)
        check.text([*path, "category"], line.category, EXTERNAL_ID_MAX, required=False)
        check.int_range(
            [*path, "quantity"], line.quantity, 1, MAX_QUANTITY, ErrorCode.INVALID_QUANTITY
        )
        # A zero price is a free gift line; negative prices belong in discountMinor.
        check.int_range(
            [*path, "unitPriceMinor"],
            line.unit_price_minor,
            0,
            MAX_AMOUNT_MINOR,
            ErrorCode.INVALID_AMOUNT,
        )
        lines_total += line.quantity * line.unit_price_minor
    return lines_total


def _check_time(check: Checker, moment: datetime, field: str) -> None:
    if moment.tzinfo is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} needs a time zone, e.g. 2026-11-20T10:00:00Z",
            ["input", field],
        )
    elif not EARLIEST_ORDER_TIME <= moment <= utc_now() + ORDER_CLOCK_SKEW:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} must be after 2000 and not in the future",
            ["input", field],
        )


def _check_placed_at(check: Checker, placed_at: datetime) -> None:
    _check_time(check, placed_at, "placedAt")


def _check_payments(check: Checker, points_minor: int, store_credit_minor: int, total: int) -> None:
    """Money paid with points and with store credit: each, and both together, within the total."""
    for name, value in (
        ("paidWithPointsMinor", points_minor),
        ("paidWithStoreCreditMinor", store_credit_minor),
    ):
        check.int_range(["input", name], value, 0, max(total, 0), ErrorCode.INVALID_AMOUNT)
    within = 0 <= points_minor <= total and 0 <= store_credit_minor <= total
    if within and points_minor + store_credit_minor > total:
        check.add(
            ErrorCode.INVALID_AMOUNT,
            f"paidWithPointsMinor + paidWithStoreCreditMinor is more than the total {total}",
            ["input", "paidWithStoreCreditMinor"],
        )


def _configured_rate(program: ProgramRecord, currency: str) -> str | None:
    """The program's rate for `currency`, normalised; None when it has no usable one."""
    currency = currency.strip().upper()
    if currency == program.currency:
        return None
    configured = program.exchange_rates.get(currency)
    parsed = None if configured is None else parse_exchange_rate(configured)
    return None if parsed is None else str(parsed)


def _validate(
    data: RecordOrderInput, program_currency: str, configured_rate: str | None
) -> Checker:
    check = Checker()
    check.text(["input", "customerId"], data.customer_id, EXTERNAL_ID_MAX)
    check.text(["input", "orderId"], data.order_id, EXTERNAL_ID_MAX)
    if data.idempotency_key is not None:
        check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    check.int_range(
        ["input", "totalMinor"], data.total_minor, 1, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT
    )
    lines_total = _check_cart(
        check,
        currency=data.currency,
        program_currency=program_currency,
        lines=data.lines,
        amounts={
            "shippingMinor": data.shipping_minor,
            "taxMinor": data.tax_minor,
            "discountMinor": data.discount_minor,
        },
        exchange_rate=data.exchange_rate,
        configured_rate=configured_rate,
    )
    _check_placed_at(check, data.placed_at)
    expected = lines_total + data.shipping_minor + data.tax_minor - data.discount_minor
    if not check.errors and expected != data.total_minor:
        check.add(
            ErrorCode.LINES_TOTAL_MISMATCH,
            f"lines + shipping + tax - discount = {expected}, but totalMinor is {data.total_minor}",
            ["input", "totalMinor"],
        )
    _check_payments(
        check, data.paid_with_points_minor, data.paid_with_store_credit_minor, data.total_minor
    )
    return check


def _fingerprint(data: RecordOrderInput) -> str:
    """Of the normalised input, so the same order written differently still matches."""
    payload = asdict(data)
    payload.pop("idempotency_key")
    # Left out at their default, so orders recorded before these fields keep their fingerprint.
    for name in ("paid_with_points_minor", "paid_with_store_credit_minor"):
        if not payload[name]:
            payload.pop(name)
    payload["placed_at"] = data.placed_at.isoformat()
    return idempotency.request_fingerprint(_OPERATION, payload)


async def _existing(program_id: int, order_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        connection(),
        # With the request hash, which a second report of the order is compared to.
        f"SELECT {_record.columns}, request_hash FROM orders WHERE program_id = ? AND order_id = ?",
        (program_id, order_id),
    )


def _replay(row: dict[str, Any], fingerprint: str) -> RecordedOrder:
    if row["request_hash"] != fingerprint:
        raise DomainError(
            ErrorCode.ORDER_ALREADY_RECORDED,
            f"order {row['order_id']!r} was already recorded with different content",
            ["input", "orderId"],
        )
    return RecordedOrder(order=_record(row), already_recorded=True)


def _earn_in_program_currency(
    program: ProgramRecord,
    rules: Sequence[PurchaseRule],
    *,
    currency: str,
    exchange_rate: str | None,
    lines: Sequence[OrderLineInput],
    shipping_minor: int,
    tax_minor: int,
    discount_minor: int,
    placed_at: datetime,
    member: MemberAttributes | None,
    paid_with_points_minor: int = 0,
    paid_with_store_credit_minor: int = 0,
    earn_on_points_payments: bool = False,
) -> Earning:
    """Earn on the cart converted into the program's currency (unit prices and amounts each
    converted and rounded half to even) when the order is in another currency."""
    rate = None if exchange_rate is None else parse_exchange_rate(exchange_rate)

    def converted(amount: int) -> int:
        if rate is None:
            return amount
        return convert_minor(amount, currency, program.currency, rate)

    return earn(
        program,
        rules,
        lines=[
            CartLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=converted(line.unit_price_minor),
                category=line.category,
            )
            for line in lines
        ],
        shipping_minor=converted(shipping_minor),
        tax_minor=converted(tax_minor),
        discount_minor=converted(discount_minor),
        placed_at=placed_at,
        member=member,
        paid_with_points_minor=converted(paid_with_points_minor),
        paid_with_store_credit_minor=converted(paid_with_store_credit_minor),
        earn_on_points_payments=earn_on_points_payments,
    )


def _check_points_limit(points: int) -> None:
    if points > MAX_POINTS_PER_MOVEMENT:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"the order would earn {points} points, more than {MAX_POINTS_PER_MOVEMENT}",
            ["input", "totalMinor"],
        )


class _OrderExistsError(Exception):
    """Raised inside the transaction to roll back a request whose order is already recorded."""


def _normalised(data: RecordOrderInput) -> RecordOrderInput:
    """The input as it is stored and compared: trimmed ids, upper-case currency, UTC time."""
    return replace(
        data,
        program_slug=data.program_slug.strip(),
        customer_id=data.customer_id.strip(),
        order_id=data.order_id.strip(),
        currency=data.currency.strip().upper(),
        placed_at=data.placed_at.astimezone(UTC),
        lines=[
            replace(
                line,
                sku=line.sku.strip(),
                category=line.category.strip() if line.category and line.category.strip() else None,
            )
            for line in data.lines
        ],
        idempotency_key=data.idempotency_key.strip() if data.idempotency_key else None,
        exchange_rate=(
            None if data.exchange_rate is None else str(parse_exchange_rate(data.exchange_rate))
        ),
    )


async def record_order(data: RecordOrderInput, scope: ProgramScope) -> RecordedOrder:
    """Record an order and earn its points, or replay the recorded one.

    The order row is the first write of the transaction: its unique (program, order id) index
    decides between concurrent reports of one order before any points move, so a duplicate
    report costs one statement, not a rolled-back ledger movement.
    """
    program = await require_program(data.program_slug, scope)
    configured_rate = _configured_rate(program, data.currency)
    _validate(data, program.currency, configured_rate).raise_if_any()
    data = _normalised(data)
    member = await _ordering_member(program, data.customer_id)
    fingerprint = _fingerprint(data)
    existing = await _existing(program.id, data.order_id)
    if existing is not None:
        return _replay(existing, fingerprint)
    exchange_rate = data.exchange_rate or configured_rate
    earning, no_points_reason = await _order_earning(program, data, member, exchange_rate)
    _check_points_limit(earning.points)
    now = utc_now()
    try:
        async with in_transaction() as conn:

            async def perform() -> OrderRecord:
                order = await _insert_order(
                    conn,
                    program,
                    member.id,
                    data,
                    fingerprint=fingerprint,
                    earning=earning,
                    no_points_reason=no_points_reason,
                    exchange_rate=exchange_rate,
                    now=now,
                )
                order = await _earn_order_points(conn, program, order, data.placed_at, now)
                await _announce_order(conn, program, order, data, exchange_rate, now)
                return order

            if data.idempotency_key is None:
                return RecordedOrder(order=await perform(), already_recorded=False)

            async def replay(stored: dict[str, Any]) -> OrderRecord:
                replayed = await get_order(int(stored["orderPk"]), scope)
                assert replayed is not None
                return replayed

            outcome = await run_once(
                conn,
                IdempotentRequest(
                    scope=str(program.id),
                    key=data.idempotency_key,
                    operation=_OPERATION,
                    fingerprint=fingerprint,
                ),
                now=now,
                perform=perform,
                remember=lambda order: {"orderPk": order.id},
                replay=replay,
            )
    except _OrderExistsError:
        # Another request recorded this order after our first look; ours wrote nothing.
        existing = await _existing(program.id, data.order_id)
        assert existing is not None
        return _replay(existing, fingerprint)
    return RecordedOrder(order=outcome.value, already_recorded=outcome.replayed)


@dataclass(frozen=True)
class _OrderingMember:
    id: int
    opted_out: bool


async def _ordering_member(program: ProgramRecord, customer_id: str) -> _OrderingMember:
    member = await fetch_one(
        connection(),
        "SELECT id, opted_out_at FROM members WHERE program_id = ? AND customer_id = ?",
        (program.id, customer_id),
    )
    if member is None:
        raise DomainError(
            ErrorCode.MEMBER_NOT_FOUND,
            f"customer {customer_id!r} is not a member of {program.slug!r}",
            ["input", "customerId"],
        )
    return _OrderingMember(id=int(member["id"]), opted_out=member["opted_out_at"] is not None)


async def _order_earning(
    program: ProgramRecord,
    data: RecordOrderInput,
    member: _OrderingMember,
    exchange_rate: str | None,
) -> tuple[Earning, str | None]:
    """What the order earns, and why it earns nothing when the member opted out."""
    earning = _earn_in_program_currency(
        program,
        await active_purchase_rules(program.id),
        currency=data.currency,
        exchange_rate=exchange_rate,
        lines=data.lines,
        shipping_minor=data.shipping_minor,
        tax_minor=data.tax_minor,
        discount_minor=data.discount_minor,
        placed_at=data.placed_at,
        # Segments have not landed yet: segment-restricted rules wait.
        member=await tier_attributes(program.id, member.id),
        paid_with_points_minor=data.paid_with_points_minor,
        paid_with_store_credit_minor=data.paid_with_store_credit_minor,
        earn_on_points_payments=program.earn_on_points_payments,
    )
    if member.opted_out:
        return without_points(earning), NO_POINTS_OPTED_OUT
    return earning, None


async def _insert_order(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    member_id: int,
    data: RecordOrderInput,
    *,
    fingerprint: str,
    earning: Earning,
    no_points_reason: str | None,
    exchange_rate: str | None,
    now: datetime,
) -> OrderRecord:
    """The order row, or _OrderExistsError when a concurrent report recorded it first."""
    row = await fetch_one(
        conn,
        "INSERT INTO orders (program_id, member_id, order_id, currency, total_minor,"
        " shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,"
        " transaction_id, placed_at, created_at, earning, status, refunded_quantities,"
        " points_refunded, points_unrecovered, exchange_rate)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'PLACED', '{}', 0, 0, ?)"
        f" ON CONFLICT (program_id, order_id) DO NOTHING RETURNING {_record.columns}",
        (
            program.id,
            member_id,
            data.order_id,
            data.currency,
            data.total_minor,
            data.shipping_minor,
            data.tax_minor,
            data.discount_minor,
            json.dumps([asdict(line) for line in data.lines], separators=(",", ":")),
            fingerprint,
            earning.points,
            data.placed_at,
            now,
            json.dumps(earning_json(earning, no_points_reason), separators=(",", ":")),
            exchange_rate,
        ),
    )
    if row is None:
        raise _OrderExistsError
    return _record(row)


async def _earn_order_points(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    order: OrderRecord,
    placed_at: datetime,
    now: datetime,
) -> OrderRecord:
    """Post the order's points, pending until the return window closes."""
    if order.points_earned <= 0:
        return order
    pending_until = placed_at + timedelta(days=program.pending_days)
    is_pending = pending_until > now
    posted = await post_movement(
        conn,
        Movement(
            program_id=program.id,
            member_id=order.member_id,
            kind=TransactionKind.EARN_ORDER,
            points=order.points_earned,
            counter_account=Account.PROGRAM_ISSUED,
            member_account=(Account.MEMBER_PENDING if is_pending else Account.MEMBER_AVAILABLE),
            pending_until=pending_until if is_pending else None,
            description=f"Order {order.order_id}",
            order_ref=order.order_id,
            event_details={"orderPk": encode_id("Order", order.id)},
            expiry=program.expiry,
        ),
        now,
    )
    await execute(
        conn,
        "UPDATE orders SET transaction_id = ? WHERE id = ?",
        (posted.transaction_id, order.id),
    )
    return replace(order, transaction_id=posted.transaction_id)


async def _announce_order(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    order: OrderRecord,
    data: RecordOrderInput,
    exchange_rate: str | None,
    now: datetime,
) -> None:
    """The order's event, and what else a recorded order moves: referrals, punch cards, tiers."""
    await append_event(
        conn,
        program_id=program.id,
        member_id=order.member_id,
        event_type="order.recorded",
        payload={
            "orderPk": encode_id("Order", order.id),
            "orderId": data.order_id,
            "memberId": encode_id("Member", order.member_id),
            "currency": data.currency,
            "totalMinor": data.total_minor,
            "pointsEarned": order.points_earned,
        },
        now=now,
    )
    # A referred friend's order may earn referral rewards (the referrals service).
    await on_order_recorded(
        conn,
        program=program,
        member_id=order.member_id,
        order_pk=order.id,
        total_minor=data.total_minor,
        currency=data.currency,
        exchange_rate=exchange_rate,
        placed_at=data.placed_at,
        now=now,
    )
    # Qualifying lines punch the member's punch cards (app/services/punch_cards/service.py).
    await punch_cards_on_order_recorded(
        conn,
        program_id=program.id,
        member_id=order.member_id,
        order_pk=order.id,
        order_ref=data.order_id,
        lines=data.lines,
        now=now,
    )
    # Tier progress counts the order (the tier it may reach applies from the next one).
    await on_tier_activity(
        conn,
        program_id=program.id,
        member_id=order.member_id,
        reason=TierChangeReason.ORDER,
        now=now,
    )


@dataclass(frozen=True)
class CartPreviewInput:
    program_slug: str
    currency: str
    lines: list[OrderLineInput]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    placed_at: datetime | None = None
    exchange_rate: str | None = None
    paid_with_points_minor: int = 0
    paid_with_store_credit_minor: int = 0
    # A member session previews as its member: their tier's rules and multiplier apply.
    member_id: int | None = None


async def preview_order(data: CartPreviewInput, scope: ProgramScope) -> Earning:
    """What a cart would earn now (or at `placed_at`), with its breakdown; writes nothing."""
    program = await require_program(data.program_slug, scope)
    configured_rate = _configured_rate(program, data.currency)
    check = Checker()
    lines_total = _check_cart(
        check,
        currency=data.currency,
        program_currency=program.currency,
        lines=data.lines,
        amounts={
            "shippingMinor": data.shipping_minor,
            "taxMinor": data.tax_minor,
            "discountMinor": data.discount_minor,
        },
        exchange_rate=data.exchange_rate,
        configured_rate=configured_rate,
    )
    placed_at = data.placed_at or utc_now()
    _check_placed_at(check, placed_at)
    if lines_total + data.shipping_minor + data.tax_minor > MAX_AMOUNT_MINOR:
        check.add(
            ErrorCode.INVALID_AMOUNT,
            f"the cart comes to more than {MAX_AMOUNT_MINOR} minor units",
            ["input", "lines"],
        )
    if not check.errors:
        _check_payments(
            check,
            data.paid_with_points_minor,
            data.paid_with_store_credit_minor,
            lines_total + data.shipping_minor + data.tax_minor - data.discount_minor,
        )
    check.raise_if_any()
    earning = _earn_in_program_currency(
        program,
        await active_purchase_rules(program.id),
        currency=data.currency.strip().upper(),
        exchange_rate=data.exchange_rate or configured_rate,
        lines=[
            replace(
                line,
                sku=line.sku.strip(),
                category=line.category.strip() if line.category and line.category.strip() else None,
            )
            for line in data.lines
        ],
        shipping_minor=data.shipping_minor,
        tax_minor=data.tax_minor,
        discount_minor=data.discount_minor,
        placed_at=placed_at.astimezone(UTC),
        member=None
        if data.member_id is None
        else await tier_attributes(program.id, data.member_id),
        paid_with_points_minor=data.paid_with_points_minor,
        paid_with_store_credit_minor=data.paid_with_store_credit_minor,
        earn_on_points_payments=program.earn_on_points_payments,
    )
    _check_points_limit(earning.points)
    return earning


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
            _check_time(check, moment, field)
    if data.paid_at is None and data.fulfilled_at is None:
        check.add(ErrorCode.REQUIRED, "give paidAt or fulfilledAt", ["input"])
    check.raise_if_any()
    program = await require_program(data.program_slug, scope)
    order_ref = data.order_id.strip()
    now = utc_now()
    async with in_transaction() as conn:
        locked = await fetch_one(
            conn,
            "UPDATE orders SET points_refunded = points_refunded"
            f" WHERE program_id = ? AND order_id = ? RETURNING {_record.columns}",
            (program.id, order_ref),
        )
        if locked is None:
            raise DomainError(
                ErrorCode.ORDER_NOT_FOUND,
                f"no order {order_ref!r} was recorded in {program.slug!r}",
                ["input", "orderId"],
            )
        order = _record(locked)
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
