"""`scripts/bench-backtest`: a 12-month backtest run as a job (startBacktest's path) on PostgreSQL.

`orders` orders over 12 months for `members` members are seeded with set-based SQL (not through
the API: a backtest reads orders only, so no ledger is needed) into a database of its own, the
program configured as in `scripts/bench-import` (1 point per EUR, 14 pending days, 12-month lots,
three tiers, a double-points campaign). The backtest is queued with `queue_backtest` and played
by the runner's `run_queued_backtests`, with a proposal (2 points per EUR, two tiers, 180-day
expiry). Printed: seconds, orders per second, the process's CPU, and their ratio to a floor
measured in the same run (reading the same orders page by page, decoding them, evaluating
nothing), then the projection to 1,000,000 orders against the 60 s target. The ledger is
checked empty after (a backtest writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta

import asyncpg

from app.config import Settings
from app.db import apply_migrations, close_db, connection, fetch_one, init_db, utc_now
from app.jobs.backtests import run_queued_backtests
from app.services.backtests import jobs as backtest_jobs
from app.services.backtests import service as backtests
from bench_support.imports import START, configure, drop, peak_mib, recreate, seed_orders

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/laurel_backtest_bench"
TARGET_ORDERS = 1_000_000
TARGET_SECONDS = 60.0


def log(message: str) -> None:
    print(message, flush=True)


async def bench(url: str, members: int, orders: int) -> None:
    await recreate(url)
    settings = replace(Settings.from_env(), database_url=url)
    await apply_migrations(settings)
    await close_db()
    await init_db(settings)
    try:
        await configure("bench")
        started = time.perf_counter()
        await seed_orders(url, members, orders)
        log(
            f"seeded {orders} orders for {members} members in {time.perf_counter() - started:.1f} s"
        )
        end = START + timedelta(days=365)

        started, cpu_started = time.perf_counter(), time.process_time()
        read = 0
        async for page in backtests._orders(1, START, end):
            read += len(page)
        floor_seconds = time.perf_counter() - started
        floor_cpu = time.process_time() - cpu_started

        proposal = backtests.Proposal(
            points_per_currency_unit=2,
            tiers=(
                backtests.ProposedTier("Base", 0),
                backtests.ProposedTier("Plus", 1000, "1.25"),
            ),
            expiry_days=180,
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        job = await backtest_jobs.queue_backtest(
            backtests.BacktestInput("bench", START, end, proposal), None
        )
        ran = await run_queued_backtests(utc_now())
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        done = await backtest_jobs.get_backtest_job(job.id, None)
        assert ran == {"backtests": 1} and done is not None and done.result is not None, done
        result = done.result
        rate = result.orders / seconds
        log(
            f"backtest job of {result.orders} orders ({result.members} members) over 12 months:"
            f" {seconds:.1f} s wall = {rate:.0f} orders/s; {cpu:.1f} s CPU; peak"
            f" {peak_mib():.0f} MiB"
        )
        log(
            f"floor (reading and decoding the same {read} orders): {floor_seconds:.1f} s wall,"
            f" {floor_cpu:.1f} s CPU; backtest = {seconds / max(floor_seconds, 1e-9):.2f}x the"
            f" floor's wall time, {cpu / max(floor_cpu, 1e-9):.2f}x its CPU"
        )
        projected_wall = TARGET_ORDERS / rate
        projected_cpu = cpu * TARGET_ORDERS / max(result.orders, 1)
        log(
            f"projected to {TARGET_ORDERS:,} orders: {projected_wall:.0f} s wall,"
            f" {projected_cpu:.0f} s CPU; target {TARGET_SECONDS:.0f} s:"
            f" {projected_wall / TARGET_SECONDS:.2f}x the target (wall),"
            f" {projected_cpu / TARGET_SECONDS:.2f}x (CPU)"
        )
        log(
            f"issued: current {result.current.points_issued}, proposed"
            f" {result.proposed.points_issued}; liability {result.current.liability_points} ->"
            f" {result.proposed.liability_points}"
        )
        row = await fetch_one(connection(), "SELECT COUNT(*) AS n FROM ledger_transactions", ())
        assert row is not None and int(row["n"]) == 0, "a backtest wrote to the ledger"
    finally:
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders to seed (default 100,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    if not 0 < args.orders <= TARGET_ORDERS:
        parser.error(f"--orders is in 1..{TARGET_ORDERS}")
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    if not url.rpartition("/")[2].startswith("laurel_backtest"):
        url = url.rpartition("/")[0] + "/laurel_backtest_bench"
    members = max(1, args.orders // 5)

    async def run() -> None:
        try:
            await bench(url, members, args.orders)
        finally:
            if not args.keep:
                await drop(url)

    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"bench-backtest cannot run: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
