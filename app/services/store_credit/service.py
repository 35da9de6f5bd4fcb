"""Store credit: money on a member's balance that the store's checkout spends.

Credit is in minor units of the program's currency, and only that currency: every request
names its currency and a different one is refused (CURRENCY_MISMATCH) before anything is
written. Each movement is a journal transaction of its own on the store-credit accounts
(app/services/ledger/service.py `post_store_credit`), plus a row of `store_credit_movements`, the
member's store-credit history.

- `credit_store_credit` adds credit inside the caller's transaction: goodwill
  (`issue_store_credit`) and rewards that turn points into credit use it.
- `spend_store_credit` is the checkout: the guarded decrement of the balance decides, so
  concurrent spends never take the balance below zero and a spend over it is refused with
  INSUFFICIENT_STORE_CREDIT, writing nothing.
- `refund_store_credit` gives back all or part of one spend; the spend's `refunded_minor` is
  raised by a guarded update, so refunds together never give back more than it spent.

Lock order, as everywhere: the member row first (the balance update, or a no-op update before
reading a spend), then the spend's row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, fetch_all, fetch_one, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.validation import (
    EXTERNAL_ID_MAX,
    REASON_MAX,
    Checker,
)
from app.rows import Keyset, RowMapper
from app.services.core.idempotency import IdempotentRequest, run_once_by_id
from app.services.ledger.service import StoreCreditMovement, lock_member, post_store_credit
from app.services.members.service import require_member
from app.services.programs.service import ProgramScope, read_in_scope

_NEWEST_FIRST = Keyset(newest_first=True, within="member_id")
_ISSUE = "issueStoreCredit"
_SPEND = "spendStoreCredit"
_REFUND = "refundStoreCredit"


@dataclass(frozen=True)
class StoreCreditRecord:
    """One movement of a member's store credit."""

    id: int
    program_id: int
    member_id: int
    transaction_id: int
    kind: TransactionKind
    amount_minor: int
    currency: str
    balance_after_minor: int
    reason: str
    source_ref: str | None
    order_ref: str | None
    spend_id: int | None
    refunded_minor: int
    created_at: datetime


@dataclass(frozen=True)
class StoreCreditBalance:
    balance_minor: int
    currency: str


@dataclass(frozen=True)
class StoreCreditResult:
    movement: StoreCreditRecord
    replayed: bool


@dataclass(frozen=True)
class IssueStoreCreditInput:
    member_id: int
    amount_minor: int
    currency: str
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class SpendStoreCreditInput:
    member_id: int
    amount_minor: int
    currency: str
    order_id: str
    idempotency_key: str


@dataclass(frozen=True)
class RefundStoreCreditInput:
    spend_id: int
    idempotency_key: str
    # None gives back all that is left of the spend.
    amount_minor: int | None = None
    reason: str | None = None


movement_row = RowMapper(StoreCreditRecord)


async def get_movement(
    movement_id: int, scope: ProgramScope, conn: BaseDBAsyncClient | None = None
) -> StoreCreditRecord | None:
    return await read_in_scope(
        conn or connection(), movement_row, "store_credit_movements", movement_id, scope
    )


async def balance_of(member_id: int) -> StoreCreditBalance:
    row = await fetch_one(
        connection(),
        "SELECT m.store_credit_minor, p.currency FROM members m"
        " JOIN programs p ON p.id = m.program_id WHERE m.id = ?",
        (member_id,),
    )
    assert row is not None
    return StoreCreditBalance(
        balance_minor=int(row["store_credit_minor"]), currency=str(row["currency"])
    )


async def list_movements(
    member_id: int, *, before_id: int | None, limit: int
) -> list[StoreCreditRecord]:
    """Newest first, by keyset on the movement id (the (member_id, id) index)."""
    rows = await fetch_all(
        connection(),
        f"SELECT {movement_row.columns} FROM store_credit_movements"
        f" WHERE member_id = ?{_NEWEST_FIRST.clause}",
        (member_id, *_NEWEST_FIRST.params(before_id, limit, within=member_id)),
    )
    return movement_row.all(rows)


async def _program_currency(conn: BaseDBAsyncClient, program_id: int) -> str:
    row = await fetch_one(conn, "SELECT currency FROM programs WHERE id = ?", (program_id,))
    if row is None:
        raise RuntimeError(f"program {program_id} does not exist")
    return str(row["currency"])


