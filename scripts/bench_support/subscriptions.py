"""The subscription benchmark (scripts/bench-subscriptions): `laurel serve` on SQLite in a
process of its own with `--sockets` members each holding a `memberUpdated` subscription.
With `--postgres`, two `laurel serve` processes on PostgreSQL (the database
laurel_subscriptions_bench beside BENCH_POSTGRES_URL's): the subscriptions on one, the
changes written through the other, so every message crosses processes (LISTEN/NOTIFY).

Prints the server's memory per open subscription (resident memory before and after opening
them all), and the time from sending an `adjustPoints` to the member's message, p50 and p99, as
ratios of a floor measured in the same run: the HTTP round trip of the same mutation (so the
ratio minus one is the delivery's own share)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.auth.api_keys import KeyKind
from app.db import connection, execute, normalise_url
from app.domain.ids import encode_id
from app.services.access.api_keys import create_api_key, set_rate_limit
from app.services.access.member_tokens import create_member_token
from bench_support.jobs_main import drop, recreate
from bench_support.seeding import migrated_with_program
from tests.live_server import free_port, healthy

DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"

ADJUST = """mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) { userErrors { code } } }"""
SUBSCRIBE = "subscription { memberUpdated { event { type } member { points { available } } } }"


async def seed(url: str, members: int) -> tuple[str, str, list[str]]:
    """The admin key, the publishable key and one token per member."""
    async with migrated_with_program(url, "bench", "Bench"):
        admin = await create_api_key(KeyKind.ADMIN, None, "bench")
        publishable = await create_api_key(KeyKind.PUBLISHABLE, "bench", "bench")
        for key in (admin, publishable):
            await set_rate_limit(key.id, 100_000.0, 100_000)
        for n in range(members):
            await execute(
                connection(),
                "INSERT INTO members (program_id, customer_id, enrolled_at, points_available,"
                " points_pending, lifetime_earned, lifetime_redeemed) VALUES (1, ?, ?, 0, 0, 0, 0)",
                (f"cust-{n}", datetime(2026, 1, 1, tzinfo=UTC)),
            )
        tokens = [
            (await create_member_token("bench", f"cust-{n}", None, None)).token
            for n in range(members)
        ]
        return admin.secret, publishable.secret, tokens


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_subscription(url: str, publishable: str, token: str) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"], max_queue=None)  # type: ignore[list-item]
    await socket.send(
        json.dumps(
            {
                "type": "connection_init",
                "payload": {"authorization": f"Bearer {publishable}", "memberToken": token},
            }
        )
    )
    ack = json.loads(await socket.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"refused: {ack}")
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return socket


async def measure(
    base: str,
    pid: int,
    admin: str,
    publishable: str,
    tokens: list[str],
    changes: int,
    write_base: str | None = None,
) -> None:
    """Subscriptions on the server at `base` (process `pid`), changes through `write_base`
    (another server) or the same one."""
    ws_url = base.replace("http://", "ws://") + "/graphql"
    before = resident_kib(pid)
    sockets: list[ClientConnection] = []
    for start in range(0, len(tokens), 100):
        sockets += await asyncio.gather(
            *(
                open_subscription(ws_url, publishable, token)
                for token in tokens[start : start + 100]
            )
        )
    await asyncio.sleep(2)
    after = resident_kib(pid)
    headers = {"Authorization": f"Bearer {admin}"}
    round_trips: list[float] = []
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=write_base or base, headers=headers, timeout=30) as http:
        for change in range(changes):
            member = random.randrange(len(sockets))
            started = time.perf_counter()
            answer = await http.post(
                "/graphql",
                json={
                    "query": ADJUST,
                    "variables": {
                        "input": {
                            "memberId": encode_id("Member", member + 1),
                            "points": 1,
                            "reason": "bench",
                            "idempotencyKey": f"bench-{change}",
                        }
                    },
                },
            )
            committed = time.perf_counter()
            assert answer.json()["data"]["adjustPoints"]["userErrors"] == [], answer.text
            message = json.loads(await asyncio.wait_for(sockets[member].recv(), 30))
            arrived = time.perf_counter()
            assert message["type"] == "next", message
            round_trips.append(committed - started)
            # From the request: a fast tail can deliver before the HTTP answer is read.
            latencies.append(arrived - started)
    for socket in sockets:
        await socket.close()
    floor = statistics.median(round_trips)
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
    print(f"| measure | figure | ratio to floor (adjustPoints round trip, {floor * 1000:.1f} ms) |")
    print("|---|---|---|")
    print(f"| open subscriptions | {len(sockets):,} | |")
    print(f"| server memory per subscription | {(after - before) / len(sockets):.1f} KiB | |")
    print(f"| request to message, p50 | {p50 * 1000:.0f} ms | {p50 / floor:.1f}x |")
    print(f"| request to message, p99 | {p99 * 1000:.0f} ms | {p99 / floor:.1f}x |")


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    laurel = str(Path(sys.executable).parent / "laurel")
    process = subprocess.Popen(
        [laurel, "serve"],
        env={
            **os.environ,
            "DATABASE_URL": url,
            "LAUREL_PORT": str(port),
            "LAUREL_LOG_LEVEL": "warning",
            "LAUREL_WEBHOOK_WORKER": "off",
        },
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not healthy(base):
        if time.monotonic() > deadline or process.poll() is not None:
            process.terminate()
            raise SystemExit("bench-subscriptions: the server did not start")
        time.sleep(0.1)
    return process, base


def run(url: str, options: argparse.Namespace, servers: int) -> None:
    admin, publishable, tokens = asyncio.run(seed(url, options.sockets))
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for _ in range(servers):
            started.append(start_server(url))
        (process, base), (_, write_base) = started[0], started[-1]
        asyncio.run(
            measure(base, process.pid, admin, publishable, tokens, options.changes, write_base)
        )
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="two servers on PostgreSQL: subscriptions on one, changes through the other",
    )
    options = parser.parse_args()
    if options.postgres:
        admin_url = normalise_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
        url = urlunsplit(urlsplit(admin_url)._replace(path="/laurel_subscriptions_bench"))
        recreate(url)
        try:
            run(url, options, servers=2)
        finally:
            drop(url)
        return
    with tempfile.TemporaryDirectory() as directory:
        run(f"sqlite://{directory}/bench.sqlite3", options, servers=1)


if __name__ == "__main__":
    main()
