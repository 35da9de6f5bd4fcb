"""The analytics benchmark (scripts/bench-insights), on PostgreSQL: a program of
1,000,000 members x `--scale`, 5,000,000 orders x scale (one in ten a guest's) and one earning
journal transaction (two ledger entries) per member order, seeded in bulk with set-based SQL
over 24 months (2025-2026, time zone UTC), with the rollups (daily rows and customer-activity
rows) the writes would have kept, computed in SQL from the seeded rows. Guest keys are seeded
as `g:` + md5 of the customer id (the same shape as the app's hash; nothing here compares them).

Then, on a clock set to 2026-12-07 (November 2026 is the newest settled month, December is
open), `laurel analytics summarise` once (the daily job: its seconds are printed), and through
the services the API calls, each timed `--rounds` times after two warm-up calls:

- floor: programInsights of one day (DAY), the daily rollups alone;
- programInsights of December 2025 to November 2026 by MONTH (settled: the daily KPIs, the
  customer KPIs of every month and of the twelve read from their summaries, referrals),
  target p95 < 300 ms;
- programInsights of 2026 by MONTH: the same, but December and the year reach the open month:
  their settled part read from its summary, corrected on every call by the activity rows of
  the customers active in December (app/services/analytics/summaries.py, `_open_counts`);
- programCohorts of the 12 enrolment months of 2025, 12 months each (all settled), and of 2026
  (the cells of December and later counted), target p95 < 1 s;

with the peak of Python memory of one call (tracemalloc), and `laurel verify-ledger` run as a
child process on the whole ledger: its time (target < 60 s) and peak RSS. Prints a Markdown
table. Exit 2 when it cannot run. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).parents[2]))

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from app.db import apply_migrations, close_db, init_db, normalise_url
from app.domain.analytics import Granularity
from app.services.analytics import summaries
from app.services.analytics.insights import (
    CohortsInput,
    InsightsInput,
    program_cohorts,
    program_insights,
)
from app.services.programs import service as programs_service
from bench_support.jobs_main import BenchError, drop, recreate

DATABASE = "laurel_insights_bench"
DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
MEMBERS, ORDERS = 1_000_000, 5_000_000
DAYS = 730  # 2025-01-01 .. 2026-12-31
TODAY = datetime(2026, 12, 7, 12, tzinfo=UTC)
MONTH = Granularity.MONTH

MEMBERS_SQL = """
INSERT INTO members (program_id, customer_id, enrolled_at, points_available, points_pending,
    lifetime_earned, lifetime_redeemed)
SELECT $1, 'c-' || g, timestamptz '2025-01-01 00:00+00' + (g % $3) * interval '1 day'
    + (g % 24) * interval '1 hour', 0, 0, 0, 0
FROM generate_series(1, $2) AS g
"""
# Order i: a guest's when i % 10 = 0, else member m's, placed after m's enrolment.
ORDERS_SQL = """
INSERT INTO orders (id, program_id, member_id, customer_id, order_id, currency, total_minor,
    shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,
    transaction_id, status, refunded_quantities, points_refunded, points_unrecovered,
    refunded_minor, placed_at, created_at)
SELECT i, $1, CASE WHEN i % 10 = 0 THEN NULL ELSE m END,
    CASE WHEN i % 10 = 0 THEN 'guest-' || (i * 13) % ($2 / 2 + 1) ELSE 'c-' || m END,
    'o-' || i, 'EUR', total, 0, 0, 0, '[]', 'bench',
    CASE WHEN i % 10 = 0 THEN 0 ELSE total / 100 END, NULL, 'PLACED', '{}', 0, 0, 0, placed, placed
FROM (
    SELECT i, m, 1000 + (i * 37) % 20000 AS total,
        timestamptz '2025-01-01 00:00+00'
            + ((m % $3) + (i * 31) % ($3 - m % $3)) * interval '1 day'
            + (i % 24) * interval '1 hour' AS placed
    FROM (SELECT i, 1 + (i * 7919) % $2 AS m FROM generate_series($4::bigint, $5::bigint) AS i)
        AS numbered
) AS o
"""
LEDGER_SQL = """
INSERT INTO ledger_transactions (id, program_id, member_id, kind, points, description,
    order_ref, reverses_id, created_at)
