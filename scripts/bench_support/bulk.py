"""`scripts/bench-bulk`: a bulk points adjustment against its floor, on SQLite and PostgreSQL.

For each backend a fresh database (an SQLite file in a temporary directory; the PostgreSQL
database of BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/laurel_bulk_bench,
dropped afterwards) with one program and `members` members enrolled through a bulk enrolment.
The floor, measured in the same run in two halves around the bulk operation: `adjust_points`
called directly for members of their own (the single-member service, as `adjustPoints` runs it,
without the file, the progress or the audit entry). The bulk operation adjusts every member
from a file through the job runner. Printed: members/s of each, and bulk per member as a ratio
of the floor (the price of the progress written in each member's transaction and of resuming
exactly), then `verify-ledger`. About a minute with the defaults on a quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from app.config import Settings
from app.db import apply_migrations, close_db, init_db
from app.domain.bulk import BulkKind
from app.jobs.bulk import run_claimed
from app.services.bulk import repository
from app.services.bulk import service as bulk
from app.services.ledger.adjustments import AdjustPointsInput, adjust_points
from app.services.ledger.verify import verify_ledger
from app.services.members.service import get_member_by_customer_id
from app.services.programs.service import CreateProgramInput, create_program, require_program
from bench_support.backtest_common import drop, recreate, run_on_postgres

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/laurel_bulk_bench"


def log(message: str) -> None:
    print(message, flush=True)


async def _operation(kind: BulkKind, content: str, parameters: bulk.BulkParameters) -> float:
    """Queue and run one operation; its seconds."""
    started = time.perf_counter()
    queued = await bulk.queue_bulk_operation(
        bulk.QueueBulkInput("bench", kind, parameters, content=content), None, bulk.Requester()
    )
    claimed = await repository.claim(queued.id)
    assert claimed is not None
    done = await run_claimed(claimed)
    assert done.failed == 0 and done.applied == done.rows_total, done
    return time.perf_counter() - started


async def _floor(customer_ids: list[str]) -> float:
    """Seconds per member of `adjust_points` alone."""
    program_id = (await require_program("bench", None)).id
    started = time.perf_counter()
    for customer_id in customer_ids:
        member = await get_member_by_customer_id(program_id, customer_id)
        assert member is not None
        await adjust_points(
            AdjustPointsInput(member.id, 5, "floor", f"floor-{customer_id}", "Floor"), program_id
        )
    return (time.perf_counter() - started) / len(customer_ids)


async def bench(settings: Settings, name: str, members: int, floor_members: int) -> None:
    await apply_migrations(settings)
    await close_db()
    await init_db(settings)
    try:
        await create_program(
            CreateProgramInput(
                slug="bench", name="bench", currency="EUR", points_per_currency_unit=1
            )
        )
        ids = [f"m{n:07}" for n in range(members)]
        floor_ids = [f"f{n:07}" for n in range(floor_members)]
        enrol = "customer_id\n" + "\n".join(ids + floor_ids) + "\n"
        seconds = await _operation(BulkKind.ENROLL_MEMBERS, enrol, bulk.BulkParameters())
        log(f"{name}: bulk enrol {members + floor_members} members in {seconds:.1f} s")
        half = floor_members // 2
        floor_before = await _floor(floor_ids[:half])
        adjust = "customer_id,points\n" + "\n".join(f"{c},7" for c in ids) + "\n"
        seconds = await _operation(
            BulkKind.ADJUST_POINTS, adjust, bulk.BulkParameters(reason="bench")
        )
        floor_after = await _floor(floor_ids[half:])
        floor_per_member = (floor_before + floor_after) / 2
        per_member = seconds / members
        log(
            f"{name}: floor (adjust_points alone) {1 / floor_per_member:.0f} members/s"
            f" (halves {1000 * floor_before:.2f} and {1000 * floor_after:.2f} ms);"
            f" bulk adjust {members / seconds:.0f} members/s ="
            f" {per_member / floor_per_member:.2f}x floor per member"
        )
        problems = await verify_ledger()
        log(f"{name}: verify-ledger {'OK' if not problems else f'{len(problems)} problems'}")
        if problems:
            raise SystemExit(1)
    finally:
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--floor-members", type=int, default=400)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    if not url.rpartition("/")[2].startswith("laurel_bulk"):
        url = url.rpartition("/")[0] + "/laurel_bulk_bench"

    if args.backend == "both":
        # One process per backend: Tortoise keeps the first backend's SQL dialect in its models.
        status = 0
        for backend in ("sqlite", "postgres"):
            sizes = ["--members", str(args.members), "--floor-members", str(args.floor_members)]
            ran = subprocess.run(
                [sys.executable, "-m", "bench_support.bulk", "--backend", backend, *sizes],
                check=False,
            )
            status = max(status, ran.returncode)
        sys.exit(status)

    async def run() -> None:
        base = Settings.from_env()
        if args.backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                sqlite = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
                await bench(
                    replace(base, database_url=sqlite), "sqlite", args.members, args.floor_members
                )
            return
        await recreate(url)
        try:
            await bench(
                replace(base, database_url=url), "postgres", args.members, args.floor_members
            )
        finally:
            await drop(url)

    run_on_postgres("bench-bulk", run)


if __name__ == "__main__":
    main()
