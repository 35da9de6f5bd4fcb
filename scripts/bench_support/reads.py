"""`scripts/bench-reads`: what one member-status read costs in-process, against its SQL alone.

No HTTP server and no load tool: each way of answering the member-status document
(bench_support/documents.py) is driven through the ASGI app in this process, one request at a
time, on a small seeded database (SQLite file, then PostgreSQL when reachable). Every figure is
a mean over rounds that take turns, so a slow stretch of a shared machine lands on every way
alike, and is printed beside its ratio to the floor measured in the same run:

- floor: the statements of one request (the member row, its newest 11 transactions) through
  the app's own read path (`app.db.quick_read`), no GraphQL at all;
- strawberry: the app with query plans off, every request through Strawberry's executor;
- planned: the app as it ships, query plans on;
- planned, no extension hooks: the same with the schema's extension list emptied around each
  request, what a planned read cost before the extensions saw it (Strawberry answers none of
  these: every one is planned);
- version-keyed cache: the floor of a response cache keyed by document, variables, caller and a
  per-member version, answering from memory after the gateway and one read of the member's
  version (the read every hit pays, since another worker may have written); a prototype to
  decide by, not a cache the app has.

ratio = floor time / variant time, the same sense as `scripts/bench` (rps over floor rps):
higher is better, 1.0x is the SQL alone. Absolute microseconds drift with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import Tortoise

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.db import apply_migrations, quick_read, quick_read_values, tortoise_config, utc_now
from app.domain.ids import decode_any_id
from app.graphql.core.ids import encode_id
from app.graphql.schema import schema
from app.main import build_gateway, create_app
from app.services.access.api_keys import create_api_key, set_rate_limit
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program
from bench_support.documents import MEMBER_STATUS_DOCUMENT
from bench_support.floor import ACTIVITY_LIMIT, NO_CURSOR, SELECT_ACTIVITY, SELECT_MEMBER

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
PROGRAM_SLUG = "reads"
ORDERS_PER_MEMBER = 11  # a full first page of activity, and one more row
SELECT_VERSION = "SELECT lifetime_earned FROM members WHERE id = ?"  # one indexed value


def log(message: str) -> None:
    print(f"[bench-reads {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the database


async def seed(members: int) -> tuple[list[int], str]:
    """Members with a page of activity each, and a secret key of their program."""
    await create_program(
        CreateProgramInput(
            slug=PROGRAM_SLUG, name="Reads", currency="EUR", points_per_currency_unit=1
        )
    )
    member_ids: list[int] = []
    for index in range(members):
        customer_id = f"reader-{index}"
        member = await enroll_member(
            EnrollMemberInput(program_slug=PROGRAM_SLUG, customer_id=customer_id), None
        )
        member_ids.append(member.id)
        for number in range(ORDERS_PER_MEMBER):
            await record_order(
                RecordOrderInput(
                    program_slug=PROGRAM_SLUG,
                    customer_id=customer_id,
                    order_id=f"{customer_id}-{number}",
                    currency="EUR",
                    total_minor=1995,
                    shipping_minor=0,
                    lines=[OrderLineInput(sku="SKU", quantity=1, unit_price_minor=1995)],
                    placed_at=utc_now() - timedelta(days=1),
                ),
                None,
            )
    key = await create_api_key(KeyKind.SECRET, PROGRAM_SLUG, "bench-reads")
    await set_rate_limit(key.id, 100_000.0, 100_000)  # the gateway's bucket must never refuse here
    return member_ids, key.secret


async def postgres_database(admin_url: str, name: str, *, create: bool) -> None:
    conn = await asyncpg.connect(admin_url, timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


# ----------------------------------------------------------------------------- one request


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def call(app: ASGIApp, body: bytes, authorization: bytes) -> Answer:
    """One POST /graphql through the ASGI app, as Uvicorn would hand it over."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", authorization),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, b"".join(chunks))


def status_body(member_id: int) -> bytes:
    return json.dumps(
        {"query": MEMBER_STATUS_DOCUMENT, "variables": {"id": encode_id("Member", member_id)}}
    ).encode()


