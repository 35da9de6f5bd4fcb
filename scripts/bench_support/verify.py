"""`laurel verify-ledger` at scale (scripts/bench-verify), on PostgreSQL: the program of
scripts/bench-insights (insights_seed.py: 1,000,000 members x `--scale`, 5,000,000 orders x
scale, 10,000,000 ledger entries x scale) seeded in bulk, then `laurel verify-ledger` run as a
child process, its wall time and peak RSS (the child's own, from wait4) against floors
measured in the same run:

- time floor: one pass of SUM(amount) over every ledger entry, the least any check of the
  whole ledger costs (the seconds of `laurel --help`, the process's start, are shown beside);
- memory floor: the peak RSS of `laurel --help`, the interpreter with the CLI imported.

Targets: under 60 s at 10,000,000 entries, and memory flat in the entries (the RSS ratio
stays near 1 whatever the scale). With `--check` it also runs `laurel analytics rebuild
--check`, which recomputes every rollup from the orders, members and ledger, and fails when
the seeded rollups differ from it or when verify-ledger finds a problem: the seed's rows are
then what the write path would have kept (meant for small scales: the rebuild reads the
whole history in Python). Exit 1 on a failed check, 2 when it cannot run. The database is
dropped at the end unless --keep; --reuse measures a database kept before without seeding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.db import normalise_url
from bench_support.insights_seed import seed
from bench_support.jobs_main import BenchError, drop, recreate

DATABASE = "laurel_verify_bench"
DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
MEMBERS, ORDERS = 1_000_000, 5_000_000
TARGET_SECONDS = 60.0


def log(message: str) -> None:
    print(f"[bench-verify {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def laurel(url: str, *args: str) -> tuple[float, float, int, str]:
    """Seconds, peak RSS in MiB (this child's alone), exit code and output of `laurel args`."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    # Read as it comes so a long list of problems cannot fill the pipe and stall the child.
    tail: list[str] = []
    for line in child.stdout:
        tail = [*tail[-19:], line]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, child.returncode, "".join(tail)


async def one_pass_floor(url: str) -> float:
    conn = await asyncpg.connect(url, timeout=10, command_timeout=None)
    try:
        started = time.perf_counter()
        await conn.fetchval("SELECT COALESCE(SUM(amount), 0) FROM ledger_entries")
        return time.perf_counter() - started
    finally:
        await conn.close()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-verify", description=__doc__)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0: 1M members, 5M orders, 10M entries"
    )
    parser.add_argument(
        "--check", action="store_true", help="also laurel analytics rebuild --check"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database, no seeding")
    parser.add_argument("--database", default=DATABASE, help=f"default {DATABASE}")
    options = parser.parse_args(argv)
    if not 0 < options.scale <= 1:
        parser.error("--scale is in (0, 1]")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    admin_url = normalise_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    url = with_database(admin_url, options.database)
    members, orders = int(MEMBERS * options.scale), int(ORDERS * options.scale)
    seeded = "reused"
    try:
        if not options.reuse:
            recreate(url)
    except BenchError as exc:
        print(f"bench-verify: {exc}", file=sys.stderr)
        return 2
    failed = False
    try:
        if not options.reuse:
            counts = asyncio.run(seed(url, members, orders))
            seeded = (
                f"{counts['members']:,} members, {counts['orders']:,} orders,"
                f" {counts['entries']:,} ledger entries, {counts['rollup_rows']:,} rollup rows,"
                f" seeded in {counts['seconds']} s"
            )
        floor_seconds = asyncio.run(one_pass_floor(url))
        start_seconds, floor_rss, _, _ = laurel(url, "--help")
        seconds, rss, code, output = laurel(url, "verify-ledger")
        log(f"verify-ledger exit {code}: {output.strip()[-300:]}")
        failed = code != 0
        rebuild = None
        if options.check:
            rebuild = laurel(url, "analytics", "rebuild", "--check")
            log(f"analytics rebuild --check exit {rebuild[2]}: {rebuild[3].strip()[-600:]}")
            failed = failed or rebuild[2] != 0
    finally:
        if not options.keep:
            drop(url)
    print(f"{seeded}\n")
    print("| measure | seconds | / floor | peak RSS MiB | / floor | result |")
    print("|---|---|---|---|---|---|")
    print(
        f"| floor: SUM(amount) over the ledger; RSS of laurel --help ({start_seconds:.1f} s)"
        f" | {floor_seconds:.2f} | 1.0x | {floor_rss:.0f} | 1.0x | |"
    )
    verdict = "PASS" if seconds < TARGET_SECONDS and code == 0 else "MISS"
    print(
        f"| laurel verify-ledger (exit {code}) | {seconds:.1f} | {seconds / floor_seconds:.1f}x"
        f" | {rss:.0f} | {rss / floor_rss:.2f}x | {verdict} (< {TARGET_SECONDS:g} s) |"
    )
    if rebuild is not None:
        print(
            f"| laurel analytics rebuild --check (exit {rebuild[2]}) | {rebuild[0]:.1f} |"
            f" | {rebuild[1]:.0f} | | {'PASS' if rebuild[2] == 0 else 'FAIL'} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
