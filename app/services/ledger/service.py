"""The points ledger: the only code that moves points.

`post_movement` runs inside the caller's transaction and writes, together, the journal
transaction, its two entries (summing to zero), the member's cached balances, the point lots
and the domain event. The SQL is written by hand: this is the hot path of every earn and
redemption, and Tortoise's query building cost as much as the database here.

A movement has a member side (the member's available or pending account) and a counter side
(a program account, or the member's pending account when pending points mature). Lots follow
the member's points: a credit from a program account opens a lot (pending while
`pending_until` is set), a debit of available points spends available lots, and maturing turns a
pending lot into an available one (`mature_lot`). A lot that becomes available gets its expiry
date from the program's policy then (app/domain/expiry.py); an expiry debit names the lots it
empties.

A credit of available points to a member in debt (MEMBER_DEBT, see app/domain/ledger.py) is
followed at once by a DEBT_RECOVERY transaction, so a member who owes points has none to spend.

Store credit (money) moves through `post_store_credit`, the same journal with its own two
accounts and its own cached balance (`members.store_credit_minor`); it has no lots and never
shares a journal transaction with points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    StatementRunner,
    as_datetime,
    as_optional_datetime,
    execute,
    execute_many,
    fetch_one,
    is_postgres,
    run_together,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import ExpiryPolicy, ExpirySettings, LifetimeUnit, RoundTo
from app.domain.ids import encode_id
from app.domain.ledger import (
    MEMBER_ACTIVITY_KINDS,
    STORE_CREDIT_KINDS,
    Account,
    TransactionKind,
)
from app.domain.money import MAX_AMOUNT_MINOR, MAX_BALANCE, MAX_POINTS_PER_MOVEMENT
from app.services.analytics import rollups
from app.services.core.events import append_event, written_with_a_movement
from app.services.core.outbox import is_replaying, written_by_another_statement
from app.services.ledger.journal import (
    Filled,
    IdempotentResponse,
    JournalEvent,
    JournalWrite,
    LotOpening,
    guarded_journal,
    insert_journal_transaction,
)

_EVENT_TYPES = {
    TransactionKind.EARN_ORDER: "points.earned",
    TransactionKind.REDEEM: "points.spent",
    TransactionKind.ADJUST: "points.adjusted",
    TransactionKind.MATURE: "points.matured",
    TransactionKind.REFUND: "points.reversed",
    TransactionKind.ACTION: "points.earned",
    TransactionKind.EXPIRE: "points.expired",
    TransactionKind.DEBT_RECOVERY: "points.debt_recovered",
    TransactionKind.REFERRAL: "points.earned",
    TransactionKind.PUNCH_CARD: "points.earned",
    TransactionKind.STORE_CREDIT_ISSUE: "store_credit.issued",
    TransactionKind.STORE_CREDIT_SPEND: "store_credit.spent",
    TransactionKind.STORE_CREDIT_REFUND: "store_credit.refunded",
    TransactionKind.TIER_REWARD: "points.earned",
    TransactionKind.MEMBERSHIP_REWARD: "points.earned",
    TransactionKind.REDEMPTION_CANCELLED: "points.returned",
    TransactionKind.CHALLENGE: "points.earned",
    TransactionKind.IMPORT: "points.imported",
}


@dataclass(frozen=True)
class Movement:
    """`points` move onto `member_account` (negative: off it) from `counter_account`."""

    program_id: int
    member_id: int
    kind: TransactionKind
    points: int
    counter_account: Account
    description: str
    member_account: Account = Account.MEMBER_AVAILABLE
    order_ref: str | None = None
    # For a credit to the pending account: when the points become available.
    pending_until: datetime | None = None
    # For a debit of the pending account: the pending lot it comes out of.
    lot_id: int | None = None
    # For an expiry: the available lots it empties, with what is left in each.
    expiring_lots: tuple[tuple[int, int], ...] = ()
    # The program's expiry settings when the caller has them (saves reading them again).
    expiry: ExpirySettings | None = None
    # Refusal when the member cannot cover a debit (the code differs per use case), and the
    # input that asked for the points, which that refusal (or one for a total out of range)
    # names as its field.
    shortfall_code: ErrorCode = ErrorCode.INSUFFICIENT_POINTS
    asked_by: tuple[str, ...] | None = None
    event_details: dict[str, Any] = field(default_factory=dict)
    # The event type when the kind's own would mislead (a take-back posted with the kind of
    # the gift it reverses is not "points.earned").
    event_type: str | None = None
    # Points given back after a redemption: the lot expires then at the latest (see
    # `returned_points_expiry`), not a full new lifetime from now.
    expires_no_later_than: datetime | None = None
    # A credit split into lots of their own (points, expiry: None never expires), summing to
    # `points`: an imported opening balance keeps the old program's expiry dates.
    lots: tuple[tuple[int, datetime | None], ...] = ()
    # The order whose points these are: its row is pointed at the transaction by the
    # movement's own statement.
    pays_order: int | None = None
    # Other analytics rollup rows of the caller's write, added by the movement's own upsert
    # (an order's, app/services/orders/service.py): one statement for both.
    rollup: tuple[rollups.Row, ...] = ()
    # Events about the member (type, payload) the caller would append right after the movement
    # (an order's `order.recorded`): written by the movement's own statement after its event,
    # or, when the credit leaves debt to recover, after that recovery's.
    then_events: tuple[tuple[str, dict[str, Any]], ...] = ()
    # The caller's idempotency record and its response, written by the movement's statement.
    remembers: IdempotentResponse | None = None


@dataclass(frozen=True)
class PostedTransaction:
    transaction_id: int
    available_after: int
    pending_after: int
    debt_after: int = 0
    # A debit of available points: the earliest expiry among the lots it spent (None when
    # they never expire, or nothing was taken from available lots).
    spent_lots_expire_at: datetime | None = None


async def lock_member(conn: BaseDBAsyncClient, member_id: int) -> bool:
    """Lock the member row (on PostgreSQL; SQLite's writer lock covers it), the first lock of
    every transaction that writes a member's points, so writers never deadlock. False when
    there is no such member."""
    return await lock_member_row(conn, member_id) is not None


async def lock_member_row(
    conn: BaseDBAsyncClient, member_id: int, columns: str = "id", *, changes_keys: bool = False
) -> dict[str, Any] | None:
    """`lock_member`, reading the member's `columns` as the row is locked; None when there is
    no such member.

    `changes_keys`: the caller will change a column of a unique key (the customer id, the card
    number). On PostgreSQL that update needs the strongest row lock, which waits for every
    transaction holding the row's key-share lock: the one an order's insert takes through its
    foreign key, before that order's movement locks the member. Taken late, as the update
    itself, it would wait for the order while the order waits for this transaction's weaker
    lock: a deadlock. Taken first, it waits for the order to finish, and the order can still
    strengthen its own key-share lock past the waiting caller."""
    if changes_keys and is_postgres(conn):
        return await fetch_one(
            conn, f"SELECT {columns} FROM members WHERE id = ? FOR UPDATE", (member_id,)
        )
    return await fetch_one(
        conn,
        f"UPDATE members SET points_available = points_available WHERE id = ? RETURNING {columns}",
        (member_id,),
    )


# The tables whose rows belong to one member and are changed under that member's lock.
MemberOwnedTable = Literal["memberships", "redemptions", "referral_rewards"]


async def lock_owner(conn: BaseDBAsyncClient, table: MemberOwnedTable, row_id: int) -> bool:
    """Lock the member who owns row `row_id` of `table`, before the caller touches that row:
    the member first, then the row, the order every writer takes them in, so none deadlock.
    False when there is no such row."""
    row = await fetch_one(conn, f"SELECT member_id FROM {table} WHERE id = ?", (row_id,))
    return row is not None and await lock_member(conn, int(row["member_id"]))


@dataclass(frozen=True)
class _Deltas:
    available: int
    pending: int
    debt: int
    earned: int
    redeemed: int


def _balance_deltas(movement: Movement) -> _Deltas:
    """How a movement changes each of the member's cached balances."""
    points = movement.points
    member, counter = movement.member_account, movement.counter_account
    pending = points if member is Account.MEMBER_PENDING else 0
    if counter is Account.MEMBER_PENDING:
        pending -= points
    debt = -points if member is Account.MEMBER_DEBT else 0
    if counter is Account.MEMBER_DEBT:
        debt += points
    return _Deltas(
        available=points if member is Account.MEMBER_AVAILABLE else 0,
        pending=pending,
        debt=debt,
        earned=points if counter is Account.PROGRAM_ISSUED else 0,
        redeemed=-points if counter is Account.PROGRAM_REDEEMED else 0,
    )


_MEMBER_ACCOUNTS = frozenset(
    {Account.MEMBER_AVAILABLE, Account.MEMBER_PENDING, Account.MEMBER_DEBT}
)


async def expiry_settings(conn: BaseDBAsyncClient, program_id: int) -> ExpirySettings:
    row = await fetch_one(
        conn,
        "SELECT expiry_policy, expiry_lifetime, expiry_lifetime_unit, expiry_round_to,"
        " inactivity_months, expiry_since, time_zone, expiry_warning_days"
        " FROM programs WHERE id = ?",
        (program_id,),
    )
    if row is None:
        raise RuntimeError(f"program {program_id} does not exist")
    return expiry_settings_of(row)


def expiry_settings_of(row: dict[str, Any]) -> ExpirySettings:
    """A program's expiry settings from its row (the `programs` columns they are kept in)."""
    return ExpirySettings(
        policy=ExpiryPolicy(row["expiry_policy"]),
        lifetime=int(row["expiry_lifetime"]),
        unit=LifetimeUnit(row["expiry_lifetime_unit"]),
        round_to=RoundTo(row["expiry_round_to"]),
        inactivity_months=int(row["inactivity_months"]),
        since=as_optional_datetime(row["expiry_since"]),
        zone=str(row["time_zone"]),
        warning_days=int(row["expiry_warning_days"]),
    )


async def post_movement(
    conn: BaseDBAsyncClient, movement: Movement, now: datetime
) -> PostedTransaction:
    """Write one movement inside the caller's open transaction; raises before any write fails.

    The balance update comes first: for a debit it is the guarded decrement that decides,
    atomically, whether the member can pay (and on PostgreSQL locks the member row, which
    serialises everything else this function does for that member).
    """
    _check_movement(movement)
    points = movement.points
    deltas = _balance_deltas(movement)
    # Net change of the member's points: maturing and debt recovery move points between the
    # member's own accounts and change nothing in total.
    net_points = 0 if movement.counter_account in _MEMBER_ACCOUNTS else points
    opens_lot = await _lot_of_credit(conn, movement, now)
    replayed = is_replaying()
    # The movement's event, and the caller's next ones, written by the movement's statement.
    own_event = JournalEvent(_event_type(movement), _event_payload(movement), replayed)
    then_events = tuple(
        JournalEvent(event_type, payload, replayed) for event_type, payload in movement.then_events
    )
    # A credit of available points to a member in debt is followed by the debt's recovery,
    # whose event comes before the caller's next ones.
    may_recover_debt = deltas.available > 0
    written = await guarded_journal(
        conn,
        _balance_update(movement, deltas, now),
        JournalWrite(
            program_id=movement.program_id,
            member_id=movement.member_id,
            kind=movement.kind,
            points=net_points,
            description=movement.description,
            order_ref=movement.order_ref,
            member_account=movement.member_account,
            counter_account=movement.counter_account,
            amount=points,
            rollup=movement.rollup,
            opens_lot=opens_lot,
            pays_order=movement.pays_order,
            events=(own_event,) + (() if may_recover_debt else then_events),
            events_unless_in_debt=then_events if may_recover_debt else (),
            remembers=movement.remembers,
        ),
        now,
    )
    if written is None:
        raise _out_of_range(movement)
    written_by_another_statement()
    balance, transaction_id = written
    assert balance is not None
    await written_with_a_movement(
        conn, program_id=movement.program_id, member_id=movement.member_id, now=now
    )
    spent_lots_expire_at = (
        None if opens_lot is not None else await _move_lots(conn, movement, transaction_id, now)
    )
    available_after = int(balance["points_available"])
    pending_after = int(balance["points_pending"])
    debt_after = int(balance["points_debt"])
    posted = PostedTransaction(
        transaction_id=transaction_id,
        available_after=available_after,
        pending_after=pending_after,
        debt_after=debt_after,
        spent_lots_expire_at=spent_lots_expire_at,
    )
    if may_recover_debt and debt_after > 0:
        await _recover_debt(conn, movement, posted, now)
        # The statement left the caller's next events out (`events_unless_in_debt`).
        for event_type, payload in movement.then_events:
            await append_event(
                conn,
                program_id=movement.program_id,
                member_id=movement.member_id,
                event_type=event_type,
                payload=payload,
                now=now,
            )
    return posted


def _event_payload(movement: Movement) -> dict[str, Any]:
    """The movement's event, with what its statement fills in (`Filled`)."""
    return {
        "activityId": Filled.ACTIVITY_ID,
        "memberId": encode_id("Member", movement.member_id),
        "kind": movement.kind.value,
        "points": movement.points,
        "availableAfter": Filled.AVAILABLE_AFTER,
        "pendingAfter": Filled.PENDING_AFTER,
        "description": movement.description,
        **({"orderId": movement.order_ref} if movement.order_ref else {}),
        **(
            {"maturesAt": movement.pending_until.isoformat()}
            if movement.pending_until is not None
            else {}
        ),
        **movement.event_details,
    }


def _event_type(movement: Movement) -> str:
    """Points credited as pending are announced as `points.pending`, whatever earned them: a
    message saying "you earned" them would be wrong until `points.matured`."""
    if movement.event_type is not None:
        return movement.event_type
    if movement.pending_until is not None:
        return "points.pending"
    return _EVENT_TYPES[movement.kind]


def _check_movement(movement: Movement) -> None:
    if movement.points == 0:
        raise ValueError("a ledger movement must move points")
    pending_credit = movement.member_account is Account.MEMBER_PENDING and movement.points > 0
    if (movement.pending_until is not None) != pending_credit:
        raise ValueError("a credit of pending points, and only that, needs pending_until")
    if (movement.lot_id is not None) != (
        movement.member_account is Account.MEMBER_PENDING and movement.points < 0
    ):
        raise ValueError("a debit of pending points, and only that, names its lot")
    if movement.lots and (
        movement.points <= 0
        or sum(points for points, _ in movement.lots) != movement.points
        or any(points <= 0 for points, _ in movement.lots)
        or movement.member_account is not Account.MEMBER_AVAILABLE
    ):
        raise ValueError("lots of a credit to available points must add up to its points")
    size = abs(movement.points)
    if size > MAX_POINTS_PER_MOVEMENT:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"one movement moves at most {MAX_POINTS_PER_MOVEMENT} points, not {size}",
        )


