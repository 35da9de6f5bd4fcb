"""The ledger's journal writes: one transaction with its two entries and the day's rollup
(and, for a credit, the lot it opens and the order it pays for), after the guarded update of a
balance, in as few round trips as each database allows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import StatementRunner, fetch_one, is_postgres, run_together
from app.domain.analytics import LEDGER, customer_activity, ledger_dimension
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.services.analytics import rollups
from app.services.core.outbox import EVENT_COLUMNS, event_payload


@dataclass(frozen=True)
class LotOpening:
    """The lot a credit opens, written with its transaction (which it names)."""

    points: int
    expires_at: datetime | None
    pending_until: datetime | None


class Filled(Enum):
    """A value of a journal event's payload that is known only once the guard and the journal
    have run: filled in by the same hop or statement."""

    # The transaction's id, as the API's Activity id (app/domain/ids.py `encode_id`).
    ACTIVITY_ID = "activity"
    # The member's balances after the guarded update.
    AVAILABLE_AFTER = "available"
    PENDING_AFTER = "pending"


@dataclass(frozen=True)
class JournalEvent:
    """An outbox event (app/services/core/outbox.py) written with the journal, about the
    journal's member; values of its payload may be `Filled`."""

    type: str
    payload: dict[str, Any]
    # Replayed history (outbox.py `replaying`): kept, never sent as a webhook.
    replayed: bool


@dataclass(frozen=True)
class IdempotentResponse:
    """The response an idempotency record remembers (app/services/core/idempotency.py), written
    with the journal rather than in a statement of its own after it."""

    scope: str
    key: str
    response: dict[str, Any]


@dataclass(frozen=True)
class JournalWrite:
    """One journal transaction with its two entries: `amount` on the member's account,
    `-amount` on the counter account, so they sum to zero. `points` is the net change of the
    member's points recorded on the transaction row."""

    program_id: int
    member_id: int
    kind: TransactionKind
    points: int
    description: str
    order_ref: str | None
    member_account: Account
    counter_account: Account
    amount: int
    rollup: tuple[rollups.Row, ...] = ()
    opens_lot: LotOpening | None = None
    # The order whose points this transaction is: its row is pointed at the transaction.
    pays_order: int | None = None
    # Outbox events written after the journal, in this order (only with a guard).
    events: tuple[JournalEvent, ...] = ()
    # Written after `events` only when the guard's row shows no debt (`points_debt` 0): a
    # credit that leaves debt is followed by its recovery, which the caller's next events
    # must come after (app/services/ledger/service.py `post_movement`).
    events_unless_in_debt: tuple[JournalEvent, ...] = ()
    # The caller's idempotency record, given its response in the same hop or statement.
    remembers: IdempotentResponse | None = None


