"""The rows of the closed-period summaries (analytics_summaries) and the late-write marks
they are checked against: shared by the customer spans (summaries.py) and the cohort cells
(cohorts.py). How marks make a summary stale: summaries.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.clock import process_now
from app.db import (
    as_date,
    connection,
    database_client,
    execute,
    fetch_all,
    in_transaction,
    is_postgres,
)
from app.domain.analytics import LATE_WRITES, add_months, is_settled, month_of

CUSTOMERS = "customers"
COHORT = "cohort"
# Followed by the newest settled month: the settled part of a span that reaches past it.
OPEN_PREFIX = "open:"
# The enrolment months, and the months after each, that `summarise` keeps ready.
COHORT_MONTHS = 12
ONE_DAY = timedelta(days=1)


def months_between(first: date, last: date) -> list[date]:
    months = []
    month = first
    while month <= last and month != date.max:
        months.append(month)
        month = add_months(month, 1)
    return months


async def read_marks(
    conn: BaseDBAsyncClient, program_id: int, first: date, last: date
) -> dict[date, int]:
    """month -> its late-write marks (shards summed), for the months first..last."""
    rows = await fetch_all(
        conn,
        "SELECT day, SUM(value) AS value FROM analytics_days WHERE program_id = ?"
        " AND metric = ? AND day >= ? AND day <= ? GROUP BY day",
        (program_id, LATE_WRITES, first, last),
    )
    return {as_month(row["day"]): int(row["value"]) for row in rows}


def sum_marks(marks: dict[date, int], first: date, last: date) -> int:
    return sum(value for month, value in marks.items() if first <= month <= last)


async def summary_rows(
    conn: BaseDBAsyncClient, program_id: int, kind: str, parameter: int, first: date, last: date
) -> dict[tuple[date, date], dict[str, Any]]:
    """(first month, last month) -> the row (marks, figures, computed_at) of each stored
    summary of `kind` whose first month is within first..last: the summaries' and the open
    months' snapshots' (open_snapshots.py) one read."""
    rows = await fetch_all(
        conn,
        "SELECT first_month, last_month, marks, figures, computed_at FROM analytics_summaries"
        " WHERE program_id = ? AND kind = ? AND parameter = ? AND first_month >= ?"
        " AND first_month <= ?",
        (program_id, kind, parameter, first, last),
    )
    found = {}
    for row in rows:
        first_month, last_month = as_date(row["first_month"]), as_date(row["last_month"])
        assert first_month is not None and last_month is not None
        found[(first_month, last_month)] = row
    return found


async def read_summaries(
    conn: BaseDBAsyncClient, program_id: int, kind: str, parameter: int, first: date, last: date
) -> dict[tuple[date, date], tuple[int, str]]:
    """(first month, last month) -> (marks, figures) of the stored summaries of `kind` whose
    first month is within first..last."""
    rows = await summary_rows(conn, program_id, kind, parameter, first, last)
    return {key: (int(row["marks"]), str(row["figures"])) for key, row in rows.items()}


async def store_summaries(
    conn: BaseDBAsyncClient,
    program_id: int,
    kind: str,
    parameter: int,
    rows: Sequence[tuple[date, date, int, str]],
) -> None:
    """Insert or replace summaries: (first month, last month, marks, figures JSON)."""
    now = process_now()
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        params: list[object] = []
        for first, last, marks, figures in chunk:
            params += [program_id, kind, first, last, parameter, marks, figures, now]
        await execute(
            conn,
            "INSERT INTO analytics_summaries (program_id, kind, first_month, last_month,"
            " parameter, marks, figures, computed_at) VALUES "
            + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
            + " ON CONFLICT (program_id, kind, first_month, last_month, parameter) DO UPDATE"
            " SET marks = excluded.marks, figures = excluded.figures,"
            " computed_at = excluded.computed_at",
            params,
        )


def newest_settled(today: date) -> date:
    month = month_of(today)
    while not is_settled(month, today):
        month = add_months(month, -1)
    return month


def as_month(value: object) -> date:
    day = as_date(value)
    assert day is not None
    return day


@asynccontextmanager
async def refresh_connection() -> AsyncIterator[BaseDBAsyncClient]:
    """What a background refresh, and the job's count of the open months, counts on.
    PostgreSQL: a transaction of its own, without the server's statement time limit (the
    request's, which a large program's count can outlast).
    SQLite: the process's client outside any transaction (one would hold the write lock for
    the whole count)."""
    client = database_client()
    if not is_postgres(client) or connection() is not client:
        yield client
        return
    async with in_transaction() as conn:
        await execute(conn, "SET LOCAL statement_timeout = 0")
        yield conn