def _balance_update(movement: Movement, deltas: _Deltas, now: datetime) -> tuple[str, list[object]]:
    """The guarded update of the member's balances: it changes no row when it would take one
    out of range (`_out_of_range`)."""
    activity_at = now if movement.kind in MEMBER_ACTIVITY_KINDS else None
    return (
        "UPDATE members SET points_available = points_available + ?,"
        " points_pending = points_pending + ?, points_debt = points_debt + ?,"
        " lifetime_earned = lifetime_earned + ?, lifetime_redeemed = lifetime_redeemed + ?,"
        " last_activity_at = COALESCE(?, last_activity_at)"
        " WHERE id = ? AND points_available + ? BETWEEN 0 AND ?"
        " AND points_pending + ? BETWEEN 0 AND ? AND points_debt + ? BETWEEN 0 AND ?"
        " AND lifetime_earned + ? <= ? AND lifetime_redeemed + ? <= ?"
        " RETURNING points_available, points_pending, points_debt",
        [
            deltas.available,
            deltas.pending,
            deltas.debt,
            deltas.earned,
            deltas.redeemed,
            activity_at,
            movement.member_id,
            deltas.available,
            MAX_BALANCE,
            deltas.pending,
            MAX_BALANCE,
            deltas.debt,
            MAX_BALANCE,
            deltas.earned,
            MAX_BALANCE,
            deltas.redeemed,
            MAX_BALANCE,
        ],
    )


