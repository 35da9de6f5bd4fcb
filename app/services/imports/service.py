"""Importing one item of a file: a member, an order, a member's opening balance.

Each item goes through the capability's own public service (enrolment, `record_order`, the
ledger), so an imported item is exactly what the live API would have written. Each is
idempotent by the store's own ids: a member by customer id, an order by order id, an opening
balance by customer id (one IMPORT transaction per member, and an idempotency key). A second
run, or a run resumed after a crash, skips what is there and imports the rest.

Times: the caller (app/jobs/imports.py) sets the clock of its own task to the item's time
(`app.clock.using_in_context`) so that an enrolment or an order is written as of when it
happened; this module reads the time from `utc_now()` like every service.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.db import connection, fetch_one, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.imports import (
    BalanceRow,
    MemberRow,
    OrderRow,
    RowError,
    RowErrorCode,
    RowRejectedError,
)
from app.domain.ledger import Account, TransactionKind
from app.domain.orders import OrderChannel
from app.services.core.idempotency import IdempotentRequest, run_once_keeping
from app.services.ledger.service import Movement, post_movement
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.members.profile import ProfileChanges
from app.services.members.service import MemberRecord, get_member_by_customer_id
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import ProgramRecord

_BALANCE_OPERATION = "importBalance"
BALANCE_DESCRIPTION = "Opening balance carried over from the previous program"


class Outcome(StrEnum):
    IMPORTED = "IMPORTED"
    # Already there (a re-run, a resumed run): nothing written.
    SKIPPED = "SKIPPED"
    # Checked only (a dry run): would be imported.
    WOULD_IMPORT = "WOULD_IMPORT"


@dataclass(frozen=True)
class ItemResult:
    outcome: Outcome
    points: int = 0


# Input fields of the services, by the file column they come from.
_COLUMN_OF_FIELD = {
    "customerId": "customer_id",
    "orderId": "order_id",
    "totalMinor": "unit_price_minor",
    "placedAt": "placed_at",
    "currency": "currency",
    "exchangeRate": "exchange_rate",
    "shippingMinor": "shipping_minor",
    "taxMinor": "tax_minor",
    "discountMinor": "discount_minor",
    "email": "email",
    "name": "name",
    "birthday": "birthday",
    "phone": "phone",
    "locale": "locale",
    "storeLocation": "store_location",
    "lines": "sku",
}


def row_errors(line: int, error: DomainError) -> RowError:
    """A service's refusal of an item as the error of its line, naming the file's column."""
    field = None
    if error.field:
        names = [part for part in error.field if part != "input" and not part.isdigit()]
        field = next(
            (_COLUMN_OF_FIELD[name] for name in reversed(names) if name in _COLUMN_OF_FIELD),
            ".".join(names) or None,
        )
    return RowError(line, field, error.code.value, error.message)


def _rejected(line: int, field: str, code: RowErrorCode, message: str) -> RowRejectedError:
    return RowRejectedError([RowError(line, field, code.value, message)])


async def import_member(program: ProgramRecord, row: MemberRow, *, dry_run: bool) -> ItemResult:
    """Enrol the customer as of `enrolled_at` (the caller's clock), or skip an existing one."""
    if await get_member_by_customer_id(program.id, row.customer_id) is not None:
        return ItemResult(Outcome.SKIPPED)
    if dry_run:
        return ItemResult(Outcome.WOULD_IMPORT)
    values = {
        "email": row.email,
        "name": row.name,
        "birthday": row.birthday,
        "phone": row.phone,
        "locale": row.locale,
        "marketing_consent": row.marketing_consent,
    }
    given = tuple(sorted(name for name, value in values.items() if value is not None))
    profile = ProfileChanges(
        email=row.email,
        name=row.name,
        birthday=row.birthday,
        phone=row.phone,
        locale=row.locale,
        marketing_consent=row.marketing_consent,
        given=given,
    )
    try:
        member = await enroll_member(
            EnrollMemberInput(
                program_slug=program.slug, customer_id=row.customer_id, profile=profile
            ),
            program.id,
        )
    except DomainError as error:
        if error.code is ErrorCode.MEMBER_ALREADY_ENROLLED:
            return ItemResult(Outcome.SKIPPED)
        raise RowRejectedError([row_errors(row.line, error)]) from error
    return ItemResult(Outcome.IMPORTED, member.points_available + member.points_pending)


def order_input(program: ProgramRecord, row: OrderRow) -> RecordOrderInput:
    lines = [
        OrderLineInput(
            sku=line.sku,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            category=line.category,
        )
        for line in row.lines
    ]
    total = (
        sum(line.quantity * line.unit_price_minor for line in row.lines)
        + row.shipping_minor
        + row.tax_minor
        - row.discount_minor
    )
    channel = None
    if row.channel is not None:
        try:
            channel = OrderChannel(row.channel)
        except ValueError as error:
            raise _rejected(
                row.line,
                "channel",
                RowErrorCode.INVALID_VALUE,
                f"channel is one of {', '.join(c.value for c in OrderChannel)}",
            ) from error
    return RecordOrderInput(
        program_slug=program.slug,
        customer_id=row.customer_id,
        order_id=row.order_id,
        currency=row.currency,
        total_minor=total,
        lines=lines,
        placed_at=row.placed_at,
        shipping_minor=row.shipping_minor,
        tax_minor=row.tax_minor,
        discount_minor=row.discount_minor,
        exchange_rate=row.exchange_rate,
        channel=channel,
    )


async def order_recorded(program: ProgramRecord, order_id: str) -> bool:
    row = await fetch_one(
        connection(),
        "SELECT 1 AS found FROM orders WHERE program_id = ? AND order_id = ?",
        (program.id, order_id.strip()),
    )
    return row is not None


@dataclass(frozen=True)
class Customer:
    """The ordering customer's member row (None: not a member), as the caller just read it."""

    member: MemberRecord | None


async def ordering_customer(program: ProgramRecord, row: OrderRow) -> Customer:
    return Customer(await get_member_by_customer_id(program.id, row.customer_id))


async def import_order(
    program: ProgramRecord, row: OrderRow, *, dry_run: bool, customer: Customer | None = None
) -> ItemResult:
    """Record the order through `record_order` as of the caller's clock, or skip it when it is
    recorded already. A member's order placed before they enrolled is refused: the live
    program would have taken it as a guest's, which it no longer can be."""
    data = order_input(program, row)
    member = (customer or await ordering_customer(program, row)).member
    if member is not None and row.placed_at < member.enrolled_at:
        raise _rejected(
            row.line,
            "placed_at",
            RowErrorCode.PLACED_BEFORE_ENROLMENT,
            f"placed before customer {row.customer_id!r} enrolled"
            f" ({member.enrolled_at.isoformat()})",
        )
    if dry_run:
        if await order_recorded(program, row.order_id):
            return ItemResult(Outcome.SKIPPED)
        return ItemResult(Outcome.WOULD_IMPORT)
    try:
        recorded = await record_order(data, program.id)
    except DomainError as error:
        raise RowRejectedError([row_errors(row.line, error)]) from error
    if recorded.already_recorded:
        return ItemResult(Outcome.SKIPPED)
    return ItemResult(Outcome.IMPORTED, recorded.order.points_earned)


async def _balance_imported(member_id: int) -> bool:
    row = await fetch_one(
        connection(),
        "SELECT 1 AS found FROM ledger_transactions WHERE member_id = ? AND kind = ?",
        (member_id, TransactionKind.IMPORT.value),
    )
    return row is not None


async def import_balance(program: ProgramRecord, row: BalanceRow, *, dry_run: bool) -> ItemResult:
    """The member's opening balance: one IMPORT transaction through the ledger, a lot per
    imported lot with its own expiry, under the idempotency key `import-balance:<customer>`."""
    member = await get_member_by_customer_id(program.id, row.customer_id)
    if member is None:
        raise _rejected(
            row.line,
            "customer_id",
            RowErrorCode.MEMBER_NOT_FOUND,
            f"no member {row.customer_id!r}: import members first",
        )
    now = utc_now()
    for lot in row.lots:
        if lot.expires_at is not None and lot.expires_at <= now:
            raise _rejected(
                row.line,
                "expires_at",
                RowErrorCode.INVALID_VALUE,
                f"a lot of {lot.points} points expired at {lot.expires_at.isoformat()}",
            )
    if await _balance_imported(member.id):
        return ItemResult(Outcome.SKIPPED)
    if dry_run:
        return ItemResult(Outcome.WOULD_IMPORT, row.points)
    lots = tuple((lot.points, lot.expires_at) for lot in row.lots)
    request = IdempotentRequest.for_member(
        member,
        key=f"import-balance:{member.customer_id}",
        operation=_BALANCE_OPERATION,
        lots=[[points, None if at is None else at.isoformat()] for points, at in lots],
    )

    try:
        async with in_transaction() as conn:

            async def perform() -> int:
                await post_movement(
                    conn,
                    Movement(
                        program_id=program.id,
                        member_id=member.id,
                        kind=TransactionKind.IMPORT,
                        points=row.points,
                        counter_account=Account.PROGRAM_ISSUED,
                        description=BALANCE_DESCRIPTION,
                        lots=lots,
                        asked_by=("points",),
                    ),
                    now,
                )
                return row.points

            outcome = await run_once_keeping(
                conn, request, now=now, perform=perform, keep_as="points"
            )
    except DomainError as error:
        if error.code is ErrorCode.IDEMPOTENCY_KEY_REUSED:
            raise _rejected(
                row.line,
                "points",
                RowErrorCode.BALANCE_ALREADY_IMPORTED,
                "this member's opening balance was imported already, with other lots",
            ) from error
        raise RowRejectedError([row_errors(row.line, error)]) from error
    if outcome.replayed:
        return ItemResult(Outcome.SKIPPED)
    return ItemResult(Outcome.IMPORTED, row.points)
