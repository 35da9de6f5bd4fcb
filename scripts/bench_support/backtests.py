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
import os
import time

from app.db import utc_now
from app.jobs.backtests import run_queued_backtests
from app.services.backtests import jobs as backtest_jobs
from app.services.backtests import service as backtests
from bench_support.backtest_common import (
    END,
    PROPOSAL,
    START,
    drop,
    read_floor,
    report_backtest,
    run_on_postgres,
    seeded_for_backtest,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/laurel_backtest_bench"
TARGET_ORDERS = 1_000_000


async def bench(url: str, members: int, orders: int) -> None:
    async with seeded_for_backtest(url, members, orders):
        floor_read = await read_floor()
        started, cpu_started = time.perf_counter(), time.process_time()
        job = await backtest_jobs.queue_backtest(
            backtests.BacktestInput("bench", START, END, PROPOSAL), None
        )
        ran = await run_queued_backtests(utc_now())
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        done = await backtest_jobs.get_backtest_job(job.id, None)
        assert ran == {"backtests": 1} and done is not None and done.result is not None, done
        report_backtest(done.result, seconds, cpu, floor_read, "backtest job")


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

    run_on_postgres("bench-backtest", run)


if __name__ == "__main__":
    main()
