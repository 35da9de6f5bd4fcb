"""The ledger's journal writes: one transaction with its two entries and the day's rollup
(and, for a credit, the lot it opens and the order it pays for), after the guarded update of a
balance, in as few round trips as each database allows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import StatementRunner, fetch_one, is_postgres, run_together
from app.domain.analytics import LEDGER, customer_activity, ledger_dimension
from app.domain.ledger import Account, TransactionKind
from app.services.analytics import rollups


@dataclass(frozen=True)
class LotOpening:
    """The lot a credit opens, written with its transaction (which it names)."""

    points: int
    expires_at: datetime | None
    pending_until: datetime | None


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


_INSERT_LOT = (
    "INSERT INTO point_lots (program_id, member_id, transaction_id, points, remaining,"
    " expires_at, pending_until, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINK_ORDER = "UPDATE orders SET transaction_id = ? WHERE id = ?"


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

    On PostgreSQL all of it is one statement (data-modifying CTEs) instead of up to four; on
    SQLite one hop to the database thread (`run_together`) instead of up to six.
    """
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
