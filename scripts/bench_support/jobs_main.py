"""`scripts/bench-jobs`: expiry and maturing on PostgreSQL grow with the lots due, not the table.

Two fresh databases on the server of BENCH_POSTGRES_URL: the big table (`--members`, `--lots`;
100,000 and 1,000,000 by default) and a small one (a tenth of each by default), migrated with
app.db.apply_migrations and seeded with set-based SQL (jobs_seed.py). Then, each in a fresh
process (jobs_measure.py), `expire_lots` and `mature_due_points` at two due sizes in the big
table (`--due`, 2,000 and 8,000 by default) and at the first size in the small table. Each pair
of jobs is bracketed by the two halves of its floor: one minimal transaction per lot (as many as
are due) through the same Tortoise connection, so drift on a shared machine hits both alike.

The report gives seconds, lots per second, CPU time (the measuring process and its PostgreSQL
backends), the peak memory the work added, each job's time per lot as a ratio of its floor's,
and the ratios that carry the claim:

- time per due lot, big table / small table, at the same due size: ~1 (not 10x, the table's);
- time at 4x the due lots / time at 1x, in the same table: ~4 (linear in the lots due);
- peak memory at 4x the due lots / at 1x, and big / small: ~1 (bounded by the batch size).

Raw wall-clock and CPU ratios are printed, but the targets are judged on each job's CPU time
per lot as a multiple of its floor's: on a shared machine other processes slow both wall-clock
and CPU time (contention makes every statement cost more CPU), and slow the floor run around the
job alike. They are reported PASS/MISS and never fail the run. The run fails (exit 1) when a job
did not do exactly the due work (wrong counts, lots left due) or `laurel verify-ledger` finds
the ledger and the balances disagreeing afterwards; exit 2 when it cannot run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.config import Settings
from app.db import apply_migrations, normalise_url
from bench_support.jobs_seed import Layout, seed

SUPPORT_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SUPPORT_DIR.parent.parent
BIN_DIR = Path(sys.executable).parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/laurel_jobs_bench"
NAME_PREFIX = "laurel_jobs"
MEASURE_TIMEOUT = 1800.0

# Targets (reported, never fatal).
TABLE_FACTOR = 1.25  # time per due lot, big table / small table, at most
LINEAR_BAND = 0.25  # time at k x the due lots within k x (1 +- this)
MEMORY_FACTOR = 1.5  # peak memory added, larger / smaller run, at most...
MEMORY_SLACK_KIB = 2048  # ...or within this much of each other (allocator noise)


class BenchError(Exception):
    """The run could not go on."""


class JobsMismatchError(Exception):
    """A job did not do exactly the work that was due."""


def log(message: str) -> None:
    print(f"[bench-jobs {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- databases


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def bench_url(configured: str | None) -> str:
    """The big table's database URL; never one whose name says it is someone else's.

    The benchmark drops and recreates its databases, and scripts/bench reads the same variable
    as an admin URL (`.../test`): a name not starting with `laurel_jobs` keeps its server and
    credentials but gets `laurel_jobs_bench`.
    """
    url = normalise_url(configured or DEFAULT_URL)
    name = _database_name(url)
    if not name.startswith(NAME_PREFIX):
        fallback = _database_name(DEFAULT_URL)
        log(
            f"BENCH_POSTGRES_URL names database {name!r}, which this benchmark would drop:"
            f" using {fallback!r} on the same server instead"
        )
        url = _with_database(url, fallback)
    return url


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _admin(url: str, *statements: str) -> None:
    last_error: Exception | None = None
    for maintenance in ("postgres", "template1"):
        try:
            conn = await asyncpg.connect(_with_database(url, maintenance), timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            last_error = exc
            continue
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        return
    raise BenchError(f"cannot reach PostgreSQL at {url}: {last_error}")


def recreate(url: str) -> None:
    name = _quote(_database_name(url))
    asyncio.run(
        _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    )


def drop(url: str) -> None:
    asyncio.run(_admin(url, f"DROP DATABASE IF EXISTS {_quote(_database_name(url))} WITH (FORCE)"))


def query_one(url: str, statement: str, *params: Any) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            row = await conn.fetchrow(statement, *params)
        finally:
            await conn.close()
        return dict(row) if row is not None else {}

    result: dict[str, Any] = asyncio.run(run())
    return result


# ----------------------------------------------------------------------------- plan


@dataclass
class Table:
    label: str  # big | small
    url: str
    layout: Layout
    bands: list[int]  # due lots per measurement, in order
    chunk: int = 100_000
    seed_info: dict[str, Any] = field(default_factory=dict)

    def cut(self, band: int) -> tuple[int, int]:
        """Ranks [low, high) that fall due in measurement `band`."""
        low = sum(self.bands[:band])
        return low, low + self.bands[band]


@dataclass
class Measurement:
    table: Table
    band: int
    what: str  # expire | mature | floor
    due: int
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = 0.0
    added_kib: int = 0
    baseline_kib: int = 0
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def per_lot(self) -> float:
        return self.seconds / self.due if self.due else 0.0

    @property
    def cpu(self) -> float | None:
        """Seconds of CPU: the measuring process and its PostgreSQL backends."""
        return None if self.server_cpu is None else self.client_cpu + self.server_cpu

    @property
    def cpu_per_lot(self) -> float | None:
        cpu = self.cpu
        return None if cpu is None or not self.due else cpu / self.due


def _measure_env() -> dict[str, str]:
    env = dict(os.environ)
    scripts = str(SUPPORT_DIR.parent)
    env["PYTHONPATH"] = scripts + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run_measure(table: Table, what: str, extra: list[str]) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench_support.jobs_measure", "--url", table.url]
    args += ["--what", what, *extra]
    try:
        done = subprocess.run(
            args,
            env=_measure_env(),
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=MEASURE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(
            f"{what} on the {table.label} table ran over {MEASURE_TIMEOUT:.0f} s"
        ) from exc
    if done.returncode != 0:
        raise BenchError(
            f"{what} on the {table.label} table failed (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _measurement(
    table: Table, band: int, what: str, due: int, result: dict[str, Any]
) -> Measurement:
    server = result["server_cpu"]
    return Measurement(
        table=table,
        band=band,
        what=what,
        due=due,
        seconds=float(result["seconds"]),
        client_cpu=float(result["client_cpu"]),
        server_cpu=None if server is None else float(server),
        added_kib=int(result["added_kib"]),
        baseline_kib=int(result["baseline_kib"]),
        summary={key: int(value) for key, value in result["summary"].items()},
    )


def run_job(table: Table, band: int, what: str) -> Measurement:
    low, high = table.cut(band)
    layout = table.layout
    now = layout.maturing_now(high) if what == "mature" else layout.expiry_now(high)
    result = _run_measure(table, what, ["--now", now.isoformat()])
    measurement = _measurement(table, band, what, high - low, result)
    check(measurement, low, high)
    return measurement


def run_floor(table: Table, band: int, lots: int, offset: int) -> dict[str, Any]:
    """One half of a floor: `lots` transactions on lots that are not due."""
    extra = ["--now", table.layout.t0.isoformat(), "--lots", str(lots), "--offset", str(offset)]
    result = _run_measure(table, "floor", extra)
    if int(result["summary"]["lots"]) != lots:
        raise BenchError(f"the floor found {result['summary']['lots']} lots, not {lots}")
    return result


def combine_floor(table: Table, band: int, halves: list[dict[str, Any]]) -> Measurement:
    """The two halves of a floor (before and after the jobs) as one measurement."""
    servers = [half["server_cpu"] for half in halves]
    return _measurement(
        table,
        band,
        "floor",
        sum(int(half["summary"]["lots"]) for half in halves),
        {
            "seconds": sum(float(half["seconds"]) for half in halves),
            "client_cpu": sum(float(half["client_cpu"]) for half in halves),
            "server_cpu": None if None in servers else sum(servers),
            "added_kib": max(int(half["added_kib"]) for half in halves),
            "baseline_kib": max(int(half["baseline_kib"]) for half in halves),
            "summary": {"lots": sum(int(half["summary"]["lots"]) for half in halves)},
        },
    )


def check(m: Measurement, low: int, high: int) -> None:
    """The job did exactly the due work: every due lot, no other, nothing left due."""
    layout = m.table.layout
    url = m.table.url
    if m.what == "expire":
        now = layout.expiry_now(high)
        band = query_one(
            url,
            "SELECT COUNT(*) AS lots, COALESCE(SUM(points), 0) AS points,"
            " COUNT(*) FILTER (WHERE expired_by_id IS NOT NULL AND remaining = 0) AS emptied"
            " FROM point_lots WHERE expires_at >= $1 AND expires_at <= $2",
            layout.expiry_now(low),
            now,
        )
        left = query_one(
            url,
            "SELECT COUNT(*) AS n FROM point_lots WHERE remaining > 0 AND pending_until IS NULL"
            " AND expires_at IS NOT NULL AND expires_at <= $1",
            now,
        )
        expected = {"lots": m.due, "emptied": m.due, "points": band["points"], "left": 0}
        got = {
            "lots": band["lots"],
            "emptied": band["emptied"],
            "points": m.summary.get("points"),
            "left": left["n"],
        }
        if m.summary.get("members") != m.due:
            got["members"], expected["members"] = m.summary.get("members"), m.due
    elif m.what == "mature":
        left = query_one(
            url,
            "SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NOT NULL"
            " AND pending_until <= $1",
            layout.maturing_now(high),
        )
        expected = {"matured": m.due, "left": 0}
        got = {"matured": m.summary.get("lots"), "left": left["n"]}
    else:
        expected = {"lots": m.due}
        got = {"lots": m.summary.get("lots")}
    if got != expected:
        raise JobsMismatchError(
            f"{m.what} on the {m.table.label} table, {m.due} due: expected {expected}, got {got}"
        )


def verify_ledger(table: Table) -> list[str]:
    env = _measure_env()
    env["DATABASE_URL"] = table.url
    done = subprocess.run(
        [str(BIN_DIR / "laurel"), "verify-ledger"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=MEASURE_TIMEOUT,
        check=False,
    )
    if done.returncode == 0:
        return []
    lines = (done.stdout + done.stderr).strip().splitlines()
    return [f"{table.label} table: {line}" for line in lines[:20]] or [
        f"{table.label} table: verify-ledger exited {done.returncode}"
    ]


# ----------------------------------------------------------------------------- report


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _memory_ok(larger: Measurement, smaller: Measurement) -> bool:
    if abs(larger.added_kib - smaller.added_kib) <= MEMORY_SLACK_KIB:
        return True
    return larger.added_kib <= MEMORY_FACTOR * max(smaller.added_kib, 1)


def _memory_ratio(larger: Measurement, smaller: Measurement) -> str:
    if smaller.added_kib <= 0:
        return "n/a"
    return f"{larger.added_kib / smaller.added_kib:.2f}"


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _fmt(value: float | None, width: int, digits: int = 2) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def report(measurements: list[Measurement], big: Table, small: Table) -> list[str]:
    """Prints the tables; returns the missed targets."""
    floors = {(m.table.label, m.band): m for m in measurements if m.what == "floor"}
    print()
    print(
        f"{'job':<7} {'table lots':>10} {'due':>6} {'seconds':>8} {'lots/s':>7} {'ms/lot':>7}"
        f" {'x floor':>7} {'cpu ms/lot':>10} {'x floor':>7} {'peak +MiB':>9}"
    )
    for m in measurements:
        floor = floors[(m.table.label, m.band)]
        cpu_per_lot = m.cpu_per_lot
        print(
            f"{m.what:<7} {m.table.layout.lots:>10,} {m.due:>6,} {m.seconds:>8.2f}"
            f" {m.due / m.seconds if m.seconds else 0:>7.0f} {m.per_lot * 1000:>7.3f}"
            f" {_fmt(_ratio(m.per_lot, floor.per_lot), 7)}"
            f" {_fmt(None if cpu_per_lot is None else cpu_per_lot * 1000, 10, 3)}"
            f" {_fmt(_ratio(cpu_per_lot, floor.cpu_per_lot), 7)} {_mib(m.added_kib):>9}"
        )
    find = {(m.table.label, m.band, m.what): m for m in measurements}
    misses: list[str] = []
    first, second = big.bands[0], big.bands[1]
    scale = second / first
    print()
    print(
        f"{'':<7} {'per lot, big/small':>30}  {f'time at {scale:g}x due / 1x':>30}"
        f"  {f'peak mem {scale:g}x/1x':>16}  {'peak mem big/small':>18}"
    )
    print(
        f"{'job':<7} {'wall':>6} {'cpu':>5} {'/floor':>7} {'':>9}"
        f"  {'wall':>6} {'cpu':>5} {'/floor':>7} {'':>9}"
    )

    def vs_floor(m: Measurement) -> float | None:
        """CPU per lot over the CPU per lot of the floor that bracketed it (wall without)."""
        floor = floors[(m.table.label, m.band)]
        cpu = _ratio(m.cpu_per_lot, floor.cpu_per_lot)
        return cpu if cpu is not None else _ratio(m.per_lot, floor.per_lot)

    for what in ("expire", "mature", "floor"):
        at_big = find[("big", 0, what)]
        at_small = find[("small", 0, what)]
        at_more = find[("big", 1, what)]
        wall_table = _ratio(at_big.per_lot, at_small.per_lot)
        cpu_table = _ratio(at_big.cpu_per_lot, at_small.cpu_per_lot)
        wall_scale = _ratio(at_more.seconds, at_big.seconds)
        cpu_scale = _ratio(at_more.cpu, at_big.cpu)
        # The verdicts go by the job's CPU time as a multiple of its floor's, measured around
        # it: the load other processes put on a shared machine slows the floor alike and
        # cancels out, which neither raw wall-clock nor raw CPU time does (CPU time per
        # statement rises with contention too). The floor itself is the reference.
        floor_row = what == "floor"
        table_ratio = _ratio(vs_floor(at_big), vs_floor(at_small))
        scale_ratio = _ratio(vs_floor(at_more), vs_floor(at_big))
        scale_ratio = None if scale_ratio is None else scale_ratio * scale
        checks = [
            (
                floor_row or (table_ratio is not None and table_ratio <= TABLE_FACTOR),
                f"{what}: per due lot, over its floor, {big.layout.lots:,} lots cost"
                f" {_fmt(table_ratio, 0)}x what {small.layout.lots:,} do"
                f" (raw: wall {_fmt(wall_table, 0)}x, CPU {_fmt(cpu_table, 0)}x;"
                f" target <= {TABLE_FACTOR})",
            ),
            (
                floor_row
                or (scale_ratio is not None and abs(scale_ratio / scale - 1) <= LINEAR_BAND),
                f"{what}: {second:,} due lots cost {_fmt(scale_ratio, 0)}x {first:,}, over"
                f" their floors (raw: wall {_fmt(wall_scale, 0)}x, CPU {_fmt(cpu_scale, 0)}x;"
                f" target {scale:g}x +- {LINEAR_BAND:.0%})",
            ),
            (
                _memory_ok(at_more, at_big),
                f"{what}: peak memory +{_mib(at_more.added_kib)} MiB at {second:,} due vs"
                f" +{_mib(at_big.added_kib)} MiB at {first:,}",
            ),
            (
                _memory_ok(at_big, at_small) and _memory_ok(at_small, at_big),
                f"{what}: peak memory +{_mib(at_big.added_kib)} MiB in the big table vs"
                f" +{_mib(at_small.added_kib)} MiB in the small one",
            ),
        ]
        verdicts = [_verdict(ok) for ok, _ in checks]
        if floor_row:
            verdicts[:2] = ["(ref)", "(ref)"]
        print(
            f"{what:<7} {_fmt(wall_table, 6)} {_fmt(cpu_table, 5)}"
            f" {_fmt(None if floor_row else table_ratio, 7)} {verdicts[0]:>9}"
            f"  {_fmt(wall_scale, 6)} {_fmt(cpu_scale, 5)}"
            f" {_fmt(None if floor_row else scale_ratio, 7)} {verdicts[1]:>9}"
            f"  {_memory_ratio(at_more, at_big):>11} {verdicts[2]}"
            f"  {_memory_ratio(at_big, at_small):>13} {verdicts[3]}"
        )
        misses += [text for ok, text in checks if not ok]
    print()
    print(
        f"Targets: per lot big/small <= {TABLE_FACTOR}; {scale:g}x due within {scale:g}x +-"
        f" {LINEAR_BAND:.0%}; peak memory added within {MEMORY_FACTOR}x or"
        f" {MEMORY_SLACK_KIB // 1024} MiB. Time targets are judged on '/floor': the job's CPU"
        f" time per lot (the process and its PostgreSQL backends) over that of its floor, run in"
        f" two halves just before and just after the jobs, so machine load cancels out; 'wall'"
        f" and 'cpu' are the raw ratios. Floor: BEGIN; UPDATE point_lots SET remaining ="
        f" remaining WHERE id = $1; COMMIT per lot (as many as are due, on lots not due) through"
        f" the same Tortoise connection; 'x floor' columns above: per lot over the floor's."
    )
    for text in misses:
        print(f"MISS {text}")
    return misses


# ----------------------------------------------------------------------------- main


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: due sizes like 2000,8000") from exc
    if len(sizes) != 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: two positive due sizes like 2000,8000")
    return sizes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench-jobs",
        description="Expiry and maturing on PostgreSQL: time and peak memory against the lots"
        " due and the size of the table.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10,000 members / 100,000 lots, due 300 and 1,200 (a minute or two)",
    )
    parser.add_argument("--members", type=int, help="members of the big table (100,000)")
    parser.add_argument("--lots", type=int, help="lots of the big table (1,000,000)")
    parser.add_argument("--small-members", type=int, help="members of the small table (1/10)")
    parser.add_argument("--small-lots", type=int, help="lots of the small table (1/10)")
    parser.add_argument(
        "--due", type=_sizes, help="due lots per measurement, two sizes (2000,8000)"
    )
    parser.add_argument(
        "--pending-fraction",
        type=float,
        default=0.05,
        help="share of the other lots pending for days to come (0.05)",
    )
    parser.add_argument("--chunk", type=int, default=100_000, help="lots per seed transaction")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip `laurel verify-ledger` afterwards"
    )
    args = parser.parse_args(argv)
    quick = (10_000, 100_000, [300, 1_200])
    members, lots, due = quick if args.quick else (100_000, 1_000_000, [2_000, 8_000])
    args.members = args.members or members
    args.lots = args.lots or lots
    args.due = args.due or due
    args.small_members = args.small_members or max(args.members // 10, 1)
    args.small_lots = args.small_lots or max(args.lots // 10, 1)
    if not 0 <= args.pending_fraction < 0.9:
        parser.error("--pending-fraction must be in [0, 0.9)")
    return args


def prepare(table: Table) -> None:
    layout = table.layout
    log(
        f"{table.label} table: {layout.members:,} members, {layout.lots:,} lots in"
        f" {_database_name(table.url)}"
    )
    recreate(table.url)
    asyncio.run(apply_migrations(Settings(database_url=table.url)))
    table.seed_info = asyncio.run(seed(table.url, layout, table.chunk, log))
    info = table.seed_info
    log(
        f"  seeded in {info['seed_seconds']:.1f} s"
        f" (+{info['total_seconds'] - info['seed_seconds']:.1f} s vacuum, analyze, checkpoint):"
        f" {info['lots']:,} lots, {info['pending']:,} pending,"
        f" {info['expiring']:,} to expire and {info['maturing']:,} to mature in the runs;"
        f" point_lots {info['lots_bytes'] / 2**20:.0f} MiB,"
        f" database {info['database_bytes'] / 2**20:.0f} MiB"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = bench_url(os.environ.get("BENCH_POSTGRES_URL"))
    small_url = _with_database(url, f"{_database_name(url)}_small")
    t0 = datetime.now(UTC).replace(microsecond=0)
    pending = round(args.pending_fraction * 1000)
    big = Table(
        "big",
        url,
        Layout(args.members, args.lots, sum(args.due), sum(args.due), pending, t0),
        list(args.due),
        args.chunk,
    )
    small = Table(
        "small",
        small_url,
        Layout(args.small_members, args.small_lots, args.due[0], args.due[0], pending, t0),
        [args.due[0]],
        args.chunk,
    )
    for table in (big, small):
        try:
            table.layout.check()
        except ValueError as exc:
            print(f"scripts/bench-jobs: {table.label} table: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    load_before = os.getloadavg()
    measurements: list[Measurement] = []
    problems: list[str] = []
    server: dict[str, Any] = {}
    try:
        prepare(big)
        prepare(small)
        server = query_one(
            big.url,
            "SELECT current_setting('server_version') AS version,"
            " current_setting('shared_buffers') AS shared_buffers,"
            " current_setting('synchronous_commit') AS synchronous_commit",
        )
        # Sizes interleaved, so drift on a shared machine does not line up with one of them;
        # each floor in two halves around its jobs, for the same reason.
        for number, (table, band) in enumerate(((big, 0), (small, 0), (big, 1))):
            due = table.bands[band]
            halves = [run_floor(table, band, due // 2, 1000 * number)]
            for what in ("expire", "mature"):
                m = run_job(table, band, what)
                log(
                    f"{what} {table.label} table, {m.due:,} due: {m.seconds:.2f} s,"
                    f" cpu {m.cpu or 0:.2f} s, peak +{_mib(m.added_kib)} MiB"
                )
                measurements.append(m)
            halves.append(run_floor(table, band, due - due // 2, 1000 * number + 500))
            floor = combine_floor(table, band, halves)
            log(f"floor {table.label} table, {due:,} lots: {floor.seconds:.2f} s")
            measurements.append(floor)
        if not args.no_verify:
            for table in (big, small):
                log(f"laurel verify-ledger on the {table.label} table")
                problems += verify_ledger(table)
    except (BenchError, asyncpg.PostgresError, OSError) as exc:
        print(f"scripts/bench-jobs: {exc}", file=sys.stderr)
        return 2
    except JobsMismatchError as exc:
        print(f"scripts/bench-jobs: FAIL {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            for table in (big, small):
                try:
                    drop(table.url)
                except BenchError as exc:
                    log(f"could not drop {_database_name(table.url)}: {exc}")
    load_after = os.getloadavg()
    report(measurements, big, small)
    print(
        f"\nbig table {big.layout.members:,} members / {big.layout.lots:,} lots (seeded in"
        f" {big.seed_info['seed_seconds']:.0f} s), small {small.layout.members:,} /"
        f" {small.layout.lots:,}; {os.cpu_count()} cores, load average"
        f" {load_before[0]:.2f} before, {load_after[0]:.2f} after; whole run"
        f" {time.perf_counter() - started:.0f} s; PostgreSQL {server['version']},"
        f" shared_buffers {server['shared_buffers']},"
        f" synchronous_commit {server['synchronous_commit']}"
    )
    if problems:
        print("FAIL verify-ledger:")
        for line in problems:
            print(f"  {line}")
        return 1
    print("verify-ledger: skipped" if args.no_verify else "verify-ledger: clean on both tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