_INSERT_LOT = (
    "INSERT INTO point_lots (program_id, member_id, transaction_id, points, remaining,"
    " expires_at, pending_until, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINK_ORDER = "UPDATE orders SET transaction_id = ? WHERE id = ?"
_REMEMBER = "UPDATE idempotency_records SET response = ? WHERE scope = ? AND key = ?"


def _remembered(remembers: IdempotentResponse) -> tuple[str, str, str]:
    # As idempotency.store_response writes it.
    return (
        json.dumps(remembers.response, separators=(",", ":")),
        remembers.scope,
        remembers.key.strip(),
    )


def _filled(event: JournalEvent, transaction_id: int, guarded: dict[str, Any]) -> dict[str, Any]:
    values = {
        Filled.ACTIVITY_ID: encode_id("Activity", transaction_id),
        Filled.AVAILABLE_AFTER: int(guarded["points_available"]),
        Filled.PENDING_AFTER: int(guarded["points_pending"]),
    }
    return {
        name: values[value] if isinstance(value, Filled) else value
        for name, value in event.payload.items()
    }


async def insert_journal_transaction(
    conn: BaseDBAsyncClient, journal: JournalWrite, now: datetime
) -> int:
    """Write `journal` and return its transaction's id."""
    written = await guarded_journal(conn, None, journal, now)
    assert written is not None
    return written[1]


async def guarded_journal(
    conn: BaseDBAsyncClient,
    guard: tuple[str, list[object]] | None,
    journal: JournalWrite,
    now: datetime,
) -> tuple[dict[str, Any] | None, int] | None:
    """Run `guard` (a balance's guarded UPDATE ... RETURNING), then, if it changed a row,
    write `journal` with the day's rollup, its lot and its order's link: the guard's row and
    the transaction's id, or None when the guard refused (and nothing was written).

    With a guard, the journal's `events` (and `events_unless_in_debt`) and the response its
    idempotency record `remembers` are written in the same hop or statement, after it.

    On PostgreSQL all of it is one statement (data-modifying CTEs) instead of up to seven; on
    SQLite one hop to the database thread (`run_together`) instead of up to nine.
    """
    if guard is None and (journal.events or journal.events_unless_in_debt):
        raise ValueError("a journal's events are filled in from its guard's row")
    day = await rollups.day_of(conn, journal.program_id, now)
    rollup_rows = [
        (
            day,
            LEDGER,
            ledger_dimension(journal.kind, journal.member_account, journal.counter_account),
            journal.amount,
        ),
        *customer_activity(
            day, journal.member_id, journal.kind, journal.counter_account, journal.amount
        ),
        *journal.rollup,
    ]
    transaction = (
        journal.program_id,
        journal.member_id,
        journal.kind.value,
        journal.points,
        journal.description,
        journal.order_ref,
        now,
    )
    upsert = rollups.upsert_statement(conn, journal.program_id, rollup_rows)
    if is_postgres(conn):
        return await _write_at_once_on_postgres(
            conn,
            guard,
            transaction,
            (journal.member_account.value, journal.amount, journal.counter_account.value),
            upsert,
            journal,
            now,
        )

    def write(run: StatementRunner) -> tuple[dict[str, Any] | None, int] | None:
        guarded = None
        if guard is not None:
            rows = run(*guard)
            if not rows:
                return None
            guarded = rows[0]
        transaction_id = int(
            run(
                "INSERT INTO ledger_transactions (program_id, member_id, kind, points,"
                " description, order_ref, reverses_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL, ?) RETURNING id",
                transaction,
            )[0]["id"]
        )
        member_entry = (
            transaction_id,
            journal.program_id,
            journal.member_id,
            journal.member_account.value,
            journal.amount,
            False,
        )
        counter_entry = (
            transaction_id,
            journal.program_id,
            journal.member_id,
            journal.counter_account.value,
            -journal.amount,
            True,
        )
        run(
            "INSERT INTO ledger_entries (transaction_id, program_id, member_id, account, amount,"
            " closes_transaction) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
            (*member_entry, *counter_entry),
        )
        # The day's ledger rollup (app/services/analytics/rollups.py), in this transaction.
        if upsert is not None:
            run(*upsert)
        lot = journal.opens_lot
        if lot is not None:
            run(
                _INSERT_LOT,
                (
                    journal.program_id,
                    journal.member_id,
                    transaction_id,
                    lot.points,
                    lot.points,
                    lot.expires_at,
                    lot.pending_until,
                    now,
                ),
            )
        if journal.pays_order is not None:
            run(_LINK_ORDER, (transaction_id, journal.pays_order))
        if guarded is not None:
            events = journal.events
            if int(guarded["points_debt"]) == 0:
                events += journal.events_unless_in_debt
            if events:
                # One statement: its rows take their ids in the order given.
                run(
                    f"INSERT INTO outbox_events ({EVENT_COLUMNS}) VALUES "
                    + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in events),
                    [
                        value
                        for event in events
                        for value in (
                            journal.program_id,
                            journal.member_id,
                            event.type,
                            event_payload(_filled(event, transaction_id, guarded)),
                            now,
                            event.replayed,
                        )
                    ],
                )
        if journal.remembers is not None:
            run(_REMEMBER, _remembered(journal.remembers))
        return guarded, transaction_id

    return await run_together(conn, write)


async def _write_at_once_on_postgres(
    conn: BaseDBAsyncClient,
    guard: tuple[str, list[object]] | None,
    transaction: tuple[object, ...],
    entries: tuple[str, int, str],
    rollup: tuple[str, list[object]] | None,
    journal: JournalWrite,
    now: datetime,
) -> tuple[dict[str, Any] | None, int] | None:
    """PostgreSQL: `guarded_journal`'s statements as one, data-modifying CTEs: one round trip
    instead of two. The journal's rows are selected from the guard's row (`FROM g`, the rollup
    `WHERE EXISTS` a transaction), so when the guard changes no row nothing else is written;
    and reading it first, the statement locks the member's row before anything else, as the
    guard alone did. The entries are the member's first and the counter account's, closing,
    second. The lot and the order's link are selected from `t` too."""
    program_id, member_id = transaction[0], transaction[1]
    member_account, amount, counter_account = entries
    # Cast: selected rather than VALUES'd, the parameters get no type from the columns.
    statement = (f"WITH g AS ({guard[0]}), " if guard is not None else "WITH ") + (
        "t AS (INSERT INTO ledger_transactions (program_id, member_id, kind, points,"
        " description, order_ref, reverses_id, created_at) SELECT ?::bigint, ?::bigint,"
        " ?::text, ?::bigint, ?::text, ?::text, NULL::bigint, ?::timestamptz"
        + (" FROM g" if guard is not None else "")
        + " RETURNING id), e AS (INSERT INTO ledger_entries (transaction_id, program_id,"
        " member_id, account, amount, closes_transaction)"
        " SELECT t.id, ?::bigint, ?::bigint, ?, ?::bigint, FALSE FROM t"
        " UNION ALL SELECT t.id, ?::bigint, ?::bigint, ?, ?::bigint, TRUE FROM t)"
    )
    params: list[object] = [
        *(guard[1] if guard is not None else ()),
        *transaction,
        program_id,
        member_id,
        member_account,
        amount,
        program_id,
        member_id,
        counter_account,
        -amount,
    ]
    if rollup is not None:
        statement += f", r AS ({_only_with_a_transaction(rollup[0], len(rollup[1]))})"
        params += rollup[1]
    lot = journal.opens_lot
    if lot is not None:
        statement += (
            ", l AS (INSERT INTO point_lots (program_id, member_id, transaction_id, points,"
            " remaining, expires_at, pending_until, created_at) SELECT ?::bigint, ?::bigint,"
            " t.id, ?::bigint, ?::bigint, ?::timestamptz, ?::timestamptz, ?::timestamptz FROM t)"
        )
        params += [
            program_id,
            member_id,
            lot.points,
            lot.points,
            lot.expires_at,
            lot.pending_until,
            now,
        ]
    if journal.pays_order is not None:
        # The order's row comes from an earlier statement of the transaction: this one sees it.
        statement += (
            ", o AS (UPDATE orders SET transaction_id = t.id FROM t WHERE orders.id = ?::bigint)"
        )
        params.append(journal.pays_order)
    if journal.events or journal.events_unless_in_debt:
        events_sql, events_params = _events_on_postgres(journal, now)
        statement += events_sql
        params += events_params
    if journal.remembers is not None:
        statement += f", i AS ({_REMEMBER} AND EXISTS (SELECT 1 FROM t))"
        params += _remembered(journal.remembers)
    statement += " SELECT t.id AS transaction_id" + (", g.* FROM t, g" if guard else " FROM t")
    row = await fetch_one(conn, statement, params)
    if row is None:
        return None
    transaction_id = int(row.pop("transaction_id"))
    return (row if guard is not None else None), transaction_id


