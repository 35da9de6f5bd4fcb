"""The overload benchmark (scripts/bench-overload): one server process on SQLite with the demo
program, driven by closed-loop clients at 1x, 2x and 5x the in-flight bound for a few seconds
each, with load shedding on and off. Prints throughput, p50/p99 latency of the answered
requests, the share refused with 503 OVERLOADED and the longest time an admitted request
waited (Server-Timing), each as a ratio of the 1x figures of the same run."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.config import Settings
from tests.live_server import free_port, healthy, seed_demo_program

QUERY = (
    "{ me { customerId points { available } activity(first: 5) { edges { node { points } } } } }"
)


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    refused: float
    max_wait_ms: float


async def drive(url: str, headers: dict[str, str], clients: int, seconds: float) -> Figures:
    latencies: list[float] = []
    refused = 0
    max_wait = 0.0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def client() -> None:
            nonlocal refused, max_wait
            while time.monotonic() < deadline:
                started = time.monotonic()
                answer = await http.post(url, json={"query": QUERY}, headers=headers)
                if answer.status_code == 503:
                    refused += 1
                    continue
                latencies.append(time.monotonic() - started)
                timing = answer.headers.get("server-timing", "queue;dur=0")
                max_wait = max(max_wait, float(timing.split("dur=")[1]))

        await asyncio.gather(*(client() for _ in range(clients)))
    total = len(latencies) + refused
    ordered = sorted(latencies)
    return Figures(
        rps=len(latencies) / seconds,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p99_ms=ordered[int(len(ordered) * 0.99) - 1] * 1000 if ordered else 0.0,
        refused=refused / total if total else 0.0,
        max_wait_ms=max_wait,
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
    parser.add_argument("--seconds", type=float, default=4.0)
    options = parser.parse_args()
    print(f"in-flight bound {options.in_flight}, queue time {options.queue_seconds} s")
    print(
        "| shedding | load | rps | p50 ms | p99 ms | refused | longest wait ms"
        " | rps / 1x | p99 / 1x |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for shedding in (True, False):
        environment = {
            "LAUREL_MAX_IN_FLIGHT": str(options.in_flight if shedding else 0),
            "LAUREL_MAX_QUEUED": str(options.in_flight * 4),
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
            for load in (1, 2, 5):
                figures = asyncio.run(
                    drive(url, headers, options.in_flight * load, options.seconds)
                )
                floor = floor or figures
                print(
                    f"| {'on' if shedding else 'off'} | {load}x | {figures.rps:,.0f}"
                    f" | {figures.p50_ms:.1f} | {figures.p99_ms:.1f} | {figures.refused:.0%}"
                    f" | {figures.max_wait_ms:.0f} | {figures.rps / floor.rps:.2f}x"
                    f" | {figures.p99_ms / floor.p99_ms:.2f}x |"
                )


if __name__ == "__main__":
    main()