SELECT id, program_id, member_id, 'EARN_ORDER', points_earned, 'Order ' || order_id, order_id,
    NULL, placed_at
FROM orders WHERE program_id = $1 AND member_id IS NOT NULL AND id BETWEEN $2 AND $3;
"""
ENTRIES_SQL = """
INSERT INTO ledger_entries (id, transaction_id, program_id, member_id, account, amount,
    closes_transaction)
SELECT 2 * id - 1, id, program_id, member_id, 'MEMBER_AVAILABLE', points, false
FROM ledger_transactions WHERE program_id = $1 AND id BETWEEN $2 AND $3
UNION ALL
SELECT 2 * id, id, program_id, member_id, 'PROGRAM_ISSUED', -points, true
FROM ledger_transactions WHERE program_id = $1 AND id BETWEEN $2 AND $3
"""
LOTS_SQL = """
INSERT INTO point_lots (id, program_id, member_id, transaction_id, points, remaining,
    expires_at, pending_until, created_at, expired_by_id)
SELECT id, program_id, member_id, id, points, points, NULL, NULL, created_at, NULL
FROM ledger_transactions WHERE program_id = $1 AND id BETWEEN $2 AND $3
"""
FINISH_SQL = [
    "UPDATE orders SET transaction_id = id WHERE program_id = $1 AND member_id IS NOT NULL",
    """
UPDATE members SET points_available = sums.points, lifetime_earned = sums.points,
    last_activity_at = sums.last
FROM (SELECT member_id, SUM(points) AS points, MAX(created_at) AS last
      FROM ledger_transactions WHERE program_id = $1 GROUP BY member_id) AS sums
WHERE members.id = sums.member_id
""",
    # The daily rollups the writes keep (app/domain/analytics.py), in UTC days.
    """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
SELECT $1, day, metric, dimension, SUM(value), 0 FROM (
    SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, x.metric,
        CASE WHEN o.member_id IS NULL THEN 'GUEST:' ELSE 'MEMBER:' END AS dimension, x.value
    FROM orders o CROSS JOIN LATERAL (VALUES ('orders', 1::bigint),
        ('revenue_minor', o.total_minor)) AS x(metric, value)
    WHERE o.program_id = $1
    UNION ALL
    SELECT (enrolled_at AT TIME ZONE 'UTC')::date, 'enrolments', '', 1
    FROM members WHERE program_id = $1
    UNION ALL
    SELECT (created_at AT TIME ZONE 'UTC')::date, 'ledger',
        'EARN_ORDER:MEMBER_AVAILABLE:PROGRAM_ISSUED', points
    FROM ledger_transactions WHERE program_id = $1
) AS r GROUP BY day, metric, dimension
""",
    # The customer-activity rows, by month and customer.
    """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