def _out_of_range(movement: Movement) -> DomainError:
    """Why the guarded balance update refused `movement`."""
    field_path = None if movement.asked_by is None else list(movement.asked_by)
    if movement.points < 0:
        return DomainError(
            movement.shortfall_code,
            f"the member has fewer than {-movement.points} points available",
            field_path,
        )
    return DomainError(
        ErrorCode.POINTS_LIMIT_EXCEEDED,
        f"a balance or lifetime total would pass {MAX_BALANCE} points",
        field_path,
    )


async def _lot_of_credit(
    conn: BaseDBAsyncClient, movement: Movement, now: datetime
) -> LotOpening | None:
    """The one lot a credit from outside the member's accounts opens (written with its
    transaction); None for any other movement (`_move_lots` moves its lots)."""
    points = movement.points
    if movement.lots or points <= 0 or movement.counter_account in _MEMBER_ACCOUNTS:
        return None
    expires_at = (
        None
        if movement.pending_until is not None
        else (movement.expiry or await expiry_settings(conn, movement.program_id)).lot_expires_at(
            now
        )
    )
    if movement.expires_no_later_than is not None and (
        expires_at is None or movement.expires_no_later_than < expires_at
    ):
        expires_at = movement.expires_no_later_than
    return LotOpening(points=points, expires_at=expires_at, pending_until=movement.pending_until)


