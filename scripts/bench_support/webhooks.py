"""The webhook benchmark (scripts/bench-webhooks), on PostgreSQL with two `laurel worker`
processes and a local receiver that fails the first attempt of 10% of the events and answers
1% of them after a second; each event is a random member's, so the failures are spread
as a store's would be (a member's later events wait while an earlier one is retried).

1. Floor: the receiver's own capacity, the same bodies posted by a plain client at the
   workers' concurrency, with no database.
2. Backlog: `--events` events already in the outbox when the workers start: first attempts
   per second (as a ratio of the floor) and the time until every event is delivered.
3. Steady load: events committed at `--rate` a second (half the floor unless given) for
   `--seconds` while the workers run:
   the lag from commit to the first attempt's arrival, p50 and p99.

Checked every time: every event delivered, and none delivered (answered 2xx) twice; events
sent twice were only those whose earlier attempt failed. Exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.db import normalise_url
from app.services.webhooks import service as webhooks_service
from bench_support.jobs_main import recreate
from bench_support.seeding import migrated_with_program
from tests.live_server import free_port

DATABASE = "laurel_webhooks_bench"
MEMBERS = 1000
WORKER_CONCURRENCY = 50  # DeliveryOptions.batch: sends at once per worker
SLOW_SECONDS = 1.0
BODY = '{"type":"points.earned","data":{"points":1}}'


def log(message: str) -> None:
    print(f"[bench-webhooks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Log:
    """What the receiver saw, by event number."""

    first_arrival: dict[int, float] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    delivered: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, number: int) -> tuple[int, bool]:
        """(attempt number, whether to answer slowly) of a request just arrived."""
        with self.lock:
            self.first_arrival.setdefault(number, time.time())
            self.attempts[number] += 1
            return self.attempts[number], number % 100 == 1

    def answered(self, number: int, status: int) -> None:
        if 200 <= status < 300:
            with self.lock:
                self.delivered[number] += 1


def receiver_app(seen: Log) -> Starlette:
    async def hook(request: Request) -> Response:
        message = request.headers.get("webhook-id", "evt_0")
        number = int(message.removeprefix("evt_"))
        await request.body()
        attempt, slow = seen.record(number)
        if slow:
            await asyncio.sleep(SLOW_SECONDS)
        status = 500 if attempt == 1 and number % 10 == 0 else 204
        seen.answered(number, status)
        return Response(status_code=status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def start_receiver(seen: Log) -> tuple[str, uvicorn.Server]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver_app(seen), host="127.0.0.1", port=port, log_level="warning", backlog=4096
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/hook", server


async def floor(url: str, requests: int) -> float:
    """Requests a second the receiver answers for a plain client at the workers' concurrency."""
    limits = httpx.Limits(max_connections=WORKER_CONCURRENCY * 2)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(requests):
        queue.put_nowait(10_000_000 + number * 10 + 3)  # never failed, never slow
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def sender() -> None:
            while not queue.empty():
                number = queue.get_nowait()
                await client.post(url, content=BODY, headers={"webhook-id": f"evt_{number}"})

        started = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(WORKER_CONCURRENCY * 2)))
        return requests / (time.monotonic() - started)


async def seed(url: str, hook_url: str) -> None:
    async with migrated_with_program(url, "bench", "Bench"):
        webhooks_service.allow_private_addresses(True)
        await webhooks_service.create_endpoint(
            webhooks_service.CreateEndpointInput(program_slug="bench", url=hook_url)
        )
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO members (program_id, customer_id, enrolled_at, points_available,"
            " points_pending, lifetime_earned, lifetime_redeemed)"
            " SELECT 1, 'cust-' || n, now(), 0, 0, 0, 0 FROM generate_series(1, $1) AS n",
            MEMBERS,
        )
    finally:
        await conn.close()


async def insert_events(url: str, count: int) -> set[int]:
    """The ids of `count` new events, all committed before the workers start."""
    conn = await asyncpg.connect(url)
    try:
        for start in range(0, count, 10_000):
            await conn.execute(
                "INSERT INTO outbox_events (program_id, member_id, type, payload, created_at)"
                " SELECT 1, floor(random() * $2)::bigint + 1, 'points.earned', '{\"points\": 1}',"
                " now()"
                " FROM generate_series($1::bigint, $3::bigint) AS n",
                start,
                MEMBERS,
                min(start + 10_000, count) - 1,
            )
        rows = await conn.fetch("SELECT id FROM outbox_events WHERE type = 'points.earned'")
        return {int(row["id"]) for row in rows}
    finally:
        await conn.close()


