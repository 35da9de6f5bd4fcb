"""The cohort table's cells: each enrolment month's size and its active members and revenue
of each month after, read from their closed-period summaries when settled and fresh (the
late-write marks of the cohort's month and of the cell's month have not moved, summaries.py),
else counted from the customer-activity rows and stored. Cells of months not settled yet are
counted from those months' rows alone, or read from that count's lagged snapshot where
counting it is expensive (app/services/analytics/open_snapshots.py)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.clock import process_now
from app.db import database_client, fetch_all
from app.domain.analytics import CUSTOMER_ENROLLED, CUSTOMER_ORDERS, CUSTOMER_REVENUE, add_months
from app.services.analytics import open_snapshots
from app.services.analytics.open_snapshots import Snapshot, Use
from app.services.analytics.summary_store import (
    COHORT,
    as_month,
    months_between,
    newest_settled,
    read_marks,
    read_summaries,
    refresh_connection,
    store_summaries,
)


@dataclass(frozen=True)
class CohortCell:
    members: int  # the cohort's size
    active: int
    revenue_minor: int


def _cohort_marks(marks: dict[date, int], cohort: date, newest: date) -> int:
    """The late-write marks the open cells of `cohort` depend on: its enrolment month's when
    settled (who is in it); the open months' own rows are read as they are."""
    return marks.get(cohort, 0) if cohort <= newest else 0


class OpenCells(Enum):
    """What `cohort_cells` does with the cells of months not settled yet."""

    READ = "read"  # counted, or read from their snapshot (open_snapshots)
    REFRESH = "refresh"  # the same, but a snapshot due for a refresh is counted now
    SKIP = "skip"  # left out (the job, which counts them once for all its cohorts)


@dataclass(frozen=True)
class CohortTable:
    sizes: dict[date, int]
    cells: dict[tuple[date, date], tuple[int, int]]
    # The time of the oldest snapshot of open cells answered from; None when none was.
    open_months_as_of: datetime | None = None


async def cohort_cells(
    conn: BaseDBAsyncClient,
    program_id: int,
    first: date,
    last: date,
    length: int,
    open_cells: OpenCells = OpenCells.READ,
) -> CohortTable:
    """The sizes of the enrolment months first..last and their (active members, revenue) of
    each month of the `length` from each. Settled cells come from their summaries when fresh
    (the marks of the cohort's month and of the cell's month have not moved); a cohort with a
    missing or stale one has its settled cells counted again and stored. The cells of months
    not settled yet are counted from the activity rows of those months alone, or read from
    that count's snapshot where counting it is expensive (`_open_cohort_cells`)."""
    newest = newest_settled(process_now().date())
    end = add_months(last, length - 1)
    marks = await read_marks(conn, program_id, first, end)
    stored = await read_summaries(conn, program_id, COHORT, 0, first, last)
    sizes: dict[date, int] = {}
    cells: dict[tuple[date, date], tuple[int, int]] = {}
    recount: list[date] = []
    for cohort in months_between(first, min(last, newest)):
        found: dict[date, CohortCell] = {}
        for month in months_between(cohort, min(add_months(cohort, length - 1), newest)):
            summary = stored.get((cohort, month))
            if summary is None or summary[0] != marks.get(cohort, 0) + marks.get(month, 0):
                recount.append(cohort)
                break
            found[month] = CohortCell(**json.loads(summary[1]))
        else:
            sizes[cohort] = found[cohort].members
            for month, cell in found.items():
                cells[(cohort, month)] = (cell.active, cell.revenue_minor)
    if recount:
        low, high = recount[0], recount[-1]
        counted_sizes, counted = await count_cohorts(
            conn, program_id, low, high, low, min(add_months(high, length - 1), newest)
        )
        rows = []
        for cohort in recount:
            size = counted_sizes.get(cohort, 0)
            sizes[cohort] = size
            for month in months_between(cohort, min(add_months(cohort, length - 1), newest)):
                active, revenue = counted.get((cohort, month), (0, 0))
                cells[(cohort, month)] = (active, revenue)
                cell = CohortCell(members=size, active=active, revenue_minor=revenue)
                marked = marks.get(cohort, 0) + marks.get(month, 0)
                rows.append((cohort, month, marked, json.dumps(asdict(cell), sort_keys=True)))
        await store_summaries(conn, program_id, COHORT, 0, rows)
    following = add_months(newest, 1)
    as_of: datetime | None = None
    if end >= following and open_cells is not OpenCells.SKIP:
        opened, as_of = await _open_cohort_cells(
            conn,
            program_id,
            first,
            last,
            length,
            newest,
            marks,
            refresh=open_cells is OpenCells.REFRESH,
        )
        for cohort, (size, open_months) in opened.items():
            if cohort >= following:
                sizes[cohort] = size
            cells.update(((cohort, month), cell) for month, cell in open_months.items())
    return CohortTable(sizes, cells, as_of)


