"""The analytics benchmark (scripts/bench-insights), on PostgreSQL: a program of
1,000,000 members x `--scale`, 5,000,000 orders x scale (one in ten a guest's), one earning
journal transaction (two ledger entries) per member order and a welcome bonus for every other
member (10,000,000 entries x scale), over 24 months (2025-2026, time zone UTC), with the
rollups (daily rows and customer-activity rows) the writes would have kept, seeded in bulk
inside the database (insights_seed.py; scripts/bench-verify --check proves the seed equal to
what the write path keeps).

Then, on a clock set to 2026-12-07 (November 2026 is the newest settled month, December is
open), `laurel analytics summarise` once (the daily job: its seconds are printed), and through
the services the API calls, each timed `--rounds` times after two warm-up calls:

- floor: programInsights of one day (DAY), the daily rollups alone;
- programInsights of December 2025 to November 2026 by MONTH (settled: the daily KPIs, the
  customer KPIs of every month and of the twelve read from their summaries, referrals),
  target p95 < 300 ms;
- programInsights of 2026 by MONTH: the same, but December and the year reach the open month:
  their settled part read from its summary, corrected by the activity rows of the customers
  active in December (app/services/analytics/summaries.py, `_open_counts`), counted on every
  call (the snapshots turned off) and answered from the lagged snapshots `summarise` stored
  (app/services/analytics/open_snapshots.py);
- programCohorts of the 12 enrolment months of 2025, 12 months each (all settled), and of 2026
  (the cells of December and later counted, and from their snapshots), target p95 < 1 s;
- one background refresh of each: the clock moved past the refresh age, a read answers from
  the old snapshot and starts it; its time until the new snapshot is stored.

The snapshot policy is set to keep every open count (budget and minimum customers 0): with the
defaults (1 s, 20,000 customers) a count that took under a second is answered live.

with the peak of Python memory of one call (tracemalloc), and `laurel verify-ledger` run as a
child process on the whole ledger: its time (target < 60 s) and peak RSS. Prints a Markdown
table. Exit 2 when it cannot run. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).parents[2]))

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from app.db import close_db, init_db, normalise_url
from app.domain.analytics import Granularity
from app.services.analytics import open_snapshots, summaries
from app.services.analytics.insights import (
    CohortsInput,
    InsightsInput,
    program_cohorts,
    program_insights,
)
from app.services.programs import service as programs_service
from bench_support.insights_seed import COUNTS_SQL, log, seed
from bench_support.jobs_main import BenchError, drop, recreate

DATABASE = "laurel_insights_bench"
DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
MEMBERS, ORDERS = 1_000_000, 5_000_000
TODAY = datetime(2026, 12, 7, 12, tzinfo=UTC)
MONTH = Granularity.MONTH


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def timed(rounds: int, work: Callable[[], Awaitable[object]]) -> tuple[float, float, float]:
    """p50 and p95 in ms of `work()` after two warm-up calls, and the tracemalloc peak (MiB)
    of one more call."""
    for _ in range(2):
        await work()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    tracemalloc.start()
    await work()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], peak


def live(work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
    """`work` with the snapshots turned off: every open count made on the call."""

    async def counted() -> object:
        kept = open_snapshots.configure(open_snapshots.SnapshotPolicy(budget_ms=math.inf))
        try:
            return await work()
        finally:
            open_snapshots.configure(kept)

    return counted


def from_snapshot(work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
    """`work`, checked to have answered from a snapshot."""

    async def read() -> object:
        found = await work()
        assert getattr(found, "open_months_as_of", None) is not None, "not from a snapshot"
        return found

    return read


async def refreshed(clock: ManualClock, work: Callable[[], Awaitable[object]]) -> float:
    """ms of one background refresh: the clock moved past the refresh age, `work` answers
    from the old snapshot and starts it; timed until it has stored the new one."""
    clock.advance(timedelta(seconds=open_snapshots.policy().refresh_age_seconds + 1))
    await work()
    started = time.perf_counter()
    await open_snapshots.wait_for_refreshes()
    return (time.perf_counter() - started) * 1000


async def measure(
    url: str, rounds: int
) -> tuple[float, list[tuple[str, float, float, float, float | None]]]:
    """The seconds of `laurel analytics summarise` (the daily job, on a clock set to
    2026-12-07: November is the newest settled month, December is open), then the queries."""
    await init_db(Settings(database_url=url))
    clock = ManualClock(TODAY)
    previous = app_clock.install(clock)
    kept = open_snapshots.configure(open_snapshots.SnapshotPolicy(budget_ms=0, min_customers=0))
    try:
        program = await programs_service.get_program_by_slug("shop", None)
        assert program is not None
        started = time.perf_counter()
        await summaries.summarise(program.id)
        summarised = time.perf_counter() - started
        log(f"summarised in {summarised:.1f} s")

        def insights(first: date, last: date) -> Callable[[], Awaitable[object]]:
            return lambda: program_insights(InsightsInput("shop", first, last, MONTH), None)

        def cohorts(first: date, last: date) -> Callable[[], Awaitable[object]]:
            return lambda: program_cohorts(CohortsInput("shop", first, last, 12), None)

        queries: Sequence[tuple[str, Callable[[], Awaitable[object]], float | None]] = (
            (
                "floor: programInsights of one day (DAY)",
                lambda: program_insights(
                    InsightsInput("shop", date(2026, 6, 1), date(2026, 6, 1), Granularity.DAY),
                    None,
                ),
                None,
            ),
            (
                "programInsights Dec 2025-Nov 2026 by MONTH (settled: summaries)",
                insights(date(2025, 12, 1), date(2026, 11, 30)),
                300.0,
            ),
            (
                "programInsights 2026 by MONTH (open December counted: settled part + its"
                " customers)",
                live(insights(date(2026, 1, 1), date(2026, 12, 31))),
                300.0,
            ),
            (
                "programInsights 2026 by MONTH (open December from its snapshot)",
                from_snapshot(insights(date(2026, 1, 1), date(2026, 12, 31))),
                300.0,
            ),
            (
                "programCohorts 2025 (12 cohorts x 12 months, settled)",
                cohorts(date(2025, 1, 1), date(2025, 12, 1)),
                1000.0,
            ),
            (
                "programCohorts 2026 (12 x 12, open months counted)",
                live(cohorts(date(2026, 1, 1), date(2026, 12, 1))),
                1000.0,
            ),
            (
                "programCohorts 2026 (12 x 12, open months from their snapshots)",
                from_snapshot(cohorts(date(2026, 1, 1), date(2026, 12, 1))),
                1000.0,
            ),
        )
        results: list[tuple[str, float, float, float, float | None]] = [
            (name, *await timed(rounds, work), target) for name, work, target in queries
        ]
        for name, work in (
            ("one background refresh of 2026 by MONTH's open spans", queries[3][1]),
            ("one background refresh of the 2026 cohorts' open cells", queries[6][1]),
        ):
            took = await refreshed(clock, work)
            log(f"{name}: {took:.0f} ms")
            results.append((name, took, took, 0.0, None))
        return summarised, results
    finally:
        open_snapshots.configure(kept)
        app_clock.install(previous)
        await close_db()


def verify(url: str) -> tuple[float, float, int]:
    """Seconds, peak RSS (MiB) and exit code of `laurel verify-ledger` on the database."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "verify-ledger"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        log(f"verify-ledger: {result.stdout[-500:]} {result.stderr[-500:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, rss, result.returncode


async def counted(url: str) -> dict[str, int]:
    """The row counts of a database seeded before (its seconds unknown: -1)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        row = await conn.fetchrow(COUNTS_SQL)
    finally:
        await conn.close()
    assert row is not None
    return {key: int(value) for key, value in dict(row).items()} | {"seconds": -1}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-insights", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M members, 5M orders")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--database", default=DATABASE, help=f"default {DATABASE}")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept before (--keep), no seeding"
    )
    options = parser.parse_args(argv)
    if not 0 < options.scale <= 1 or options.rounds < 1:
        parser.error("--scale is in (0, 1] and --rounds at least 1")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    admin_url = normalise_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    url = _with_database(admin_url, options.database)
    members, orders = int(MEMBERS * options.scale), int(ORDERS * options.scale)
    try:
        if not options.reuse:
            recreate(url)
    except BenchError as exc:
        print(f"bench-insights: {exc}", file=sys.stderr)
        return 2
    try:
        counts = asyncio.run(counted(url) if options.reuse else seed(url, members, orders))
        summarised, results = asyncio.run(measure(url, options.rounds))
        seconds, rss, code = verify(url)
    finally:
        if not options.keep:
            drop(url)
    seeded = "reused" if counts["seconds"] < 0 else f"seeded in {counts['seconds']} s"
    print(
        f"{counts['members']:,} members, {counts['orders']:,} orders,"
        f" {counts['entries']:,} ledger entries, {counts['rollup_rows']:,} rollup rows"
        f" ({seeded}); laurel analytics summarise {summarised:.1f} s\n"
    )
    floor = results[0][2]
    print("| query | p50 ms | p95 ms | p95 / floor | Python peak MiB | target |")
    print("|---|---|---|---|---|---|")
    for name, p50, p95, peak, target in results:
        verdict = "" if target is None else f"{'PASS' if p95 < target else 'MISS'} (< {target:g})"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {p95 / floor:.1f}x | {peak:.1f} | {verdict} |")
    verdict = "PASS" if seconds < 60 and code == 0 else "MISS"
    print(
        f"| laurel verify-ledger (exit {code}) | {seconds * 1000:.0f} | | | RSS {rss:.0f}"
        f" | {verdict} (< 60 s) |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