def _check_currency(currency: str, program_currency: str) -> None:
    if currency.strip().upper() != program_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"store credit of this program is in {program_currency}, not {currency.strip()!r}",
            ["input", "currency"],
        )


def _check_amount(check: Checker, amount_minor: int) -> None:
    check.int_range(
        ["input", "amountMinor"], amount_minor, 1, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT
    )


async def _move(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    kind: TransactionKind,
    amount_minor: int,
    currency: str,
    reason: str,
    now: datetime,
    source_ref: str | None = None,
    order_ref: str | None = None,
    spend_id: int | None = None,
) -> StoreCreditRecord:
    posted = await post_store_credit(
        conn,
        StoreCreditMovement(
            program_id=program_id,
            member_id=member_id,
            kind=kind,
            amount_minor=amount_minor,
            currency=currency,
            description=reason,
            order_ref=order_ref,
            event_details={
                **({"sourceRef": source_ref} if source_ref else {}),
                **({"spendId": encode_id("StoreCreditMovement", spend_id)} if spend_id else {}),
            },
        ),
        now,
    )
    row = await fetch_one(
        conn,
        "INSERT INTO store_credit_movements (program_id, member_id, transaction_id, kind,"
        " amount_minor, currency, balance_after_minor, reason, source_ref, order_ref, spend_id,"
        f" refunded_minor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
        f" RETURNING {movement_row.columns}",
        (
            program_id,
            member_id,
            posted.transaction_id,
            kind.value,
            amount_minor,
            currency,
            posted.balance_after_minor,
            reason,
            source_ref,
            order_ref,
            spend_id,
            now,
        ),
    )
    assert row is not None
    return movement_row(row)


async def _credit(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    amount_minor: int,
    currency: str,
    reason: str,
    source_ref: str | None,
    now: datetime,
) -> StoreCreditRecord:
    check = Checker()
    _check_amount(check, amount_minor)
    checked_reason = check.text(["input", "reason"], reason, REASON_MAX)
    check.text(["input", "sourceRef"], source_ref, EXTERNAL_ID_MAX, required=False)
    check.raise_if_any()
    assert checked_reason is not None
    program_currency = await _program_currency(conn, program_id)
    _check_currency(currency, program_currency)
    return await _move(
        conn,
        program_id=program_id,
        member_id=member_id,
        kind=TransactionKind.STORE_CREDIT_ISSUE,
        amount_minor=amount_minor,
        currency=program_currency,
        reason=checked_reason,
        source_ref=source_ref.strip() if source_ref and source_ref.strip() else None,
        now=now,
    )


async def credit_store_credit(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    amount_minor: int,
    currency: str,
    reason: str,
    source_ref: str,
    now: datetime,
) -> int:
    """Add store credit to a member inside the caller's open transaction; the new balance.

    For services that give credit as part of their own write (a reward that turns points into
    credit): `source_ref` names what it came from (e.g. "redemption:42"). The caller's
    transaction holds its own idempotency; a DomainError (wrong currency, bad amount, balance
    limit) is raised before anything is written. The member row is locked by the balance update.
    """
    movement = await _credit(
        conn,
        program_id=program_id,
        member_id=member_id,
        amount_minor=amount_minor,
        currency=currency,
        reason=reason,
        source_ref=source_ref,
        now=now,
    )
    return movement.balance_after_minor


async def issue_store_credit(data: IssueStoreCreditInput, scope: ProgramScope) -> StoreCreditResult:
    """Goodwill credit from the store's staff, with a reason."""
    check = Checker()
    _check_amount(check, data.amount_minor)
    reason = check.text(["input", "reason"], data.reason, REASON_MAX)
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    assert reason is not None
    member = await require_member(data.member_id, scope)
    request = IdempotentRequest.for_member(
        member,
        key=data.idempotency_key,
        operation=_ISSUE,
        amountMinor=data.amount_minor,
        currency=data.currency.strip().upper(),
        reason=reason,
    )
    return await _run_movement_once(
        request,
        lambda conn, now: _credit(
            conn,
            program_id=member.program_id,
            member_id=member.id,
            amount_minor=data.amount_minor,
            currency=data.currency,
            reason=reason,
            source_ref=None,
            now=now,
        ),
    )