# A cohort's size and its (active members, revenue) by month of the months after the newest
# settled one.
OpenCohort = tuple[int, dict[date, tuple[int, int]]]


def _open_cohort_data(cohort: OpenCohort) -> dict[str, Any]:
    size, cells = cohort
    return {
        "members": size,
        "cells": [
            [month.isoformat(), active, revenue] for month, (active, revenue) in cells.items()
        ],
    }


def _open_cohort_of(data: dict[str, Any]) -> OpenCohort:
    return int(data["members"]), {
        date.fromisoformat(month): (int(active), int(revenue))
        for month, active, revenue in data["cells"]
    }


async def _open_cohort_cells(
    conn: BaseDBAsyncClient,
    program_id: int,
    first: date,
    last: date,
    length: int,
    newest: date,
    marks: dict[date, int],
    *,
    refresh: bool,
) -> tuple[dict[date, OpenCohort], datetime | None]:
    """The cohorts of first..last with cells after `newest` (the newest settled month): each
    one's size and those cells (up to its `length`-th month), from its snapshot (kept per
    cohort and last month shown) when the policy lets it, else counted now for all of them in
    one pass; the time of the oldest snapshot used, if any. Snapshots due for a refresh start
    one in the background, or with `refresh` are counted now."""
    following = add_months(newest, 1)
    ends = {
        cohort: add_months(cohort, length - 1)
        for cohort in months_between(first, last)
        if add_months(cohort, length - 1) >= following
    }
    if not ends:
        return {}, None
    kind = open_snapshots.live_cohorts_kind(newest)
    snapshots = await open_snapshots.read(conn, program_id, kind, 0, min(ends), max(ends))
    rules, now = open_snapshots.policy(), process_now()
    found: dict[date, OpenCohort] = {}
    as_of: datetime | None = None
    live: dict[date, date] = {}
    stale: list[date] = []

    def refresh_key(cohort: date) -> tuple[object, ...]:
        return (id(database_client()), program_id, kind, cohort, ends[cohort])

    for cohort, end in ends.items():
        snapshot = snapshots.get((cohort, end))
        use = open_snapshots.use_of(snapshot, _cohort_marks(marks, cohort, newest), now, rules)
        # The job leaves a key whose refresh is under way to it.
        if use is Use.LIVE or (
            refresh and use is Use.REFRESH and not open_snapshots.is_refreshing(refresh_key(cohort))
        ):
            live[cohort] = end
            continue
        assert snapshot is not None
        found[cohort] = _open_cohort_of(snapshot.value)
        as_of = snapshot.computed_at if as_of is None else min(as_of, snapshot.computed_at)
        if use is Use.REFRESH:
            stale.append(cohort)
    if live:
        found.update(await _count_open_cohorts(conn, program_id, live, newest, marks, snapshots))
    if stale:
        by_key: dict[tuple[object, ...], date] = {refresh_key(cohort): cohort for cohort in stale}

        async def refresh_cohorts(keys: list[tuple[object, ...]]) -> None:
            cohorts = {by_key[key]: ends[by_key[key]] for key in keys}
            async with refresh_connection() as client:
                marks_now = await read_marks(client, program_id, min(cohorts), max(cohorts))
                previous = await open_snapshots.read(
                    client, program_id, kind, 0, min(cohorts), max(cohorts)
                )
                await _count_open_cohorts(client, program_id, cohorts, newest, marks_now, previous)

        open_snapshots.refresh_in_background(list(by_key), refresh_cohorts)
    return found, as_of


