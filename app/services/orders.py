"""Orders reported by the store, and the points they earn.

The order's own id is its natural idempotency key: a second report with the same content
returns the first result and earns nothing; with other content it is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app.db import as_datetime, connection, execute, fetch_one, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import (
    MAX_AMOUNT_MINOR,
    MAX_POINTS_PER_MOVEMENT,
    MAX_QUANTITY,
    is_known_currency,
    points_for_amount,
)
from app.domain.validation import EXTERNAL_ID_MAX, IDEMPOTENCY_KEY_MAX, Checker
from app.services import idempotency
from app.services.events import append_event
from app.services.ledger import Movement, post_movement
from app.services.programs import ProgramScope, in_scope, require_program

MAX_LINES = 500
EARLIEST_ORDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of the shop and of Laurel disagree a little; an order from tomorrow is a mistake.
ORDER_CLOCK_SKEW = timedelta(days=1)
_OPERATION = "recordOrder"
_COLUMNS = (
    "id, program_id, member_id, order_id, currency, total_minor, points_earned,"
    " transaction_id, request_hash, placed_at, created_at"
)


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


@dataclass(frozen=True)
class RecordedOrder:
    order: OrderRecord
    # True when this call found the order already recorded and wrote nothing.
    already_recorded: bool


def _record(row: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        member_id=int(row["member_id"]),
        order_id=row["order_id"],
        currency=row["currency"],
        total_minor=int(row["total_minor"]),
        points_earned=int(row["points_earned"]),
        transaction_id=None if row["transaction_id"] is None else int(row["transaction_id"]),
        placed_at=as_datetime(row["placed_at"]),
        created_at=as_datetime(row["created_at"]),
    )


async def get_order(order_pk: int, scope: ProgramScope) -> OrderRecord | None:
    row = await fetch_one(connection(), f"SELECT {_COLUMNS} FROM orders WHERE id = ?", (order_pk,))
    if row is None or not in_scope(int(row["program_id"]), scope):
        return None
    return _record(row)


def _validate(data: RecordOrderInput, program_currency: str) -> Checker:
    check = Checker()
    check.text(["input", "customerId"], data.customer_id, EXTERNAL_ID_MAX)
    check.text(["input", "orderId"], data.order_id, EXTERNAL_ID_MAX)
    if data.idempotency_key is not None:
        check.text(["input", "idempotencyKey"], data.idempotency_key, IDEMPOTENCY_KEY_MAX)
    currency = data.currency.strip().upper()
    if not is_known_currency(currency):
        check.add(
            ErrorCode.UNKNOWN_CURRENCY,
            f"{data.currency!r} is not an ISO 4217 currency code",
            ["input", "currency"],
        )
    elif currency != program_currency:
        check.add(
            ErrorCode.CURRENCY_MISMATCH,
            f"the program counts in {program_currency}, the order is in {currency}",
            ["input", "currency"],
        )
    check.int_range(
        ["input", "totalMinor"], data.total_minor, 1, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT
    )
    for name, value in (
        ("shippingMinor", data.shipping_minor),
        ("taxMinor", data.tax_minor),
        ("discountMinor", data.discount_minor),
    ):
        check.int_range(["input", name], value, 0, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT)
    if not data.lines:
        check.add(ErrorCode.REQUIRED, "an order needs at least one line", ["input", "lines"])
    if len(data.lines) > MAX_LINES:
        check.add(ErrorCode.TOO_MANY, f"an order has at most {MAX_LINES} lines", ["input", "lines"])
        return check
    lines_total = 0
    for index, line in enumerate(data.lines):
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
    expected = lines_total + data.shipping_minor + data.tax_minor - data.discount_minor
    if data.placed_at.tzinfo is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            "placedAt needs a time zone, e.g. 2026-11-20T10:00:00Z",
            ["input", "placedAt"],
        )
    elif not EARLIEST_ORDER_TIME <= data.placed_at <= utc_now() + ORDER_CLOCK_SKEW:
        check.add(
            ErrorCode.INVALID_VALUE,
            "placedAt must be after 2000 and not in the future",
            ["input", "placedAt"],
        )
    if not check.errors and expected != data.total_minor:
        check.add(
            ErrorCode.LINES_TOTAL_MISMATCH,
            f"lines + shipping + tax - discount = {expected}, but totalMinor is {data.total_minor}",
            ["input", "totalMinor"],
        )
    return check


def _fingerprint(data: RecordOrderInput) -> str:
    """Of the normalised input, so the same order written differently still matches."""
    payload = asdict(data)
    payload.pop("idempotency_key")
    payload["placed_at"] = data.placed_at.isoformat()
    return idempotency.request_fingerprint(_OPERATION, payload)


async def _existing(program_id: int, order_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        connection(),
        f"SELECT {_COLUMNS} FROM orders WHERE program_id = ? AND order_id = ?",
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
    )


async def record_order(data: RecordOrderInput, scope: ProgramScope) -> RecordedOrder:
    """Record an order and earn its points, or replay the recorded one.

    The order row is the first write of the transaction: its unique (program, order id) index
    decides between concurrent reports of one order before any points move, so a duplicate
    report costs one statement, not a rolled-back ledger movement.
    """
    program = await require_program(data.program_slug, scope)
    _validate(data, program.currency).raise_if_any()
    data = _normalised(data)
    member = await fetch_one(
        connection(),
        "SELECT id FROM members WHERE program_id = ? AND customer_id = ?",
        (program.id, data.customer_id),
    )
    if member is None:
        raise DomainError(
            ErrorCode.MEMBER_NOT_FOUND,
            f"customer {data.customer_id!r} is not a member of {program.slug!r}",
            ["input", "customerId"],
        )
    member_id = int(member["id"])
    fingerprint = _fingerprint(data)
    existing = await _existing(program.id, data.order_id)
    if existing is not None:
        return _replay(existing, fingerprint)
    points = points_for_amount(data.total_minor, program.currency, program.points_per_currency_unit)
    if points > MAX_POINTS_PER_MOVEMENT:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"the order would earn {points} points, more than {MAX_POINTS_PER_MOVEMENT}",
            ["input", "totalMinor"],
        )
    now = utc_now()
    scope_key = str(program.id)
    try:
        async with in_transaction() as conn:
            if data.idempotency_key is not None:
                stored = await idempotency.claim(
                    conn,
                    scope=scope_key,
                    key=data.idempotency_key,
                    operation=_OPERATION,
                    fingerprint=fingerprint,
                    now=now,
                )
                if stored is not None:
                    replayed = await get_order(int(stored["orderPk"]), scope)
                    assert replayed is not None
                    return RecordedOrder(order=replayed, already_recorded=True)
            row = await fetch_one(
                conn,
                "INSERT INTO orders (program_id, member_id, order_id, currency, total_minor,"
                " shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,"
                " transaction_id, placed_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
                f" ON CONFLICT (program_id, order_id) DO NOTHING RETURNING {_COLUMNS}",
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
                    points,
                    data.placed_at,
                    now,
                ),
            )
            if row is None:
                raise _OrderExistsError
            order = _record(row)
            if points > 0:
                posted = await post_movement(
                    conn,
                    Movement(
                        program_id=program.id,
                        member_id=member_id,
                        kind=TransactionKind.EARN_ORDER,
                        points=points,
                        counter_account=Account.PROGRAM_ISSUED,
                        description=f"Order {data.order_id}",
                        order_ref=data.order_id,
                        event_details={"orderPk": encode_id("Order", order.id)},
                    ),
                    now,
                )
                await execute(
                    conn,
                    "UPDATE orders SET transaction_id = ? WHERE id = ?",
                    (posted.transaction_id, order.id),
                )
                order = replace(order, transaction_id=posted.transaction_id)
            await append_event(
                conn,
                program_id=program.id,
                member_id=member_id,
                event_type="order.recorded",
                payload={
                    "orderPk": encode_id("Order", order.id),
                    "orderId": data.order_id,
                    "memberId": encode_id("Member", member_id),
                    "currency": data.currency,
                    "totalMinor": data.total_minor,
                    "pointsEarned": points,
                },
                now=now,
            )
            if data.idempotency_key is not None:
                await idempotency.store_response(
                    conn, scope=scope_key, key=data.idempotency_key, response={"orderPk": order.id}
                )
    except _OrderExistsError:
        # Another request recorded this order after our first look; ours wrote nothing.
        existing = await _existing(program.id, data.order_id)
        assert existing is not None
        return _replay(existing, fingerprint)
    return RecordedOrder(order=order, already_recorded=False)
