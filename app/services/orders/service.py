"""Orders reported by the store, and the points they earn.

The order's own id is its natural idempotency key: a second report with the same content
returns the first result and earns nothing; with other content it is refused.

An order in another currency than the program's is converted with the rate given with it, or
else with the rate the program configures for that currency (`programs.exchange_rates`); the
rate used is stored with the order. A member who opted out has the order recorded with no
points, and its breakdown says why (`noPointsReason`).

The order of a customer who is not a member (a guest order) is recorded too, for analytics: no
member, the customer id kept, no points, no event, and its breakdown says `NOT_A_MEMBER`; what
it would have earned is stored with it (`creditable`), and is credited if the customer enrols
within the program's `retroCreditDays` (app/services/orders/guests.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    connection,
    fetch_one,
    in_transaction,
    quick_read,
    utc_now,
)
from app.domain.earning import Earning, without_points
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import (
    MAX_AMOUNT_MINOR,
    convert_minor,
    parse_exchange_rate,
)
from app.domain.orders import STORE_LOCATION_MAX, OrderChannel
from app.domain.tiers import TierChangeReason
from app.domain.validation import EXTERNAL_ID_MAX, Checker, is_lookup_text
from app.rows import RowMapper
from app.services.analytics import rollups
from app.services.core import idempotency
from app.services.core.config_cache import reading_config
from app.services.core.events import append_event
from app.services.core.idempotency import IdempotentRequest, run_once_by_id
from app.services.engagement.progress import on_order_recorded as challenges_on_order_recorded
from app.services.experiments.enforcement import (
    ExperimentPlan,
    program_plans,
    record_order_effects,
    rules_for_member,
)
from app.services.ledger.journal import IdempotentResponse
from app.services.ledger.service import Movement, lock_member, post_movement
from app.services.orders.cart import (
    OrderLineInput,
    check_cart,
    check_payments,
    check_placed_at,
    check_points_limit,
    earn_in_program_currency,
    normalised_lines,
    program_rate,
)
from app.services.orders.earning import earning_json
from app.services.orders.earning_rules import active_purchase_rules
from app.services.orders.guests import is_member, lock_customer
from app.services.programs.service import (
    ProgramRecord,
    ProgramScope,
    read_in_scope,
    require_program,
)
from app.services.punch_cards.service import on_order_recorded as punch_cards_on_order_recorded
from app.services.referrals.order_rewards import on_order_recorded
from app.services.segments.targeting import earning_member
from app.services.tiers.service import on_member_activity as on_tier_activity

_OPERATION = "recordOrder"
# What an idempotency key of recordOrder remembers: the order's id, under this name.
_REMEMBERED_AS = "orderPk"
NO_POINTS_OPTED_OUT = "MEMBER_OPTED_OUT"
NO_POINTS_NOT_A_MEMBER = "NOT_A_MEMBER"


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
    # Where the order was placed (for rules, segments and reports to tell channels apart).
    channel: OrderChannel | None = None
    store_location: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    id: int
    program_id: int
    # None for a guest order (a customer who was not a member) not credited.
    member_id: int | None
    customer_id: str | None
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
    channel: str | None
    store_location: str | None


@dataclass(frozen=True)
class RecordedOrder:
    order: OrderRecord
    # True when this call found the order already recorded and wrote nothing.
    already_recorded: bool


order_row = RowMapper(OrderRecord)


async def get_order(order_pk: int, scope: ProgramScope) -> OrderRecord | None:
    return await read_in_scope(connection(), order_row, "orders", order_pk, scope)


async def find_order(program_id: int, order_ref: str) -> OrderRecord | None:
    """The order the store reported as `order_ref` in that program (the store's own id)."""
    order_ref = order_ref.strip()
    if not is_lookup_text(order_ref):
        return None
    row = await fetch_one(
        connection(),
        f"SELECT {order_row.columns} FROM orders WHERE program_id = ? AND order_id = ?",
        (program_id, order_ref),
    )
    return None if row is None else order_row(row)


async def lock_order(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    order_ref: str,
    columns: str = order_row.columns,
) -> dict[str, Any]:
    """The order's `columns`, its row locked until the transaction ends, so that concurrent
    writers of one order (refunds, progress) see each other's changes; ORDER_NOT_FOUND when
    the program has no such order."""
    # The order's member is locked before the order, the lock order of every writer
    # (services/ledger): a writer holding the member and then the member's orders (an erasure)
    # and this one must not each hold what the other waits for.
    owner = await fetch_one(
        conn,
        "SELECT member_id FROM orders WHERE program_id = ? AND order_id = ?",
        (program.id, order_ref),
    )
    owner_id = None if owner is None else owner["member_id"]
    if owner_id is not None:
        await lock_member(conn, int(owner_id))
    # A no-op update takes the row lock (PostgreSQL).
    locked = await fetch_one(
        conn,
        "UPDATE orders SET points_refunded = points_refunded"
        f" WHERE program_id = ? AND order_id = ? RETURNING member_id AS locked_member_id,"
        f" {columns}",
        (program.id, order_ref),
    )
    if locked is None:
        raise DomainError(
            ErrorCode.ORDER_NOT_FOUND,
            f"no order {order_ref!r} was recorded in {program.slug!r}",
            ["input", "orderId"],
        )
    credited_since = locked.pop("locked_member_id")
    if credited_since is not None and credited_since != owner_id:
        # A guest's order credited to their new membership between the two reads.
        await lock_member(conn, int(credited_since))
    return locked


def _validate(
    data: RecordOrderInput, program_currency: str, configured_rate: str | None
) -> Checker:
    check = Checker()
    check.text(["input", "customerId"], data.customer_id, EXTERNAL_ID_MAX)
    check.text(["input", "orderId"], data.order_id, EXTERNAL_ID_MAX)
    check.text(["input", "storeLocation"], data.store_location, STORE_LOCATION_MAX, required=False)
    if data.idempotency_key is not None:
        check.idempotency_key(data.idempotency_key)
    check.int_range(
        ["input", "totalMinor"], data.total_minor, 1, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT
    )
    lines_total = check_cart(
        check, data, program_currency=program_currency, configured_rate=configured_rate
    )
    check_placed_at(check, data.placed_at)
    expected = lines_total + data.shipping_minor + data.tax_minor - data.discount_minor
    if not check.errors and expected != data.total_minor:
        check.add(
            ErrorCode.LINES_TOTAL_MISMATCH,
            f"lines + shipping + tax - discount = {expected}, but totalMinor is {data.total_minor}",
            ["input", "totalMinor"],
        )
    check_payments(
        check, data.paid_with_points_minor, data.paid_with_store_credit_minor, data.total_minor
    )
    return check


def _fields_of(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, one level deep: what `dataclasses.asdict` gives for a
    record of plain values, without its deep copy (which cost an order more than its
    transaction's statements did)."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


def _fingerprint(data: RecordOrderInput) -> str:
    """Of the normalised input, so the same order written differently still matches."""
    payload = _fields_of(data)
    payload["lines"] = [_fields_of(line) for line in data.lines]
    payload.pop("idempotency_key")
    # Left out at their default, so orders recorded before these fields keep their fingerprint.
    for name in (
        "paid_with_points_minor",
        "paid_with_store_credit_minor",
        "channel",
        "store_location",
    ):
        if not payload[name]:
            payload.pop(name)
    payload["placed_at"] = data.placed_at.isoformat()
    return idempotency.request_fingerprint(_OPERATION, payload)


async def _existing(program_id: int, order_id: str) -> dict[str, Any] | None:
    rows = await quick_read(
        # With the request hash, which a second report of the order is compared to.
        f"SELECT {order_row.columns}, request_hash FROM orders"
        " WHERE program_id = ? AND order_id = ?",
        (program_id, order_id),
    )
    return rows[0] if rows else None


def _replay(row: dict[str, Any], fingerprint: str) -> RecordedOrder:
    if row["request_hash"] != fingerprint:
        raise DomainError(
            ErrorCode.ORDER_ALREADY_RECORDED,
            f"order {row['order_id']!r} was already recorded with different content",
            ["input", "orderId"],
        )
    return RecordedOrder(order=order_row(row), already_recorded=True)


class _CustomerEnrolledError(Exception):
    """Raised inside the transaction when a guest order's customer has just enrolled."""


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
        lines=normalised_lines(data.lines),
        idempotency_key=data.idempotency_key.strip() if data.idempotency_key else None,
        exchange_rate=(
            None if data.exchange_rate is None else str(parse_exchange_rate(data.exchange_rate))
        ),
        store_location=(data.store_location or "").strip() or None,
    )


async def record_order(data: RecordOrderInput, scope: ProgramScope) -> RecordedOrder:
    """Record an order and earn its points, or replay the recorded one.

    The order row is the first write of the transaction: its unique (program, order id) index
    decides between concurrent reports of one order before any points move, so a duplicate
    report costs one statement, not a rolled-back ledger movement.
    """
    program = await require_program(data.program_slug, scope)
    # The program's rules, experiments, tiers, cards, challenges, badges and segments are
    # served from the process's cache while their version is the one just read.
    with reading_config(program.id, program.config_version):
        return await _record_order(data, scope, program)


async def _record_order(
    data: RecordOrderInput, scope: ProgramScope, program: ProgramRecord
) -> RecordedOrder:
    configured_rate = program_rate(program, data.currency)
    _validate(data, program.currency, configured_rate).raise_if_any()
    data = _normalised(data)
    member = await _ordering_member(program, data.customer_id)
    fingerprint = _fingerprint(data)
    existing = await _existing(program.id, data.order_id)
    if existing is not None:
        return _replay(existing, fingerprint)
    exchange_rate = data.exchange_rate or configured_rate
    # What experiments add to an order (one read, two when an experiment has an audience that
    # matters): who gets which rule, and what to record. A guest is in no experiment.
    plans = await program_plans(connection(), program.id, None if member is None else member.id)
    earning, stored_earning = await _order_earning(program, data, member, exchange_rate, plans)
    check_points_limit(earning.points)
    now = utc_now()
    request = (
        None
        if data.idempotency_key is None
        else IdempotentRequest(
            scope=str(program.id),
            key=data.idempotency_key,
            operation=_OPERATION,
            fingerprint=fingerprint,
        )
    )
    try:
        async with in_transaction() as conn:

            async def perform() -> OrderRecord:
                if member is None:
                    # Serialised with the customer's enrolment (services/orders/guests.py).
                    await lock_customer(conn, program.id, data.customer_id)
                    if await is_member(conn, program.id, data.customer_id):
                        raise _CustomerEnrolledError
                order = await _insert_order(
                    conn,
                    program,
                    None if member is None else member.id,
                    data,
                    fingerprint=fingerprint,
                    points=earning.points,
                    stored_earning=stored_earning,
                    exchange_rate=exchange_rate,
                    now=now,
                )
                counted = _order_rollup(program, order)
                if order.member_id is None or order.points_earned <= 0:
                    await rollups.add_rows(conn, program.id, counted)
                    if order.member_id is None:
                        return order
                assert member is not None
                # The order's event and the key's response are written by the movement's own
                # statement when there is one (`order.transaction_id` then set).
                order = await earn_order_points(
                    conn,
                    program,
                    order,
                    data.placed_at,
                    now,
                    rollup=counted,
                    then_events=(_order_event(order, data),),
                    remembers=None
                    if request is None
                    else IdempotentResponse(
                        scope=request.scope, key=request.key, response=_remembered(order)
                    ),
                )
                await record_order_effects(
                    conn,
                    plans,
                    program_id=program.id,
                    member_id=member.id,
                    order_pk=order.id,
                    earning=earning,
                    revenue_minor=_revenue_in_program_currency(program, data, exchange_rate),
                    placed_at=data.placed_at,
                    now=now,
                )
                await _announce_order(conn, program, order, data, exchange_rate, now)
                return order

            if request is None:
                return RecordedOrder(order=await perform(), already_recorded=False)

            outcome = await run_once_by_id(
                conn,
                request,
                now=now,
                perform=perform,
                remember_id_as=_REMEMBERED_AS,
                read=lambda order_pk: get_order(order_pk, scope),
                # By the movement's statement (above), when the order earned points.
                remembered_by_perform=lambda order: order.transaction_id is not None,
            )
    except _CustomerEnrolledError:
        # The customer enrolled since our first look: the order is the member's.
        return await record_order(data, scope)
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


async def _ordering_member(program: ProgramRecord, customer_id: str) -> _OrderingMember | None:
    """The member ordering; None for a customer who is not a member (a guest order)."""
    # Quick reads (app/db/quick_reads.py): on SQLite they do not wait for the transactions
    # being written.
    rows = await quick_read(
        "SELECT id, opted_out_at FROM members WHERE program_id = ? AND customer_id = ?",
        (program.id, customer_id),
    )
    if not rows:
        return None
    member = rows[0]
    return _OrderingMember(id=int(member["id"]), opted_out=member["opted_out_at"] is not None)


async def _order_earning(
    program: ProgramRecord,
    data: RecordOrderInput,
    member: _OrderingMember | None,
    exchange_rate: str | None,
    plans: list[ExperimentPlan],
) -> tuple[Earning, dict[str, Any]]:
    """What the order earns, and its breakdown as stored: nothing when the member opted out;
    nothing for a guest, with what a new member would have earned kept as `creditable`. A rule
    an experiment tests counts only for the members it gives it to (app/domain/experiments.py)."""
    rules = rules_for_member(
        await active_purchase_rules(program.id),
        plans,
        None if member is None else member.id,
        data.placed_at,
    )
    earning = earn_in_program_currency(
        program,
        rules,
        data,
        exchange_rate=exchange_rate,
        placed_at=data.placed_at,
        # A guest has no tier and is in no segment.
        member=None
        if member is None
        else await earning_member(program.id, member.id, rules, data.placed_at),
    )
    if member is None:
        return without_points(earning), {
            **earning_json(without_points(earning), NO_POINTS_NOT_A_MEMBER),
            "creditable": earning_json(earning),
        }
    if member.opted_out:
        earning = without_points(earning)
        return earning, earning_json(earning, NO_POINTS_OPTED_OUT)
    return earning, earning_json(earning)


def _remembered(order: OrderRecord) -> dict[str, Any]:
    """The response a key of recordOrder remembers (as `run_once_by_id` remembers it)."""
    return {_REMEMBERED_AS: order.id}


def _revenue_in_program_currency(
    program: ProgramRecord, data: RecordOrderInput, exchange_rate: str | None
) -> int:
    """The order's total in the program's currency, converted as its lines were."""
    rate = None if exchange_rate is None else parse_exchange_rate(exchange_rate)
    if rate is None or data.currency == program.currency:
        return data.total_minor
    return convert_minor(data.total_minor, data.currency, program.currency, rate)


async def _insert_order(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    member_id: int | None,
    data: RecordOrderInput,
    *,
    fingerprint: str,
    points: int,
    stored_earning: dict[str, Any],
    exchange_rate: str | None,
    now: datetime,
) -> OrderRecord:
    """The order row, or _OrderExistsError when a concurrent report recorded it first."""
    row = await fetch_one(
        conn,
        "INSERT INTO orders (program_id, member_id, customer_id, order_id, currency, total_minor,"
        " shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,"
        " transaction_id, placed_at, created_at, earning, status, refunded_quantities,"
        " points_refunded, points_unrecovered, exchange_rate, channel, store_location)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'PLACED', '{}', 0, 0,"
        " ?, ?, ?)"
        f" ON CONFLICT (program_id, order_id) DO NOTHING RETURNING {order_row.columns}",
        (
            program.id,
            member_id,
            data.customer_id,
            data.order_id,
            data.currency,
            data.total_minor,
            data.shipping_minor,
            data.tax_minor,
            data.discount_minor,
            json.dumps([_fields_of(line) for line in data.lines], separators=(",", ":")),
            fingerprint,
            points,
            data.placed_at,
            now,
            json.dumps(stored_earning, separators=(",", ":")),
            exchange_rate,
            None if data.channel is None else data.channel.value,
            data.store_location,
        ),
    )
    if row is None:
        raise _OrderExistsError
    return order_row(row)


def _order_rollup(program: ProgramRecord, order: OrderRecord) -> tuple[rollups.Row, ...]:
    """The order's rows in the analytics rollup of the day it was placed, and its customer's
    activity rows of that month."""
    day = local_date(order.placed_at, program.time_zone)
    revenue = rollups.in_program_currency(
        order.total_minor, order.currency, program.currency, order.exchange_rate
    )
    return rollups.rows_of(
        day,
        rollups.order_counts(
            member=order.member_id is not None,
            channel=order.channel,
            orders=1,
            revenue_minor=revenue,
            refunded_minor=0,
        ),
    ) + rollups.customer_order_rows(
        day, rollups.customer_key(order.member_id, order.customer_id), 1, revenue
    )


async def earn_order_points(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    order: OrderRecord,
    placed_at: datetime,
    now: datetime,
    rollup: tuple[rollups.Row, ...] = (),
    then_events: tuple[tuple[str, dict[str, Any]], ...] = (),
    remembers: IdempotentResponse | None = None,
) -> OrderRecord:
    """Post the order's points, pending until the return window closes (with the order's
    `rollup` rows, counted by the movement's upsert, and the events and idempotency response
    its statement writes: ledger/service.py `Movement`)."""
    if order.points_earned <= 0 or order.member_id is None:
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
            rollup=rollup,
            pays_order=order.id,
            then_events=then_events,
            remembers=remembers,
        ),
        now,
    )
    return replace(order, transaction_id=posted.transaction_id)


