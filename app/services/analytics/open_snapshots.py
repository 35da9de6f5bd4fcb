"""Lagged snapshots of the open part of programInsights and programCohorts (decision 0005,
update 2).

The customer figures of a span that reaches a month not settled yet, and the cohort cells of
such months, are counted from the activity rows of the open months' customers
(app/services/analytics/summaries.py). In a large program that costs seconds, on every call.
When such a count is made, its time and the customers it folded are stored beside its result
(analytics_summaries, kind `live:<newest settled month>` for spans, `cells:<...>` for
cohort cells). A later read answers from the stored result instead of counting, but only
when the last count was expensive (at least `budget_ms` AND at least `min_customers` folded:
small programs, tests and anyone comparing figures with a recount get exact live answers)
and the result is younger than `max_lag_seconds`. Once it is older than
`refresh_age_seconds` the read still answers from it and starts one background refresh per
key in this process (stale-while-revalidate). The answer then says how old its open figures
are (`openMonthsAsOf`).

Counts that were cheap are not stored, so a small program's reads stay free of writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from app.config import Settings
from app.db import as_datetime, execute
from app.services.analytics.summary_store import summary_rows

logger = logging.getLogger("laurel.analytics")

# Followed by the newest settled month: the customer counts of spans reaching past it, and
# the cohort cells of the months after it.
LIVE_PREFIX = "live:"
LIVE_COHORTS_PREFIX = "cells:"

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class SnapshotPolicy:
    """When a read may answer from a snapshot (README's configuration table)."""

    # A snapshot is used only when counting it cost at least this many milliseconds ...
    budget_ms: float = 1000.0
    # ... and folded at least this many customers.
    min_customers: int = 20_000
    # Older than this: still used, and one refresh starts in the background.
    refresh_age_seconds: float = 60.0
    # Older than this: not used; the read counts live (and stores the new count).
    max_lag_seconds: float = 300.0


_policy = SnapshotPolicy()


def policy_of(settings: Settings) -> SnapshotPolicy:
    return SnapshotPolicy(
        budget_ms=settings.analytics_snapshot_budget_ms,
        min_customers=settings.analytics_snapshot_min_customers,
        refresh_age_seconds=settings.analytics_snapshot_refresh_seconds,
        max_lag_seconds=settings.analytics_snapshot_max_lag_seconds,
    )


def configure(policy: SnapshotPolicy) -> SnapshotPolicy:
    """Make `policy` the process's; returns the one it replaces."""
    global _policy
    previous, _policy = _policy, policy
    return previous


def policy() -> SnapshotPolicy:
    return _policy


def live_kind(newest: date) -> str:
    return f"{LIVE_PREFIX}{newest:%Y-%m}"


def live_cohorts_kind(newest: date) -> str:
    return f"{LIVE_COHORTS_PREFIX}{newest:%Y-%m}"


@dataclass(frozen=True)
class Snapshot:
    value: Any  # the counted figures, as JSON data
    milliseconds: float  # what counting them cost
    customers: int  # the customers the count folded
    computed_at: datetime
    # The late-write marks of the settled months the count read (their summaries included):
    # a late write to one of them since makes the snapshot miss it.
    marks: int = 0

    def expensive(self, rules: SnapshotPolicy) -> bool:
        return is_expensive(self.milliseconds, self.customers, rules)


def is_expensive(milliseconds: float, customers: int, rules: SnapshotPolicy) -> bool:
    return milliseconds >= rules.budget_ms and customers >= rules.min_customers


class Use(Enum):
    LIVE = "live"  # count now
    SNAPSHOT = "snapshot"  # answer from the snapshot
    REFRESH = "refresh"  # answer from the snapshot and refresh it in the background


def use_of(snapshot: Snapshot | None, marks: int, now: datetime, rules: SnapshotPolicy) -> Use:
    """`marks`: the late-write marks of the settled months the snapshot depends on, now."""
    if snapshot is None or not snapshot.expensive(rules) or snapshot.marks != marks:
        return Use.LIVE
    age = (now - snapshot.computed_at).total_seconds()
    # Negative: stamped by a clock ahead of this one (a job run `--as-of` a later time, a host
    # whose clock runs ahead); its age is unknown, so it would otherwise never be refreshed.
    if age < 0 or age >= rules.max_lag_seconds:
        return Use.LIVE
    return Use.REFRESH if age >= rules.refresh_age_seconds else Use.SNAPSHOT


async def read(
    conn: BaseDBAsyncClient, program_id: int, kind: str, parameter: int, first: date, last: date
) -> dict[tuple[date, date], Snapshot]:
    """(first month, last month) -> the snapshot of `kind`, for first months within
    first..last."""
    rows = await summary_rows(conn, program_id, kind, parameter, first, last)
    found = {}
    for key, row in rows.items():
        data = json.loads(str(row["figures"]))
        found[key] = Snapshot(
            value=data["value"],
            milliseconds=float(data["milliseconds"]),
            customers=int(data["customers"]),
            computed_at=as_datetime(row["computed_at"]),
            marks=int(row["marks"]),
        )
    return found


async def write(
    conn: BaseDBAsyncClient,
    program_id: int,
    kind: str,
    parameter: int,
    rows: Sequence[tuple[date, date, int, Any]],
    milliseconds: float,
    customers: int,
    counted_at: datetime,
) -> None:
    """Insert or replace snapshots (first month, last month, the late-write marks they depend
    on, value as JSON data), all counted together at the cost given, from `counted_at` (when
    the count began)."""
    for start in range(0, len(rows), 200):
        chunk = rows[start : start + 200]
        params: list[object] = []
        for first, last, marks, value in chunk:
            figures = json.dumps(
                {"value": value, "milliseconds": milliseconds, "customers": customers},
                sort_keys=True,
            )
            params += [program_id, kind, first, last, parameter, marks, figures, counted_at]
        await execute(
            conn,
            "INSERT INTO analytics_summaries (program_id, kind, first_month, last_month,"
            " parameter, marks, figures, computed_at) VALUES "
            + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
            + " ON CONFLICT (program_id, kind, first_month, last_month, parameter) DO UPDATE"
            " SET marks = excluded.marks, figures = excluded.figures,"
            " computed_at = excluded.computed_at"
            # A count that began earlier (a slow refresh ending after a newer one) keeps away.
            " WHERE analytics_summaries.computed_at <= excluded.computed_at",
            params,
        )


def worth_storing(
    previous: Snapshot | None, milliseconds: float, customers: int, rules: SnapshotPolicy
) -> bool:
    """A count is stored when it was expensive, or when the snapshot it replaces was (so that
    reads learn it is cheap now); a cheap count with nothing expensive before is not."""
    return is_expensive(milliseconds, customers, rules) or (
        previous is not None and previous.expensive(rules)
    )


# --- Background refreshes -----------------------------------------------------------------------

_refreshing: dict[Hashable, asyncio.Task[None]] = {}


def refresh_in_background(keys: Iterable[K], work: Callable[[list[K]], Awaitable[None]]) -> None:
    """Start one task running `work` for those of `keys` no refresh is under way for (none if
    every key has one). Its failures are logged, never raised to the reader."""
    fresh = [key for key in dict.fromkeys(keys) if key not in _refreshing]
    if not fresh:
        return
    task = asyncio.create_task(_refresh(fresh, work))
    for key in fresh:
        _refreshing[key] = task

    def forget(done: asyncio.Task[None]) -> None:
        for key in fresh:
            if _refreshing.get(key) is done:
                del _refreshing[key]

    task.add_done_callback(forget)


async def _refresh(keys: list[K], work: Callable[[list[K]], Awaitable[None]]) -> None:
    try:
        await work(keys)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("refreshing the open months' analytics snapshots failed")


def is_refreshing(key: Hashable) -> bool:
    return key in _refreshing


def refreshes_under_way() -> int:
    return len(set(_refreshing.values()))


async def wait_for_refreshes() -> None:
    """Until no refresh is under way (those started meanwhile included)."""
    while _refreshing:
        await asyncio.gather(*set(_refreshing.values()), return_exceptions=True)


async def stop_refreshes() -> None:
    """Cancel the refreshes under way and wait for them to end (the app's shutdown)."""
    tasks = set(_refreshing.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
