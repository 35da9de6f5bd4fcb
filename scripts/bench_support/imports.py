"""`scripts/bench-import`: the import with as-of recalculation, and a backtest, on PostgreSQL.

Import: a program (1 point per EUR, 14 pending days, lots expiring 12 months after they become
available, three tiers on points earned over a rolling year, a double-points campaign) gets
`members` members and `orders` orders spread over two years through `run_import`, from CSV
files written to a temporary directory. Printed: seconds, rows/s and the process's peak memory
after the members, after half the orders and after all of them (flat in the file size: the
import holds one item at a time), then `verify-ledger`. The floor, measured in the same run, is
`record_order` called directly for the first orders of a second program (the live path, no
file, no replay): the ratio import/floor per order is the cost of reading and replaying.

Backtest: `orders` orders over 12 months for `members` members, seeded with set-based SQL into
a second database (no ledger: a backtest reads orders only), then `backtest_program` with a
proposal (2 points per EUR, tiers, expiry) against a floor of reading the same orders page by
page. Targets: 1,000,000 orders / 200,000 members import in under 10 minutes, the backtest of
1,000,000 orders in under 60 s; `--scale` runs a fraction of both (`--scale 0.01`: 10,000
orders, 2,000 members).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from app import clock as app_clock
from app.db import connection, fetch_all
from app.domain.imports import FileFormat, ImportKind
from app.jobs.imports import run_import
from app.services.backtests import service as backtests
from app.services.ledger.verify import verify_ledger
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from bench_support.backtest_common import (
    END,
    PROPOSAL,
    START,
    configure,
    drop,
    fresh_database,
    log,
    peak_mib,
    read_floor,
    report_backtest,
    run_on_postgres,
    seeded_for_backtest,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/laurel_import_bench"
FLOOR_ORDERS = 500


def write_files(directory: Path, members: int, orders: int) -> tuple[Path, Path]:
    rng = random.Random(22)
    members_file = directory / "members.csv"
    with members_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["customer_id", "email", "enrolled_at"])
        for n in range(members):
            writer.writerow([f"c{n}", f"c{n}@example.com", (START - timedelta(days=1)).isoformat()])
    orders_file = directory / "orders.csv"
    span = timedelta(days=730).total_seconds()
    with orders_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "order_id",
                "customer_id",
                "placed_at",
                "currency",
                "sku",
                "quantity",
                "unit_price_minor",
            ]
        )
        for n in range(orders):
            at = START + timedelta(seconds=span * n / orders)
            customer = rng.randrange(members)
            writer.writerow(
                [
                    f"o{n}",
                    f"c{customer}",
                    at.isoformat(),
                    "EUR",
                    f"SKU-{n % 50}",
                    1 + n % 3,
                    rng.randrange(500, 20_000),
                ]
            )
    return members_file, orders_file


async def import_file(
    slug: str, kind: ImportKind, path: Path, *, tasks: int | None = None, by_member: bool = True
) -> tuple[float, Any]:
    started = time.perf_counter()
    with path.open("rb") as stream:
        report = await run_import(
            stream,
            program_slug=slug,
            kind=kind,
            file_format=FileFormat.CSV,
            replay_tasks=tasks,
            member_by_member=by_member,
        )
    return time.perf_counter() - started, report


async def program_state(slug: str) -> list[Any]:
    """What the replay leaves of each customer: balances, lots, tier (to compare two replays)."""
    conn = connection()
    parts: list[Any] = []
    for statement in (
        "SELECT m.customer_id, m.points_available, m.points_pending, m.lifetime_earned"
        " FROM members m JOIN programs p ON p.id = m.program_id WHERE p.slug = ?"
        " ORDER BY m.customer_id",
        "SELECT m.customer_id, l.points, l.remaining, l.expires_at, l.pending_until,"
        " l.created_at FROM point_lots l JOIN members m ON m.id = l.member_id"
        " JOIN programs p ON p.id = m.program_id WHERE p.slug = ?",
        "SELECT m.customer_id, t.name, mt.since FROM member_tiers mt"
        " JOIN members m ON m.id = mt.member_id JOIN tiers t ON t.id = mt.tier_id"
        " JOIN programs p ON p.id = m.program_id WHERE p.slug = ? ORDER BY m.customer_id",
        "SELECT o.order_id, o.points_earned FROM orders o JOIN programs p ON p.id = o.program_id"
        " WHERE p.slug = ? ORDER BY o.order_id",
    ):
        rows = await fetch_all(conn, statement, (slug,))
        parts.append(sorted(repr(tuple(row.values())) for row in rows))
    return parts


async def floor(slug: str, orders: int, members: int) -> float:
    """`record_order` alone (no file, no replay) for `orders` orders of `members` members, each
    order at its own time, as the live API records them."""
    for n in range(members):
        await enroll_member(EnrollMemberInput(slug, f"f{n}"), None)
    clock = app_clock.ManualClock(START)
    started = time.perf_counter()
    with app_clock.using_in_context(clock):
        for n in range(orders):
            at = START + timedelta(hours=9 * n)
            clock.set(at)
            await record_order(
                RecordOrderInput(
                    program_slug=slug,
                    customer_id=f"f{n % members}",
                    order_id=f"f{n}",
                    currency="EUR",
                    total_minor=1500,
                    lines=[OrderLineInput(sku="F", quantity=1, unit_price_minor=1500)],
                    placed_at=at,
                ),
                None,
            )
    return (time.perf_counter() - started) / orders


async def baseline(
    url: str, members_file: Path, half: Path, orders_file: Path, orders: int
) -> tuple[float, list[Any]]:
    """The replay as it was before it went member by member: every order and the due work
    before it one after the other (`member_by_member=False`), the same files in the same steps
    as the measured import, in a database of its own (the global due work of one import would
    otherwise reach the other's program). Gives seconds per order and the state it leaves."""
    async with fresh_database(url):
        await configure("bench")
        await import_file("bench", ImportKind.MEMBERS, members_file)
        seconds = 0.0
        runs = 0
        for path in (half, orders_file):
            taken, report = await import_file("bench", ImportKind.ORDERS, path, by_member=False)
            seconds += taken
            runs += report.due_runs
        log(
            f"baseline (one order after the other, the due work before each): {orders} in "
            f"{seconds:.1f} s = {orders / seconds:.0f} orders/s, scheduled work ran {runs} times"
        )
        state = await program_state("bench")
    await drop(url)
    return seconds / orders, state


async def bench_import(
    url: str, members: int, orders: int, *, tasks: int | None, with_baseline: bool
) -> None:
    # A fixed "now" a day after the last order: what each import leaves due at its end is done
    # as of the same instant, whichever ends later, so the baseline and the import compare.
    with (
        app_clock.using(app_clock.ManualClock(START + timedelta(days=731))),
        tempfile.TemporaryDirectory() as directory,
    ):
        members_file, orders_file = write_files(Path(directory), members, orders)
        half = Path(directory) / "half.csv"
        with orders_file.open() as source, half.open("w") as target:
            for n, line in enumerate(source):
                if n > orders // 2:
                    break
                target.write(line)
        size = orders_file.stat().st_size
        log(f"files: {members} members, {orders} orders ({size / 2**20:.1f} MiB of orders)")
        before = (
            await baseline(url + "_baseline", members_file, half, orders_file, orders)
            if with_baseline
            else None
        )
        async with fresh_database(url):
            await configure("bench")
            await configure("floor")
            await _bench_import(members_file, half, orders_file, orders, tasks, before)
            problems = await verify_ledger()
            log(f"verify-ledger: {'OK' if not problems else f'{len(problems)} problems'}")


async def _bench_import(
    members_file: Path,
    half: Path,
    orders_file: Path,
    orders: int,
    tasks: int | None,
    before: tuple[float, list[Any]] | None,
) -> None:
    seconds, report = await import_file("bench", ImportKind.MEMBERS, members_file)
    log(
        f"members: {report.imported} in {seconds:.1f} s ({report.imported / seconds:.0f} "
        f"rows/s), peak {peak_mib():.0f} MiB"
    )
    seconds_half, report_half = await import_file("bench", ImportKind.ORDERS, half, tasks=tasks)
    memory_half = peak_mib()
    log(
        f"orders, first half: {report_half.imported} in {seconds_half:.1f} "
        f"s ({report_half.imported / seconds_half:.0f} rows/s), peak {memory_half:.0f} "
        f"MiB"
    )
    seconds_all, report_all = await import_file(
        "bench", ImportKind.ORDERS, orders_file, tasks=tasks
    )
    memory_all = peak_mib()
    log(
        f"orders, the rest (the first half skipped): {report_all.imported} "
        f"new, {report_all.skipped} skipped in {seconds_all:.1f} s, peak "
        f"{memory_all:.0f} MiB; scheduled work ran "
        f"{report_half.due_runs + report_all.due_runs} times"
    )
    total = seconds_half + seconds_all
    log(
        f"orders: {orders} in {total:.1f} s = {orders / total:.0f} orders/s; "
        f"peak memory after half {memory_half:.0f} MiB, after all {memory_all:.0f} "
        f"MiB (ratio {memory_all / memory_half:.2f}, flat ~1)"
    )
    per_order = total / orders
    floor_per_order = await floor(
        "floor", min(FLOOR_ORDERS, orders), max(1, min(FLOOR_ORDERS, orders) // 5)
    )
    log(
        f"floor (record_order alone): {1000 * floor_per_order:.2f} ms/order; "
        f"import {1000 * per_order:.2f} ms/order = {per_order / floor_per_order:.2f}x "
        f"floor"
    )
    if before is not None:
        baseline_per_order, baseline_state = before
        log(
            f"baseline {1000 * baseline_per_order:.2f} ms/order = "
            f"{baseline_per_order / floor_per_order:.2f}x floor; member by member "
            f"{baseline_per_order / per_order:.2f}x faster; same members' balances, lots, "
            f"tiers and order points as the baseline: "
            f"{baseline_state == await program_state('bench')}"
        )
    extrapolated = 1_000_000 * per_order
    log(f"1,000,000 orders at this rate: {extrapolated / 60:.1f} min (target < 10 min)")


async def bench_backtest(url: str, members: int, orders: int) -> None:
    """The backtest called directly (backtestProgram's path)."""
    async with seeded_for_backtest(url, members, orders):
        floor_read = await read_floor()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = await backtests.backtest_program(
            backtests.BacktestInput("bench", START, END, PROPOSAL), None
        )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        report_backtest(result, seconds, cpu, floor_read, "backtest")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="a fraction of 1,000,000 orders / 200,000 members"
    )
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-backtest", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also import the orders one after the other, as before the member-by-member replay",
    )
    parser.add_argument(
        "--replay-tasks", type=int, default=None, help="members replayed at once (default 8)"
    )
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        parser.error("--scale is in (0, 1]")
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    if not url.rpartition("/")[2].startswith("laurel_import"):
        url = url.rpartition("/")[0] + "/laurel_import_bench"
    orders = int(1_000_000 * args.scale)
    members = max(1, int(200_000 * args.scale))
    backtest_url = url + "_backtest"

    async def run() -> None:
        try:
            if not args.skip_import:
                await bench_import(
                    url, members, orders, tasks=args.replay_tasks, with_baseline=args.baseline
                )
            if not args.skip_backtest:
                await bench_backtest(backtest_url, members, orders)
        finally:
            if not args.keep:
                if not args.skip_import:
                    await drop(url)
                if not args.skip_backtest:
                    await drop(backtest_url)

    run_on_postgres("bench-import", run)


if __name__ == "__main__":
    main()