async def _move_lots(
    conn: BaseDBAsyncClient, movement: Movement, transaction_id: int, now: datetime
) -> datetime | None:
    """A credit of several lots opens them; a debit takes from lots (the one lot of any other
    credit is `_lot_of_credit`'s). Returns when the spent lots would have expired, for a spend
    of available points."""
    points = movement.points
    if movement.lots:
        await _insert_lots(conn, movement, transaction_id, now)
    elif points < 0 and movement.expiring_lots:
        await _expire_lots(conn, movement, transaction_id)
    elif points < 0 and movement.member_account is Account.MEMBER_AVAILABLE:
        return await _consume_lots(conn, movement.member_id, -points)
    elif points < 0 and movement.member_account is Account.MEMBER_PENDING:
        taken = await execute(
            conn,
            "UPDATE point_lots SET remaining = remaining - ? WHERE id = ? AND member_id = ?"
            " AND pending_until IS NOT NULL AND remaining >= ?",
            (-points, movement.lot_id, movement.member_id, -points),
        )
        if taken != 1:
            raise RuntimeError(f"pending lot {movement.lot_id} cannot give {-points} points")
    return None


async def _insert_lots(
    conn: BaseDBAsyncClient, movement: Movement, transaction_id: int, now: datetime
) -> None:
    """The lots of a credit that names its own (an imported opening balance)."""
    await execute_many(
        conn,
        "INSERT INTO point_lots (program_id, member_id, transaction_id, points, remaining,"
        " expires_at, pending_until, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
        [
            (movement.program_id, movement.member_id, transaction_id, points, points, expires, now)
            for points, expires in movement.lots
        ],
    )