async def _count_open_cohorts(
    conn: BaseDBAsyncClient,
    program_id: int,
    ends: dict[date, date],
    newest: date,
    marks: dict[date, int],
    previous: dict[tuple[date, date], Snapshot],
) -> dict[date, OpenCohort]:
    """Each cohort's size and its cells from the month after `newest` to the one beside it,
    counted in one pass (`count_cohorts`), timed; stored as snapshots when worth it (the
    customers folded: the members of the cohorts read)."""
    counted_at, started = process_now(), time.perf_counter()
    sizes, cells = await count_cohorts(
        conn, program_id, min(ends), max(ends), add_months(newest, 1), max(ends.values())
    )
    milliseconds = (time.perf_counter() - started) * 1000
    folded = sum(sizes.values())
    counted: dict[date, OpenCohort] = {cohort: (sizes.get(cohort, 0), {}) for cohort in ends}
    for (cohort, month), cell in cells.items():
        if cohort in ends and month <= ends[cohort]:
            counted[cohort][1][month] = cell
    rules = open_snapshots.policy()
    kept = [
        (cohort, end, _cohort_marks(marks, cohort, newest), _open_cohort_data(counted[cohort]))
        for cohort, end in ends.items()
        if open_snapshots.worth_storing(previous.get((cohort, end)), milliseconds, folded, rules)
    ]
    if kept:
        await open_snapshots.write(
            conn,
            program_id,
            open_snapshots.live_cohorts_kind(newest),
            0,
            kept,
            milliseconds,
            folded,
            counted_at,
        )
    return counted


async def count_cohorts(
    conn: BaseDBAsyncClient, program_id: int, first: date, last: date, since: date, end: date
) -> tuple[dict[date, int], dict[tuple[date, date], tuple[int, int]]]:
    """From the activity rows (two aggregates in SQL): the sizes of the enrolment months
    first..last and each cohort's (active members, revenue) of each month since..end."""
    enrolled = (
        "SELECT dimension, day FROM analytics_days WHERE program_id = ? AND metric = ?"
        " AND day >= ? AND day <= ? GROUP BY dimension, day HAVING SUM(value) > 0"
    )
    sizes = await fetch_all(
        conn,
        f"SELECT day, COUNT(*) AS members FROM ({enrolled}) AS e GROUP BY day",
        (program_id, CUSTOMER_ENROLLED, first, last),
    )
    cells = await fetch_all(
        conn,
        "SELECT e.day AS cohort, a.day AS month,"
        " SUM(CASE WHEN a.orders > 0 THEN 1 ELSE 0 END) AS active, SUM(a.revenue) AS revenue"
        f" FROM ({enrolled}) AS e JOIN ("
        "   SELECT dimension, day, SUM(CASE WHEN metric = ? THEN value ELSE 0 END) AS orders,"
        "   SUM(CASE WHEN metric = ? THEN value ELSE 0 END) AS revenue FROM analytics_days"
        "   WHERE program_id = ? AND metric IN (?, ?) AND day >= ? AND day <= ?"
        "   GROUP BY dimension, day"
        " ) AS a ON a.dimension = e.dimension AND a.day >= e.day"
        " GROUP BY e.day, a.day",
        (
            program_id,
            CUSTOMER_ENROLLED,
            first,
            last,
            CUSTOMER_ORDERS,
            CUSTOMER_REVENUE,
            program_id,
            CUSTOMER_ORDERS,
            CUSTOMER_REVENUE,
            max(first, since),
            end,
        ),
    )
    return (
        {as_month(r["day"]): int(r["members"]) for r in sizes},
        {
            (as_month(r["cohort"]), as_month(r["month"])): (
                int(r["active"]),
                int(r["revenue"] or 0),
            )
            for r in cells
        },
    )
