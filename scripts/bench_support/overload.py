"""The overload benchmark (scripts/bench-overload): one server process on SQLite with the demo
program, driven by wrk's closed-loop connections (overload.lua) at 1x, 2x and 5x the in-flight
bound for a few seconds each, with load shedding on and off. Prints the answered requests per
second, p50/p99/max latency of every answer (a refusal comes back at once), the share refused
with 503 OVERLOADED, the longest time an admitted request waited (Server-Timing), and other
statuses or socket errors, with throughput and p99 as ratios of the 1x figures of the same
run."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.config import Settings
from tests.live_server import free_port, healthy, seed_demo_program

QUERY = (
    "{ me { customerId points { available } activity(first: 5) { edges { node { points } } } } }"
)


LUA = Path(__file__).with_name("overload.lua")
THREADS = 2


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    refused: float
    max_wait_ms: float
    failed: int


def drive(
    url: str, headers: dict[str, str], clients: int, seconds: float, backoff_ms: int
) -> Figures:
    """wrk, `clients` connections each sending its next request when the last is answered;
    latencies are over every answer (refusals come back at once)."""
    with tempfile.TemporaryDirectory() as directory:
        result = Path(directory) / "result.txt"
        environment = {
            **os.environ,
            "OVERLOAD_BODY": json.dumps({"query": QUERY}),
            "OVERLOAD_KEY": headers["Authorization"].removeprefix("Bearer "),
            "OVERLOAD_TOKEN": headers["X-Member-Token"],
            "OVERLOAD_RESULT": str(result),
            "OVERLOAD_BACKOFF_MS": str(backoff_ms),
        }
        subprocess.run(
            [
                "wrk",
                f"--threads={min(THREADS, clients)}",
                f"--connections={clients}",
                f"--duration={seconds:g}s",
                "--timeout=30s",
                f"--script={LUA}",
                url,
            ],
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=seconds + 60,
        )
        figures = dict(line.split() for line in result.read_text().splitlines())
    answered, refused = int(figures["answered"]), int(figures["refused"])
    total = answered + refused
    return Figures(
        rps=answered / float(figures["seconds"]),
        p50_ms=float(figures["p50_ms"]),
        p99_ms=float(figures["p99_ms"]),
        max_ms=float(figures["max_ms"]),
        refused=refused / total if total else 0.0,
        max_wait_ms=float(figures["longest_wait_ms"]),
        failed=int(figures["other"]) + int(figures["errors"]),
    )


@contextmanager
def server_process(
    directory: Path, environment: dict[str, str]
) -> Iterator[tuple[str, dict[str, str]]]:
    """`laurel serve` in a process of its own (the clients here must not share its GIL), on a
    SQLite file seeded with the demo program; its URL and a shopper's headers."""
    database = f"sqlite://{directory / 'laurel.sqlite3'}"
    _, publishable, token = asyncio.run(seed_demo_program(Settings(database_url=database)))
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "laurel"), "serve"],
        env={
            **os.environ,
            **environment,
            "DATABASE_URL": database,
            "LAUREL_PORT": str(port),
            "LAUREL_LOG_LEVEL": "warning",
        },
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not healthy(url):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield (
            f"{url}/graphql",
            {
                "Authorization": f"Bearer {publishable}",
                "X-Member-Token": token,
            },
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--queue-seconds", type=float, default=0.25)
    parser.add_argument(
        "--queued", type=int, default=0, help="LAUREL_MAX_QUEUED (default: the in-flight bound)"
    )
    parser.add_argument("--seconds", type=float, default=4.0)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "scripts/bench-overload: needs wrk (apt-get install wrk; scripts/bench installs it)"
        )
    queued = options.queued or options.in_flight
    print(
        f"in-flight bound {options.in_flight}, {queued} queued at most for"
        f" {options.queue_seconds} s"
    )
    print(
        "| shedding | refused clients wait | load | answered/s | p50 ms | p99 ms | max ms"
        " | refused | longest wait ms | failed | answered/s / 1x | p99 / 1x |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for shedding in (True, False):
        environment = {
            "LAUREL_MAX_IN_FLIGHT": str(options.in_flight if shedding else 0),
            "LAUREL_MAX_QUEUED": str(queued),
            "LAUREL_MAX_QUEUE_SECONDS": str(options.queue_seconds),
            # One member token drives it all: its own rate limit is not what is measured.
            "LAUREL_SHOPPER_PER_SECOND": "1000000000",
            "LAUREL_SHOPPER_BURST": "1000000000",
        }
        with (
            tempfile.TemporaryDirectory() as directory,
            server_process(Path(directory), environment) as (url, headers),
        ):
            floor: Figures | None = None
            # Clients that wait as Retry-After asks, then a retry storm (no refusal without
            # shedding, so one kind of client there).
            for backoff_ms in (1000, 0) if shedding else (0,):
                for load in (1, 2, 5):
                    if load == 1 and floor is not None:
                        continue  # nothing is refused at 1x: the floor row stands for both
                    figures = drive(
                        url, headers, options.in_flight * load, options.seconds, backoff_ms
                    )
                    floor = floor or figures
                    _print_row(shedding, backoff_ms, load, figures, floor)


def _print_row(
    shedding: bool, backoff_ms: int, load: int, figures: Figures, floor: Figures
) -> None:
    print(
        f"| {'on' if shedding else 'off'} | {backoff_ms / 1000:g} s | {load}x"
        f" | {figures.rps:,.0f}"
        f" | {figures.p50_ms:.1f} | {figures.p99_ms:.1f} | {figures.max_ms:.0f}"
        f" | {figures.refused:.0%}"
        f" | {figures.max_wait_ms:.0f} | {figures.failed}"
        f" | {figures.rps / floor.rps:.2f}x"
        f" | {figures.p99_ms / floor.p99_ms:.2f}x |"
    )


if __name__ == "__main__":
    main()
