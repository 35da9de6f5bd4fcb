"""The points ledger: the only code that moves points.

`post_movement` runs inside the caller's transaction and writes, together, the journal
transaction, its two entries (summing to zero), the member's cached balances, the point lots
and the domain event. The SQL is written by hand: this is the hot path of every earn and
redemption, and Tortoise's query building cost as much as the database here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import execute, fetch_all, fetch_one
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_BALANCE, MAX_POINTS_PER_MOVEMENT
from app.services.events import append_event

_EVENT_TYPES = {
    TransactionKind.EARN_ORDER: "points.earned",
    TransactionKind.REDEEM: "points.redeemed",
    TransactionKind.ADJUST: "points.adjusted",
}


@dataclass(frozen=True)
class Movement:
    """Points moving between a member's available balance and one program account.

    `points` is the signed change of the member's available balance.
    """

    program_id: int
    member_id: int
    kind: TransactionKind
    points: int
    counter_account: Account
    description: str
    order_ref: str | None = None
    # Refusal when the member cannot cover a debit (the code differs per use case).
    shortfall_code: ErrorCode = ErrorCode.INSUFFICIENT_POINTS
    event_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostedTransaction:
    transaction_id: int
    available_after: int


async def post_movement(
    conn: BaseDBAsyncClient, movement: Movement, now: datetime
) -> PostedTransaction:
    """Write one movement inside the caller's open transaction; raises before any write fails.

    The balance update comes first: for a debit it is the guarded decrement that decides,
    atomically, whether the member can pay (and on PostgreSQL locks the member row, which
    serialises everything else this function does for that member).
    """
    if movement.points == 0:
        raise ValueError("a ledger movement must move points")
    points = movement.points
    if abs(points) > MAX_POINTS_PER_MOVEMENT:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"one movement moves at most {MAX_POINTS_PER_MOVEMENT} points, not {abs(points)}",
        )
    earned = points if movement.counter_account is Account.PROGRAM_ISSUED else 0
    redeemed = -points if movement.counter_account is Account.PROGRAM_REDEEMED else 0
    balance = await fetch_one(
        conn,
        "UPDATE members SET points_available = points_available + ?,"
        " lifetime_earned = lifetime_earned + ?, lifetime_redeemed = lifetime_redeemed + ?"
        " WHERE id = ? AND points_available + ? BETWEEN 0 AND ?"
        " AND lifetime_earned + ? <= ? AND lifetime_redeemed + ? <= ?"
        " RETURNING points_available",
        (
            points,
            earned,
            redeemed,
            movement.member_id,
            points,
            MAX_BALANCE,
            earned,
            MAX_BALANCE,
            redeemed,
            MAX_BALANCE,
        ),
    )
    if balance is None:
        field = ["input", "points"] if movement.kind is TransactionKind.ADJUST else None
        if points < 0:
            raise DomainError(
                movement.shortfall_code,
                f"the member has fewer than {-points} points available",
                field,
            )
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"a balance or lifetime total would pass {MAX_BALANCE} points",
            field,
        )
    transaction = await fetch_one(
        conn,
        "INSERT INTO ledger_transactions (program_id, member_id, kind, points, description,"
        " order_ref, reverses_id, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) RETURNING id",
        (
            movement.program_id,
            movement.member_id,
            movement.kind.value,
            points,
            movement.description,
            movement.order_ref,
            now,
        ),
    )
    assert transaction is not None
    transaction_id = int(transaction["id"])
    await execute(
        conn,
        "INSERT INTO ledger_entries (transaction_id, program_id, member_id, account, amount,"
        " closes_transaction) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
        (
            transaction_id,
            movement.program_id,
            movement.member_id,
            Account.MEMBER_AVAILABLE.value,
            points,
            False,
            transaction_id,
            movement.program_id,
            movement.member_id,
            movement.counter_account.value,
            -points,
            True,
        ),
    )
    if points > 0:
        await execute(
            conn,
            "INSERT INTO point_lots (program_id, member_id, transaction_id, points, remaining,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (movement.program_id, movement.member_id, transaction_id, points, points, now),
        )
    else:
        await _consume_lots(conn, movement.member_id, -points)
    available_after = int(balance["points_available"])
    await append_event(
        conn,
        program_id=movement.program_id,
        member_id=movement.member_id,
        event_type=_EVENT_TYPES[movement.kind],
        payload={
            "activityId": encode_id("Activity", transaction_id),
            "memberId": encode_id("Member", movement.member_id),
            "kind": movement.kind.value,
            "points": points,
            "availableAfter": available_after,
            "description": movement.description,
            **({"orderId": movement.order_ref} if movement.order_ref else {}),
            **movement.event_details,
        },
        now=now,
    )
    return PostedTransaction(transaction_id=transaction_id, available_after=available_after)


async def _consume_lots(conn: BaseDBAsyncClient, member_id: int, points: int) -> None:
    """Spend `points` from the lots that expire first (never-expiring ones last), oldest first."""
    lots = await fetch_all(
        conn,
        "SELECT id, remaining FROM point_lots WHERE member_id = ? AND remaining > 0"
        " ORDER BY expires_at IS NULL, expires_at, id",
        (member_id,),
    )
    left = points
    for lot in lots:
        if left == 0:
            break
        taken = min(left, int(lot["remaining"]))
        await execute(
            conn,
            "UPDATE point_lots SET remaining = remaining - ? WHERE id = ?",
            (taken, lot["id"]),
        )
        left -= taken
    if left:
        # The cached balance said yes but the lots disagree: the ledger is inconsistent, and
        # `laurel verify-ledger` will name the member. Refuse rather than spend phantom points.
        raise RuntimeError(f"point lots of member {member_id} are short by {left} points")