def _order_event(order: OrderRecord, data: RecordOrderInput) -> tuple[str, dict[str, Any]]:
    """The order's `order.recorded` event: its type and payload."""
    member_id = order.member_id
    assert member_id is not None
    return "order.recorded", {
        "orderPk": encode_id("Order", order.id),
        "orderId": data.order_id,
        "memberId": encode_id("Member", member_id),
        "currency": data.currency,
        "totalMinor": data.total_minor,
        "pointsEarned": order.points_earned,
        **({"channel": data.channel.value} if data.channel else {}),
        **({"storeLocation": data.store_location} if data.store_location else {}),
    }


async def _announce_order(
    conn: BaseDBAsyncClient,
    program: ProgramRecord,
    order: OrderRecord,
    data: RecordOrderInput,
    exchange_rate: str | None,
    now: datetime,
) -> None:
    """The order's event (unless its points' movement wrote it), and what else a recorded order
    moves: referrals, punch cards, tiers, challenges and badges."""
    member_id = order.member_id
    assert member_id is not None
    if order.transaction_id is None:
        event_type, payload = _order_event(order, data)
        await append_event(
            conn,
            program_id=program.id,
            member_id=member_id,
            event_type=event_type,
            payload=payload,
            now=now,
        )
    # A referred friend's order may earn referral rewards (the referrals service).
    await on_order_recorded(
        conn,
        program=program,
        member_id=member_id,
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
        member_id=member_id,
        order_pk=order.id,
        order_ref=data.order_id,
        lines=data.lines,
        now=now,
    )
    # Tier progress counts the order (the tier it may reach applies from the next one).
    await on_tier_activity(
        conn,
        program_id=program.id,
        member_id=member_id,
        reason=TierChangeReason.ORDER,
        now=now,
    )
    # Challenges it advances and badge milestones it reaches (app/services/engagement/).
    await challenges_on_order_recorded(
        conn,
        program_id=program.id,
        program_currency=program.currency,
        zone=program.time_zone,
        member_id=member_id,
        order_pk=order.id,
        total_minor=data.total_minor,
        currency=data.currency,
        exchange_rate=exchange_rate,
        placed_at=data.placed_at,
        now=now,
    )
