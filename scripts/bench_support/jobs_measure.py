"""One measurement of `scripts/bench-jobs`, in a process of its own; prints one JSON line.

    python -m bench_support.jobs_measure --url URL --what expire --now ISO
    python -m bench_support.jobs_measure --url URL --what floor --now ISO --lots N --offset K

`expire` runs `expire_lots(now, SilentProgress())`, `mature` runs `mature_due_points(now)`, both
through the app's own Tortoise configuration (app.db.init_db). `floor` is the least a job could
cost per due lot: one transaction per lot, `BEGIN; UPDATE point_lots SET remaining = remaining
WHERE id = $1; COMMIT`, through the same Tortoise connection, on N unspent lots that expire after
`now` (not due, so the jobs never see them; the same indexes as a due lot are updated), spread
over the table like the due ones; their ids are read before the clock starts.

Peak memory: once the app is imported, the pool open and the ids read, the process's high-water
mark of RSS is reset to its current RSS (Linux, /proc/self/clear_refs); the figure is the
high-water mark after the work (VmHWM) minus that RSS: what the work itself added at its peak.
Not ru_maxrss: getrusage(RUSAGE_SELF) also takes the peak recorded when a thread exits (asyncio's
resolver threads do, after connecting), so it keeps the import-time peak and cannot be reset.
CPU: this process's plus that of the PostgreSQL backends serving it (/proc/<pid>/stat, the server
being local).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from app.config import Settings
from app.db import close_db, connection, execute, fetch_all, init_db, normalise_url
from app.jobs.expiry import expire_lots
from app.jobs.maturing import mature_due_points
from app.jobs.progress import SilentProgress

_FLOOR_STATEMENT = "UPDATE point_lots SET remaining = remaining WHERE id = ?"


_FLOOR_LOTS = (
    "SELECT id FROM point_lots WHERE remaining > 0 AND pending_until IS NULL AND expires_at > ?"
    " ORDER BY (id * 7919 + ?) % 1000003 LIMIT ?"
)


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> int:
    """Lower the high-water mark to the current RSS; returns that RSS in KiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def _backend_cpu() -> dict[int, float | None]:
    rows = await fetch_all(
        connection(),
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend'",
    )
    return {int(row["pid"]): _process_cpu(int(row["pid"])) for row in rows}


def _server_cpu(before: dict[int, float | None], after: dict[int, float | None]) -> float | None:
    total = 0.0
    for pid, cpu in after.items():
        if cpu is None:
            return None
        total += cpu - (before.get(pid) or 0.0)
    return total


async def _floor(lot_ids: list[int]) -> dict[str, int]:
    for lot_id in lot_ids:
        async with in_transaction() as conn:
            await execute(conn, _FLOOR_STATEMENT, (lot_id,))
    return {"lots": len(lot_ids)}


async def measure(url: str, what: str, now: datetime, lots: int, offset: int) -> dict[str, Any]:
    await init_db(Settings(database_url=normalise_url(url)))
    try:
        lot_ids: list[int] = []
        if what == "floor":
            rows = await fetch_all(connection(), _FLOOR_LOTS, (now, offset, lots))
            lot_ids = [int(row["id"]) for row in rows]
            del rows
        # Opens the pool's connection outside the measurement, and names its backend.
        server_before = await _backend_cpu()
        gc.collect()
        baseline = _reset_peak()
        cpu_started = time.process_time()
        started = time.perf_counter()
        if what == "expire":
            summary = await expire_lots(now, SilentProgress())
        elif what == "mature":
            summary = {"lots": await mature_due_points(now)}
        else:
            summary = await _floor(lot_ids)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_started
        peak = _status_kib("VmHWM")
        server_cpu = _server_cpu(server_before, await _backend_cpu())
    finally:
        await close_db()
    return {
        "what": what,
        "seconds": seconds,
        "client_cpu": client_cpu,
        "server_cpu": server_cpu,
        "summary": summary,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "added_kib": peak - baseline,
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--what", choices=("expire", "mature", "floor"), required=True)
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--lots", type=int, default=0, help="floor: how many lots")
    parser.add_argument("--offset", type=int, default=0, help="floor: which of them")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = asyncio.run(measure(args.url, args.what, args.now, args.lots, args.offset))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