async def _recover_debt(
    conn: BaseDBAsyncClient, credit: Movement, posted: PostedTransaction, now: datetime
) -> None:
    repaid = min(posted.available_after, posted.debt_after)
    await post_movement(
        conn,
        Movement(
            program_id=credit.program_id,
            member_id=credit.member_id,
            kind=TransactionKind.DEBT_RECOVERY,
            points=-repaid,
            counter_account=Account.MEMBER_DEBT,
            description=f"{repaid} points repay what refunds could not take back",
            order_ref=credit.order_ref,
        ),
        now,
    )


async def _expire_lots(conn: BaseDBAsyncClient, movement: Movement, transaction_id: int) -> None:
    if sum(left for _, left in movement.expiring_lots) != -movement.points:
        raise ValueError("an expiry takes exactly what is left in the lots it names")
    for lot_id, left in movement.expiring_lots:
        taken = await execute(
            conn,
            "UPDATE point_lots SET remaining = remaining - ?, expired_by_id = ?,"
            " expired_points = expired_points + ?"
            " WHERE id = ? AND member_id = ? AND remaining = ? AND pending_until IS NULL",
            (left, transaction_id, left, lot_id, movement.member_id, left),
        )
        if taken != 1:
            raise RuntimeError(f"lot {lot_id} no longer holds the {left} points to expire")