async def steady_events(url: str, rate: int, seconds: float) -> dict[int, float]:
    """Commits `rate` events a second in tenths; the commit time of each event id."""
    committed: dict[int, float] = {}
    conn = await asyncpg.connect(url)
    per_tick = max(1, rate // 10)
    try:
        deadline = time.monotonic() + seconds
        tick = time.monotonic()
        while time.monotonic() < deadline:
            ids = await conn.fetch(
                "INSERT INTO outbox_events (program_id, member_id, type, payload, created_at)"
                " SELECT 1, floor(random() * $2)::bigint + 1, 'points.earned', '{\"points\": 1}',"
                " now()"
                " FROM generate_series(1, $1) AS n RETURNING id",
                per_tick,
                MEMBERS,
            )
            now = time.time()
            committed.update({int(row["id"]): now for row in ids})
            tick += 0.1
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    finally:
        await conn.close()
    return committed


def workers(url: str) -> list[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "LAUREL_WEBHOOKS_ALLOW_PRIVATE": "on",
        "LAUREL_LOG_LEVEL": "warning",
    }
    laurel = str(Path(sys.executable).parent / "laurel")
    return [
        subprocess.Popen([laurel, "worker"], env=environment, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]


def wait_for(condition: object, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > seconds:
            raise SystemExit(f"bench-webhooks: {what} did not happen within {seconds:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--rate",
        type=int,
        default=None,
        help="events a second in the steady phase (default: half the floor, a load the"
        " receiver can take; above the floor the lag only measures the queue growing)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="steady phase length")
    options = parser.parse_args()
    base = normalise_url(
        os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
    url = urlunsplit(urlsplit(base)._replace(path=f"/{DATABASE}"))
    recreate(url)
    seen = Log()
    hook_url, server = start_receiver(seen)
    log(f"receiver at {hook_url}; seeding {MEMBERS} members and {options.events:,} events")
    asyncio.run(seed(url, hook_url))
    backlog = asyncio.run(insert_events(url, options.events))
    floor_rps = asyncio.run(floor(hook_url, max(2_000, options.events // 20)))
    log(f"floor: {floor_rps:,.0f} requests/s")
    processes = workers(url)
    try:

        def first_attempts() -> bool:
            return backlog <= seen.first_arrival.keys()

        def all_delivered() -> bool:
            return all(seen.delivered.get(number) for number in backlog)

        first_seconds = wait_for(first_attempts, 3600, "every first attempt")
        delivered_seconds = first_seconds + wait_for(all_delivered, 600, "every delivery")
        if options.rate is None:
            options.rate = max(10, int(floor_rps / 2))
        log(f"backlog delivered; steady phase at {options.rate}/s")
        committed = asyncio.run(steady_events(url, options.rate, options.seconds))
        wait_for(
            lambda: all(seen.delivered.get(number) for number in committed),
            600,
            "steady deliveries",
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        server.should_exit = True
    lags = [seen.first_arrival[number] - at for number, at in committed.items()]
    doubled = [number for number, times in seen.delivered.items() if times > 1]
    repeated_without_failure = [
        number
        for number, attempts in seen.attempts.items()
        if attempts > 1 and number % 10 != 0 and number < 10_000_000
    ]
    first_rate = options.events / first_seconds
    print(f"| measure | figure | ratio to floor ({floor_rps:,.0f} requests/s) |")
    print("|---|---|---|")
    print(
        f"| first attempts/s, {options.events:,} events, 2 workers | {first_rate:,.0f}"
        f" | {first_rate / floor_rps:.2f}x |"
    )
    print(f"| all delivered (retries 5 s later) | {delivered_seconds:.1f} s | |")
    p50 = statistics.median(lags) * 1000
    print(f"| lag commit to first attempt, p50 ({options.rate}/s) | {p50:.0f} ms | |")
    print(f"| lag commit to first attempt, p99 | {percentile(lags, 0.99) * 1000:.0f} ms | |")
    print(f"| delivered twice | {len(doubled)} | |")
    print(f"| sent again without a failed attempt | {len(repeated_without_failure)} | |")
    if doubled or repeated_without_failure:
        sys.exit(1)


if __name__ == "__main__":
    main()