SELECT $1, month, metric, customer, SUM(value), 0 FROM (
    SELECT date_trunc('month', o.placed_at AT TIME ZONE 'UTC')::date AS month, x.metric,
        CASE WHEN o.member_id IS NULL THEN 'g:' || md5(o.customer_id)
             ELSE 'm:' || o.member_id END AS customer, x.value
    FROM orders o CROSS JOIN LATERAL (VALUES ('customer_orders', 1::bigint),
        ('customer_revenue_minor', o.total_minor)) AS x(metric, value)
    WHERE o.program_id = $1
    UNION ALL
    SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, 'customer_earnings',
        'm:' || member_id, 1
    FROM ledger_transactions WHERE program_id = $1
    UNION ALL
    SELECT date_trunc('month', enrolled_at AT TIME ZONE 'UTC')::date, 'customer_enrolled',
        'm:' || id, 1
    FROM members WHERE program_id = $1
) AS r GROUP BY month, metric, customer
""",
    "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT MAX(id) FROM orders))",
    "SELECT setval(pg_get_serial_sequence('ledger_transactions', 'id'),"
    " (SELECT MAX(id) FROM ledger_transactions))",
    "SELECT setval(pg_get_serial_sequence('ledger_entries', 'id'),"
    " (SELECT MAX(id) FROM ledger_entries))",
    "SELECT setval(pg_get_serial_sequence('point_lots', 'id'), (SELECT MAX(id) FROM point_lots))",
]
CHUNK = 500_000


def log(message: str) -> None:
    print(f"[bench-insights {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def seed(url: str, members: int, orders: int) -> dict[str, int]:
    settings = Settings(database_url=url)
    await apply_migrations(settings)
    await init_db(settings)
    try:
        program = await programs_service.create_program(
            programs_service.CreateProgramInput(
                slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1
            )
        )
    finally:
        await close_db()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        started = time.perf_counter()
        await conn.execute(MEMBERS_SQL, program.id, members, DAYS)
        log(f"{members:,} members")
        for first in range(1, orders + 1, CHUNK):
            last = min(orders, first + CHUNK - 1)
            async with conn.transaction():
                await conn.execute(ORDERS_SQL, program.id, members, DAYS, first, last)
                await conn.execute(LEDGER_SQL, program.id, first, last)
                await conn.execute(ENTRIES_SQL, program.id, first, last)
                await conn.execute(LOTS_SQL, program.id, first, last)
            log(f"orders and ledger up to {last:,}")
        for statement in FINISH_SQL:
            await conn.execute(statement, program.id) if "$1" in statement else await conn.execute(
                statement
            )
        await conn.execute("ANALYZE")
        counts = await conn.fetchrow(
            "SELECT (SELECT COUNT(*) FROM members) AS members,"
            " (SELECT COUNT(*) FROM orders) AS orders,"
            " (SELECT COUNT(*) FROM ledger_entries) AS entries,"
            " (SELECT COUNT(*) FROM analytics_days) AS rollup_rows"
        )
        assert counts is not None
        log(f"seeded in {time.perf_counter() - started:.0f} s: {dict(counts)}")
        return {key: int(value) for key, value in dict(counts).items()} | {
            "seconds": int(time.perf_counter() - started)
        }
    finally:
        await conn.close()


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


async def measure(
    url: str, rounds: int
) -> tuple[float, list[tuple[str, float, float, float, float | None]]]:
    """The seconds of `laurel analytics summarise` (the daily job, on a clock set to
    2026-12-07: November is the newest settled month, December is open), then the queries."""
    await init_db(Settings(database_url=url))
    previous = app_clock.install(ManualClock(TODAY))
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
                "programInsights 2026 by MONTH (open December: settled part + its customers)",
                insights(date(2026, 1, 1), date(2026, 12, 31)),
                300.0,
            ),
            (
                "programCohorts 2025 (12 cohorts x 12 months, settled)",
                cohorts(date(2025, 1, 1), date(2025, 12, 1)),
                1000.0,
            ),
            (
                "programCohorts 2026 (12 x 12, open months counted)",
                cohorts(date(2026, 1, 1), date(2026, 12, 1)),
                1000.0,
            ),
        )
        return summarised, [
            (name, *await timed(rounds, work), target) for name, work, target in queries
        ]
    finally:
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-insights", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M members, 5M orders")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database", default=DATABASE, help=f"the database to create (default {DATABASE})"
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
        recreate(url)
    except BenchError as exc:
        print(f"bench-insights: {exc}", file=sys.stderr)
        return 2
    try:
        counts = asyncio.run(seed(url, members, orders))
        summarised, results = asyncio.run(measure(url, options.rounds))
        seconds, rss, code = verify(url)
    finally:
        if not options.keep:
            drop(url)
    print(
        f"{counts['members']:,} members, {counts['orders']:,} orders,"
        f" {counts['entries']:,} ledger entries, {counts['rollup_rows']:,} rollup rows"
        f" (seeded in {counts['seconds']} s); laurel analytics summarise {summarised:.1f} s\n"
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