class VersionKeyedCache:
    """The prototype of option (a) behind the real gateway: an answer kept per (document,
    variables, caller, member version), served after one read of the version. Misses go to
    `app`; no invalidation beyond the version, and only member-status bodies are sent here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: dict[tuple[bytes, int, Any], Answer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        body = message.get("body", b"")
        decoded = decode_any_id(json.loads(body)["variables"]["id"])
        assert decoded is not None
        rows = await quick_read_values(SELECT_VERSION, (decoded[1],))
        key = (body, scope["state"]["principal"].key_id, rows[0][0] if rows else None)
        answer = self.answers.get(key)
        if answer is None:
            answer = await call(self.app, body, _authorization(scope))
            self.answers[key] = answer
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-length", str(len(answer.body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


def _authorization(scope: Scope) -> bytes:
    value: bytes = next(value for key, value in scope["headers"] if key == b"authorization")
    return value


# ----------------------------------------------------------------------------- measuring

Request = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Cost:
    """Per request: wall-clock seconds, and CPU seconds of this process (steadier on a busy
    machine; PostgreSQL's own work is not in it, for the floor and every way alike)."""

    wall: float
    cpu: float


async def timed_round(request: Request, member_ids: Sequence[int], count: int) -> Cost:
    chosen = [random.choice(member_ids) for _ in range(count)]
    wall, cpu = time.perf_counter(), time.process_time()
    for member_id in chosen:
        await request(member_id)
    return Cost((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count)


async def measure(
    requests: dict[str, Request], member_ids: Sequence[int], count: int, rounds: int
) -> dict[str, Cost]:
    """The median per-request cost of each way over rounds interleaved with the others'."""
    for request in requests.values():  # warm caches, plans and connections
        await timed_round(request, member_ids, max(count // 4, 50))
    samples: dict[str, list[Cost]] = {name: [] for name in requests}
    names = list(requests)
    for round_number in range(rounds):
        # Each round starts with another way, so none always runs after the same one.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(await timed_round(requests[name], member_ids, count))
    return {
        name: Cost(
            statistics.median(cost.wall for cost in costs),
            statistics.median(cost.cpu for cost in costs),
        )
        for name, costs in samples.items()
    }


def report(title: str, costs: dict[str, Cost], floor_name: str) -> list[str]:
    floor = costs[floor_name]
    lines = [
        title,
        f"  {'way':<28} {'wall us':>8} {'ratio':>7} {'cpu us':>8} {'ratio':>7}",
    ]
    for name, cost in costs.items():
        lines.append(
            f"  {name:<28} {cost.wall * 1e6:>8.0f} {floor.wall / cost.wall:>6.2f}x"
            f" {cost.cpu * 1e6:>8.0f} {floor.cpu / cost.cpu:>6.2f}x"
        )
    return lines


async def run_backend(
    title: str, settings: Settings, members: int, count: int, rounds: int
) -> list[str]:
    await apply_migrations(settings)
    await Tortoise.init(config=tortoise_config(settings, serving_requests=True))
    try:
        log(f"{title}: seeding {members} members x {ORDERS_PER_MEMBER} orders")
        member_ids, secret = await seed(members)
        authorization = f"Bearer {secret}".encode()
        planned_app = create_app(settings, manage_database=False)
        strawberry_app = create_app(replace(settings, query_plans=False), manage_database=False)
        cached_app = build_gateway(VersionKeyedCache(planned_app), settings)
        bodies = {member_id: status_body(member_id) for member_id in member_ids}
        reference = {
            member_id: (await call(strawberry_app, bodies[member_id], authorization)).body
            for member_id in member_ids
        }

        async def floor(member_id: int) -> None:
            await quick_read(SELECT_MEMBER, (member_id,))
            await quick_read_values(
                SELECT_ACTIVITY, (member_id, member_id, NO_CURSOR, ACTIVITY_LIMIT)
            )

        def through(app: ASGIApp) -> Request:
            async def request(member_id: int) -> None:
                answer = await call(app, bodies[member_id], authorization)
                if answer.status != 200 or answer.body != reference[member_id]:
                    raise SystemExit(f"{title}: an answer differs from Strawberry's: {answer}")

            return request

        def without_extensions(request: Request) -> Request:
            async def bare(member_id: int) -> None:
                kept = schema.extensions
                schema.extensions = ()
                try:
                    await request(member_id)
                finally:
                    schema.extensions = kept

            return bare

        log(f"{title}: {rounds} rounds of {count} requests per way")
        costs = await measure(
            {
                "floor (SQL alone)": floor,
                "strawberry": through(strawberry_app),
                "planned": through(planned_app),
                "planned, no extension hooks": without_extensions(through(planned_app)),
                "version-keyed cache, hit": through(cached_app),
            },
            member_ids,
            count,
            rounds,
        )
    finally:
        await Tortoise.close_connections()
    return report(title, costs, "floor (SQL alone)")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-reads", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--members", type=int, default=40, help="seeded members (default 40)")
    parser.add_argument("--requests", type=int, default=400, help="per way per round (400)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="admin connection used to create and drop laurel_reads_<pid>",
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="laurel-reads-") as directory:
            settings = Settings(database_url=f"sqlite://{Path(directory) / 'reads.sqlite3'}")
            lines += await run_backend("SQLite", settings, args.members, args.requests, args.rounds)
    if args.backend in ("postgres", "both"):
        name = f"laurel_reads_{os.getpid()}"
        try:
            await postgres_database(args.postgres_url, name, create=True)
        except (OSError, asyncpg.PostgresError) as error:
            if args.backend == "postgres":
                raise
            lines.append(f"PostgreSQL skipped: {args.postgres_url} unreachable ({error})")
            return lines
        try:
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
            settings = Settings(database_url=url)
            lines += await run_backend(
                "PostgreSQL", settings, args.members, args.requests, args.rounds
            )
        finally:
            await postgres_database(args.postgres_url, name, create=False)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for line in asyncio.run(main_async(args)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
