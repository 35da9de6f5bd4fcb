"""`laurel analytics rebuild`: the daily rollups recomputed from the raw tables.

What the writes keep incrementally (app/services/analytics/rollups.py) must equal what this
recomputes: orders by the day they were placed, their totals and refunded money in the
program's currency, enrolments by day, every journal transaction by day, kind and accounts,
rewards redeemed by day and kind, and each customer's activity by month (orders, revenue,
earnings, redemptions, enrolment).
`compare` says where they differ; `rebuild` replaces a program's rows with the recomputation
(after a change of the program's time zone, or to fill the rollups of history recorded before
migration 0021). It reads the raw tables in batches of `BATCH` rows, so its memory is bounded
by the number of rollup rows, not of orders or entries.

A rebuild replaces the rows in one transaction; writes that commit while it computes may be
counted twice or not at all, so it is meant for a quiet moment (it takes a few seconds per
million rows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_date, as_datetime, connection, execute, fetch_all, in_transaction
from app.domain.analytics import (
    CUSTOMER_ENROLLED,
    ENROLMENTS,
    LATE_WRITES,
    LEDGER,
    customer_activity,
    ledger_dimension,
    member_key,
    month_of,
)
from app.domain.expiry import local_date
from app.domain.ledger import Account, TransactionKind
from app.services.analytics import rollups
from app.services.programs.service import ProgramRecord

BATCH = 5000
# (day, metric, dimension) -> value
Rollup = dict[tuple[date, str, str], int]


async def compute(
    conn: BaseDBAsyncClient, program: ProgramRecord, segment_id: int | None = None
) -> Rollup:
    """The program's rollups recomputed from its orders, members and ledger (zeros left out);
    with `segment_id`, from the rows of the members in that segment now only."""
    totals: defaultdict[tuple[date, str, str], int] = defaultdict(int)
    zone = program.time_zone
    among: tuple[object, ...] = ()
    if segment_id is not None:
        among = (segment_id,)

    def of_members(column: str) -> str:
        if segment_id is None:
            return ""
        return f" AND {column} IN (SELECT member_id FROM segment_members WHERE segment_id = ?)"

    def add(day: date, counts: Mapping[tuple[str, str], int]) -> None:
        for (metric, dimension), value in counts.items():
            totals[(day, metric, dimension)] += value

    def add_rows(rows: Iterable[rollups.Row]) -> None:
        for day, metric, dimension, value in rows:
            totals[(day, metric, dimension)] += value

    after = 0
    while rows := await fetch_all(
        conn,
        "SELECT id, placed_at, member_id, customer_id, channel, total_minor, refunded_minor,"
        " currency,"
        " exchange_rate FROM orders WHERE program_id = ? AND id > ?"
        + of_members("member_id")
        + " ORDER BY id LIMIT ?",
        (program.id, after, *among, BATCH),
    ):
        for row in rows:

            def converted(amount: int, row: dict[str, Any] = row) -> int:
                return rollups.in_program_currency(
                    amount, row["currency"], program.currency, row["exchange_rate"]
                )

            placed = local_date(as_datetime(row["placed_at"]), zone)
            revenue = converted(int(row["total_minor"]))
            add(
                placed,
                rollups.order_counts(
                    member=row["member_id"] is not None,
                    channel=row["channel"],
                    orders=1,
                    revenue_minor=revenue,
                    refunded_minor=converted(int(row["refunded_minor"])),
                ),
            )
            key = rollups.customer_key(row["member_id"], row["customer_id"])
            add_rows(rollups.customer_order_rows(placed, key, 1, revenue))
        after = int(rows[-1]["id"])
    after = 0
    while rows := await fetch_all(
        conn,
        "SELECT id, enrolled_at FROM members WHERE program_id = ? AND id > ?"
        + of_members("id")
        + " ORDER BY id LIMIT ?",
        (program.id, after, *among, BATCH),
    ):
        for row in rows:
            enrolled = local_date(as_datetime(row["enrolled_at"]), zone)
            add(enrolled, {(ENROLMENTS, ""): 1})
            add_rows([(month_of(enrolled), CUSTOMER_ENROLLED, member_key(int(row["id"])), 1)])
        after = int(rows[-1]["id"])
    after = 0
    while rows := await fetch_all(
        conn,
        "SELECT d.id, d.created_at, d.value_minor, d.currency, r.kind FROM redemptions d"
        " JOIN rewards r ON r.id = d.reward_id WHERE d.program_id = ? AND d.id > ?"
        + of_members("d.member_id")
        + " ORDER BY d.id LIMIT ?",
        (program.id, after, *among, BATCH),
    ):
        for row in rows:
            add_rows(
                rollups.reward_rows(
                    local_date(as_datetime(row["created_at"]), zone),
                    str(row["kind"]),
                    None if row["value_minor"] is None else int(row["value_minor"]),
                    row["currency"],
                    program.currency,
                )
            )
        after = int(rows[-1]["id"])
    after = 0
    # Each journal transaction has two entries: the member's side, then the counter side that
    # closes it (app/services/ledger/service.py).
    while rows := await fetch_all(
        conn,
        "SELECT t.id, t.kind, t.member_id, t.created_at, e.account, e.amount,"
        " e.closes_transaction"
        " FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
        " WHERE t.program_id = ? AND t.id > ?" + of_members("t.member_id") + " AND t.id <= ("
        "   SELECT MAX(id) FROM (SELECT id FROM ledger_transactions"
        "   WHERE program_id = ? AND id > ?"
        + of_members("member_id")
        + " ORDER BY id LIMIT ?) AS batch)"
        " ORDER BY t.id, e.closes_transaction, e.id",
        (program.id, after, *among, program.id, after, *among, BATCH),
    ):
        by_transaction: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_transaction[int(row["id"])].append(row)
        for entries in by_transaction.values():
            member_side, counter_side = entries
            moved_on = local_date(as_datetime(member_side["created_at"]), zone)
            kind = TransactionKind(str(member_side["kind"]))
            counter = Account(str(counter_side["account"]))
            amount = int(member_side["amount"])
            add(
                moved_on,
                {
                    (
                        LEDGER,
                        ledger_dimension(kind, Account(str(member_side["account"])), counter),
                    ): amount
                },
            )
            add_rows(
                customer_activity(moved_on, int(member_side["member_id"]), kind, counter, amount)
            )
        after = max(by_transaction)
    return {key: value for key, value in totals.items() if value != 0}


async def stored(conn: BaseDBAsyncClient, program_id: int) -> Rollup:
    """The rollups the writes kept, their shards summed (zeros left out); the late-write marks
    are no rollup (nothing recomputes them)."""
    rows = await fetch_all(
        conn,
        "SELECT day, metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND metric <> ? GROUP BY day, metric, dimension"
        " HAVING SUM(value) <> 0",
        (program_id, LATE_WRITES),
    )
    kept: Rollup = {}
    for row in rows:
        day = as_date(row["day"])
        assert day is not None
        kept[(day, str(row["metric"]), str(row["dimension"]))] = int(row["value"])
    return kept


@dataclass(frozen=True)
class Difference:
    day: date
    metric: str
    dimension: str
    kept: int
    recomputed: int


async def compare(program: ProgramRecord) -> list[Difference]:
    """Where the kept rollups differ from a recomputation, in day order."""
    conn = connection()
    kept = await stored(conn, program.id)
    recomputed = await compute(conn, program)
    return [
        Difference(key[0], key[1], key[2], kept.get(key, 0), recomputed.get(key, 0))
        for key in sorted(kept.keys() | recomputed.keys())
        if kept.get(key, 0) != recomputed.get(key, 0)
    ]


async def rebuild(program: ProgramRecord) -> int:
    """Replace the program's rollups with a recomputation, and drop its closed-period
    summaries (counted again from the new rows when next read or summarised); returns the
    rows written. The late-write marks stay: they only grow, so a summary computed before the
    rebuild can never look fresh again by a mark sum that went down and back up."""
    async with in_transaction() as conn:
        recomputed = await compute(conn, program)
        await execute(
            conn,
            "DELETE FROM analytics_days WHERE program_id = ? AND metric <> ?",
            (program.id, LATE_WRITES),
        )
        await execute(conn, "DELETE FROM analytics_summaries WHERE program_id = ?", (program.id,))
        items = sorted(recomputed.items())
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            params: list[object] = []
            for (day, metric, dimension), value in chunk:
                params += [program.id, day, metric, dimension, value]
            await execute(
                conn,
                "INSERT INTO analytics_days (program_id, day, metric, dimension, value) VALUES "
                + ", ".join("(?, ?, ?, ?, ?)" for _ in chunk),
                params,
            )
    return len(recomputed)