async def _run_movement_once(
    request: IdempotentRequest,
    perform: Callable[[BaseDBAsyncClient, datetime], Awaitable[StoreCreditRecord]],
) -> StoreCreditResult:
    """Every store-credit write: one transaction, once per key, replaying its movement."""
    now = utc_now()
    async with in_transaction() as conn:
        outcome = await run_once_by_id(
            conn,
            request,
            now=now,
            perform=lambda: perform(conn, now),
            remember_id_as="movementId",
            read=lambda movement_id: get_movement(movement_id, None, conn),
        )
    return StoreCreditResult(movement=outcome.value, replayed=outcome.replayed)


async def spend_store_credit(data: SpendStoreCreditInput, scope: ProgramScope) -> StoreCreditResult:
    """The checkout pays with the member's store credit for an order."""
    check = Checker()
    _check_amount(check, data.amount_minor)
    order_id = check.text(["input", "orderId"], data.order_id, EXTERNAL_ID_MAX)
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    assert order_id is not None
    member = await require_member(data.member_id, scope)
    program_currency = await _program_currency(connection(), member.program_id)
    _check_currency(data.currency, program_currency)
    request = IdempotentRequest.for_member(
        member,
        key=data.idempotency_key,
        operation=_SPEND,
        amountMinor=data.amount_minor,
        currency=program_currency,
        orderId=order_id,
    )
    return await _run_movement_once(
        request,
        lambda conn, now: _move(
            conn,
            program_id=member.program_id,
            member_id=member.id,
            kind=TransactionKind.STORE_CREDIT_SPEND,
            amount_minor=-data.amount_minor,
            currency=program_currency,
            reason=f"Order {order_id}",
            order_ref=order_id,
            now=now,
        ),
    )


async def refund_store_credit(
    data: RefundStoreCreditInput, scope: ProgramScope
) -> StoreCreditResult:
    """Give back all or part of a spend: never more than the spend took, over all its refunds."""
    check = Checker()
    if data.amount_minor is not None:
        _check_amount(check, data.amount_minor)
    reason = check.text(["input", "reason"], data.reason, REASON_MAX, required=False)
    check.idempotency_key(data.idempotency_key)
    check.raise_if_any()
    spend = await get_movement(data.spend_id, scope)
    if spend is None or spend.kind is not TransactionKind.STORE_CREDIT_SPEND:
        raise DomainError(
            ErrorCode.STORE_CREDIT_SPEND_NOT_FOUND,
            "no such store credit spend",
            ["input", "spendId"],
        )
    request = IdempotentRequest.of(
        scope=str(spend.program_id),
        key=data.idempotency_key,
        operation=_REFUND,
        payload={"spendId": spend.id, "amountMinor": data.amount_minor, "reason": reason},
    )
    return await _run_movement_once(
        request, lambda conn, now: _refund(conn, spend, data.amount_minor, reason, now)
    )


async def _refund(
    conn: BaseDBAsyncClient,
    spend: StoreCreditRecord,
    amount_minor: int | None,
    reason: str | None,
    now: datetime,
) -> StoreCreditRecord:
    # The member first (every store-credit writer takes it first), then the spend.
    await lock_member(conn, spend.member_id)
    current = await fetch_one(
        conn,
        "SELECT amount_minor, refunded_minor FROM store_credit_movements WHERE id = ?",
        (spend.id,),
    )
    assert current is not None
    left = -int(current["amount_minor"]) - int(current["refunded_minor"])
    amount = left if amount_minor is None else amount_minor
    taken = None
    if 0 < amount <= left:
        taken = await fetch_one(
            conn,
            "UPDATE store_credit_movements SET refunded_minor = refunded_minor + ?"
            " WHERE id = ? AND refunded_minor + ? <= -amount_minor RETURNING refunded_minor",
            (amount, spend.id, amount),
        )
    if taken is None:
        raise DomainError(
            ErrorCode.REFUND_EXCEEDS_SPEND,
            f"{left} of the spend's {-spend.amount_minor} minor units are left to refund,"
            f" not {amount}",
            ["input", "amountMinor"],
        )
    return await _move(
        conn,
        program_id=spend.program_id,
        member_id=spend.member_id,
        kind=TransactionKind.STORE_CREDIT_REFUND,
        amount_minor=amount,
        currency=spend.currency,
        reason=reason or f"Refund of order {spend.order_ref}",
        order_ref=spend.order_ref,
        spend_id=spend.id,
        now=now,
    )