_SPENDABLE_LOTS = (
    "SELECT id, remaining, expires_at FROM point_lots WHERE member_id = ? AND remaining > 0"
    " AND pending_until IS NULL ORDER BY expires_at IS NULL, expires_at, id"
)
# PostgreSQL: `_consume_lots` as one statement. Each lot in spending order with what the lots
# before it hold (`before`); every lot whose predecessors hold less than the points gives
# what it has, or what is still owed.
_CONSUME_LOTS_ON_POSTGRES = (
    "WITH l AS (SELECT id, remaining, expires_at, ROW_NUMBER() OVER w AS n,"
    " (SUM(remaining) OVER w - remaining)::bigint AS before FROM point_lots"
    " WHERE member_id = ? AND remaining > 0 AND pending_until IS NULL"
    " WINDOW w AS (ORDER BY expires_at IS NULL, expires_at, id"
    " ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),"
    " u AS (UPDATE point_lots SET remaining = point_lots.remaining"
    " - LEAST(l.remaining, ?::bigint - l.before) FROM l"
    " WHERE point_lots.id = l.id AND l.before < ?::bigint"
    " RETURNING LEAST(l.remaining, ?::bigint - l.before) AS taken)"
    " SELECT (SELECT expires_at FROM l WHERE n = 1) AS earliest,"
    " (SELECT COALESCE(SUM(taken), 0) FROM u)::bigint AS taken"
)


async def _consume_lots(conn: BaseDBAsyncClient, member_id: int, points: int) -> datetime | None:
    """Spend `points` from the available lots that expire first (never-expiring ones last);
    the expiry of the first lot taken, which is the earliest (None: they never expire).

    One statement on PostgreSQL, one hop on SQLite, however many lots it takes from (the
    member's row is locked: no other writer changes these lots meanwhile)."""
    if is_postgres(conn):
        spent = await fetch_one(
            conn, _CONSUME_LOTS_ON_POSTGRES, (member_id, points, points, points)
        )
        assert spent is not None
        earliest = as_optional_datetime(spent["earliest"])
        left = points - int(spent["taken"])
    else:

        def consume(run: StatementRunner) -> tuple[datetime | None, int]:
            lots = run(_SPENDABLE_LOTS, (member_id,))
            first = as_optional_datetime(lots[0]["expires_at"]) if lots else None
            left = points
            for lot in lots:
                if left == 0:
                    break
                taken = min(left, int(lot["remaining"]))
                run(
                    "UPDATE point_lots SET remaining = remaining - ? WHERE id = ?",
                    (taken, lot["id"]),
                )
                left -= taken
            return first, left

        earliest, left = await run_together(conn, consume)
    if left:
        # The cached balance said yes but the lots disagree: the ledger is inconsistent, and
        # `laurel verify-ledger` will name the member. Refuse rather than spend phantom points.
        raise RuntimeError(f"point lots of member {member_id} are short by {left} points")
    return earliest


async def mature_lot(
    conn: BaseDBAsyncClient, lot_id: int, now: datetime
) -> PostedTransaction | None:
    """Make a due pending lot spendable; None when another runner already did.

    The guarded update of the lot is what makes maturing happen once, whoever runs it.
    """
    due = await fetch_one(
        conn, "SELECT member_id, pending_until FROM point_lots WHERE id = ?", (lot_id,)
    )
    if due is None:
        return None
    # The member first, then the lot: the order every writer takes them in (a refund of the
    # order locks the member before its pending lot), so the two cannot deadlock.
    await lock_member(conn, int(due["member_id"]))
    lot = await fetch_one(
        conn,
        "UPDATE point_lots SET pending_until = NULL WHERE id = ? AND pending_until IS NOT NULL"
        " AND pending_until <= ? RETURNING program_id, member_id, remaining, transaction_id",
        (lot_id, now),
    )
    if lot is None:
        return None
    # The lot became available when its pending period ended, however late the job ran.
    became_available = as_datetime(due["pending_until"])
    settings = await expiry_settings(conn, int(lot["program_id"]))
    expires_at = settings.lot_expires_at(became_available)
    if expires_at is not None:
        await execute(
            conn, "UPDATE point_lots SET expires_at = ? WHERE id = ?", (expires_at, lot_id)
        )
    remaining = int(lot["remaining"])
    if remaining == 0:
        return None
    origin = await fetch_one(
        conn, "SELECT order_ref FROM ledger_transactions WHERE id = ?", (lot["transaction_id"],)
    )
    order_ref = origin["order_ref"] if origin else None
    return await post_movement(
        conn,
        Movement(
            program_id=int(lot["program_id"]),
            member_id=int(lot["member_id"]),
            kind=TransactionKind.MATURE,
            points=remaining,
            counter_account=Account.MEMBER_PENDING,
            description=(
                f"{remaining} points from order {order_ref} are now available"
                if order_ref
                else f"{remaining} pending points are now available"
            ),
            order_ref=order_ref,
        ),
        now,
    )