_ROLLUP_VALUES = "(?, ?, ?, ?, ?, pg_backend_pid() % 64)"


def _only_with_a_transaction(upsert: str, parameters: int) -> str:
    """The rollup upsert (`rollups.upsert_statement`) made to add its rows only when `t`
    wrote a transaction: its VALUES selected, with their types, where one exists."""
    rows = parameters // 5
    values = ", ".join(_ROLLUP_VALUES for _ in range(rows))
    head, found, tail = upsert.partition(f" VALUES {values} ")
    if not found:
        raise ValueError("the rollup upsert is not the one rollups.upsert_statement writes")
    typed = ", ".join("(?::bigint, ?::date, ?::text, ?::text, ?::bigint)" for _ in range(rows))
    return (
        f"{head} SELECT v.program_id, v.day, v.metric, v.dimension, v.value,"
        f" pg_backend_pid() % 64 FROM (VALUES {typed})"
        " AS v (program_id, day, metric, dimension, value)"
        f" WHERE EXISTS (SELECT 1 FROM t) {tail}"
    )


# The SQL of a `Filled` value, from the transaction `t` and the guard's row `g`: the Activity id
# as `encode_id` writes it (URL-safe base64 of "Activity:<id>", without its padding).
_FILLED_ON_POSTGRES = {
    Filled.ACTIVITY_ID: (
        "rtrim(translate(encode(convert_to('Activity:' || t.id::text, 'UTF8'), 'base64'),"
        " '+/', '-_'), '=')"
    ),
    Filled.AVAILABLE_AFTER: "g.points_available",
    Filled.PENDING_AFTER: "g.points_pending",
}


def _events_on_postgres(journal: JournalWrite, now: datetime) -> tuple[str, list[object]]:
    """The CTE writing the journal's events, in order, selected from `t` and `g` (so nothing
    when the guard refuses); `events_unless_in_debt` only where `g` shows no debt. Each payload
    is its known values with the `Filled` ones added from `t` and `g` (the column is jsonb: the
    keys' order is the database's either way)."""
    selects: list[str] = []
    params: list[object] = [journal.program_id, journal.member_id, now]
    ordered = [(event, False) for event in journal.events] + [
        (event, True) for event in journal.events_unless_in_debt
    ]
    for position, (event, unless_in_debt) in enumerate(ordered):
        known = {
            name: value for name, value in event.payload.items() if not isinstance(value, Filled)
        }
        filled = [
            (name, value) for name, value in event.payload.items() if isinstance(value, Filled)
        ]
        payload = "?::jsonb"
        params += [event.type, event_payload(known)]
        if filled:
            payload += (
                " || jsonb_build_object("
                + ", ".join(f"?::text, {_FILLED_ON_POSTGRES[value]}" for _, value in filled)
                + ")"
            )
            params += [name for name, _ in filled]
        params.append(event.replayed)
        selects.append(
            f"SELECT {position} AS n, ?::text AS type, {payload} AS payload,"
            " ?::boolean AS replayed FROM t, g"
            + (" WHERE g.points_debt = 0" if unless_in_debt else "")
        )
    # One INSERT whose rows come sorted: their ids are taken in the order given.
    return (
        f", v AS (INSERT INTO outbox_events ({EVENT_COLUMNS}) SELECT ?::bigint, ?::bigint,"
        " ev.type, ev.payload, ?::timestamptz, ev.replayed FROM ("
        + " UNION ALL ".join(selects)
        + ") AS ev ORDER BY ev.n)"
    ), params