@dataclass(frozen=True)
class StoreCreditMovement:
    """`amount_minor` of store credit moves onto the member's balance (negative: off it)."""

    program_id: int
    member_id: int
    kind: TransactionKind
    amount_minor: int
    currency: str
    description: str
    order_ref: str | None = None
    event_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostedStoreCredit:
    transaction_id: int
    balance_after_minor: int


async def post_store_credit(
    conn: BaseDBAsyncClient, movement: StoreCreditMovement, now: datetime
) -> PostedStoreCredit:
    """Write one store-credit movement inside the caller's open transaction.

    As with points, the guarded update of the cached balance comes first: for a spend it
    decides atomically whether the member has the credit (and on PostgreSQL locks the member
    row). The journal transaction has exactly two entries, MEMBER_STORE_CREDIT and
    PROGRAM_STORE_CREDIT, summing to zero, and moves no points (`points` 0).
    """
    if movement.kind not in STORE_CREDIT_KINDS:
        raise ValueError(f"{movement.kind} is not a store-credit kind")
    amount = movement.amount_minor
    if amount == 0 or abs(amount) > MAX_AMOUNT_MINOR:
        raise ValueError(f"a store-credit movement moves 1..{MAX_AMOUNT_MINOR}, not {amount}")
    if (amount < 0) != (movement.kind is TransactionKind.STORE_CREDIT_SPEND):
        raise ValueError("spends, and only spends, take store credit off the member")
    balance = await fetch_one(
        conn,
        "UPDATE members SET store_credit_minor = store_credit_minor + ?"
        " WHERE id = ? AND store_credit_minor + ? BETWEEN 0 AND ?"
        " RETURNING store_credit_minor",
        (amount, movement.member_id, amount, MAX_BALANCE),
    )
    if balance is None:
        if amount < 0:
            raise DomainError(
                ErrorCode.INSUFFICIENT_STORE_CREDIT,
                f"the member has less than {-amount} {movement.currency} minor units of store"
                " credit",
                ["input", "amountMinor"],
            )
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"the member's store credit would pass {MAX_BALANCE} minor units",
            ["input", "amountMinor"],
        )
    transaction_id = await insert_journal_transaction(
        conn,
        JournalWrite(
            program_id=movement.program_id,
            member_id=movement.member_id,
            kind=movement.kind,
            points=0,
            description=movement.description,
            order_ref=movement.order_ref,
            member_account=Account.MEMBER_STORE_CREDIT,
            counter_account=Account.PROGRAM_STORE_CREDIT,
            amount=amount,
        ),
        now,
    )
    balance_after = int(balance["store_credit_minor"])
    await append_event(
        conn,
        program_id=movement.program_id,
        member_id=movement.member_id,
        event_type=_EVENT_TYPES[movement.kind],
        payload={
            "memberId": encode_id("Member", movement.member_id),
            "kind": movement.kind.value,
            "amountMinor": amount,
            "currency": movement.currency,
            "balanceAfterMinor": balance_after,
            "description": movement.description,
            **({"orderId": movement.order_ref} if movement.order_ref else {}),
            **movement.event_details,
        },
        now=now,
    )
    return PostedStoreCredit(transaction_id=transaction_id, balance_after_minor=balance_after)
