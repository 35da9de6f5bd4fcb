"""`scripts/bench-writes`: what one recordOrder costs in-process, against the order service alone.

No HTTP server and no load tool: each way of recording an order is driven in this process, one
order at a time (every order new, for a member picked at random), on a small seeded database
(an SQLite file, then PostgreSQL when reachable). Rounds of the ways take turns, so a slow
stretch of a shared machine lands on each alike; every figure is the median over rounds, with
its ratio to the floor measured in the same run:

- floor (service alone): `app.services.orders.service.record_order` called directly with the
  order's service input: the order's reads, earning and transaction, no GraphQL and no HTTP;
- strawberry: the recordOrder document through the ASGI app with plans off (the gateway, then
  Strawberry's parse and validation caches, executor and input conversion);
- planned, general coercion: a plan that coerces the variables with graphql-core's
  `get_variable_values` and converts the input with Strawberry's `get_arguments` (what the
  plan does where its own coercer or converter does not cover a document);
- planned: the app as it ships: the document's plan (app/graphql/compiled.py, WritePlan).

ratio = floor time / way's time, as in `scripts/bench-reads`: higher is better, 1.0x is the
service alone. CPU is this process's (both of its threads: the event loop and aiosqlite's),
steadier than wall time on a busy machine; SQLite's flush per commit is in the wall time only.
`--profile WAY` runs that way under cProfile afterwards and prints its 30 costliest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.types import ASGIApp
from tortoise import Tortoise

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.db import apply_migrations, tortoise_config
from app.graphql import executor_adapter
from app.graphql import variables as planned_variables
from app.main import create_app
from app.services.access.api_keys import create_api_key, set_rate_limit
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program
from bench_support.documents import RECORD_ORDER_DOCUMENT
from bench_support.reads import call, postgres_database

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
PROGRAM_SLUG = "writes"
PLACED_AT = "2026-11-20T10:00:00+00:00"


def log(message: str) -> None:
    print(f"[bench-writes {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def seed(members: int) -> tuple[list[str], str]:
    await create_program(
        CreateProgramInput(
            slug=PROGRAM_SLUG, name="Writes", currency="EUR", points_per_currency_unit=1
        )
    )
    customers = [f"writer-{index}" for index in range(members)]
    for customer_id in customers:
        await enroll_member(
            EnrollMemberInput(program_slug=PROGRAM_SLUG, customer_id=customer_id), None
        )
    key = await create_api_key(KeyKind.SECRET, PROGRAM_SLUG, "bench-writes")
    await set_rate_limit(key.id, 100_000.0, 100_000)
    return customers, key.secret


_order_numbers = itertools.count()


def new_order(customers: Sequence[str]) -> tuple[str, str]:
    return random.choice(customers), f"order-{os.getpid()}-{next(_order_numbers)}"


def order_body(customer_id: str, order_id: str) -> bytes:
    variables = {
        "input": {
            "programSlug": PROGRAM_SLUG,
            "customerId": customer_id,
            "orderId": order_id,
            "currency": "EUR",
            "totalMinor": 2500,
            "lines": [{"sku": "SKU-1", "category": "shoes", "quantity": 2, "unitPriceMinor": 1250}],
            "placedAt": PLACED_AT,
        }
    }
    return json.dumps({"query": RECORD_ORDER_DOCUMENT, "variables": variables}).encode()


Way = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float


async def timed_round(way: Way, customers: Sequence[str], count: int) -> Cost:
    orders = [new_order(customers) for _ in range(count)]
    wall, cpu = time.perf_counter(), time.process_time()
    for customer_id, order_id in orders:
        await way(customer_id, order_id)
    return Cost((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count)


async def measure(
    ways: dict[str, Way], customers: Sequence[str], count: int, rounds: int
) -> dict[str, Cost]:
    for way in ways.values():  # caches, plans, connections
        await timed_round(way, customers, max(count // 4, 30))
    samples: dict[str, list[Cost]] = {name: [] for name in ways}
    names = list(ways)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(await timed_round(ways[name], customers, count))
    return {
        name: Cost(
            statistics.median(cost.wall for cost in costs),
            statistics.median(cost.cpu for cost in costs),
        )
        for name, costs in samples.items()
    }


def report(title: str, costs: dict[str, Cost], floor_name: str) -> list[str]:
    floor = costs[floor_name]
    lines = [title, f"  {'way':<24} {'wall us':>8} {'ratio':>7} {'cpu us':>8} {'ratio':>7}"]
    for name, cost in costs.items():
        lines.append(
            f"  {name:<24} {cost.wall * 1e6:>8.0f} {floor.wall / cost.wall:>6.2f}x"
            f" {cost.cpu * 1e6:>8.0f} {floor.cpu / cost.cpu:>6.2f}x"
        )
    return lines


async def profile(way: Way, customers: Sequence[str], count: int) -> list[str]:
    profiler = cProfile.Profile(time.process_time)  # CPU: waits for the database are not costs
    profiler.enable()
    await timed_round(way, customers, count)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue().splitlines()


async def run_backend(title: str, settings: Settings, args: argparse.Namespace) -> list[str]:
    await apply_migrations(settings)
    await Tortoise.init(config=tortoise_config(settings, serving_requests=True))
    try:
        log(f"{title}: seeding {args.members} members")
        customers, secret = await seed(args.members)
        authorization = f"Bearer {secret}".encode()
        planned_app = create_app_for(settings, plans=True)
        strawberry_app = create_app_for(settings, plans=False)
        general_app = create_app_for(settings, plans=True)
        await learn_without_planned_coercion(general_app, customers, authorization)

        async def floor(customer_id: str, order_id: str) -> None:
            await record_order(
                RecordOrderInput(
                    program_slug=PROGRAM_SLUG,
                    customer_id=customer_id,
                    order_id=order_id,
                    currency="EUR",
                    total_minor=2500,
                    shipping_minor=0,
                    lines=[
                        OrderLineInput(
                            sku="SKU-1", category="shoes", quantity=2, unit_price_minor=1250
                        )
                    ],
                    placed_at=datetime.fromisoformat(PLACED_AT),
                ),
                None,
            )

        def through(app: ASGIApp) -> Way:
            async def request(customer_id: str, order_id: str) -> None:
                answer = await call(app, order_body(customer_id, order_id), authorization)
                payload = json.loads(answer.body)
                if answer.status != 200 or payload["data"]["recordOrder"]["userErrors"]:
                    raise SystemExit(f"{title}: an order was refused: {answer}")

            return request

        ways = {
            "floor (service alone)": floor,
            "strawberry": through(strawberry_app),
            "planned, general coercion": through(general_app),
            "planned": through(planned_app),
        }
        log(f"{title}: {args.rounds} rounds of {args.requests} orders per way")
        lines = report(
            title,
            await measure(ways, customers, args.requests, args.rounds),
            "floor (service alone)",
        )
        plans = planned_app.state.query_plans
        lines.append(f"  answers given by plans: {plans.plan_answers}")
        if args.profile:
            log(f"{title}: profiling {args.profile}")
            lines += await profile(ways[args.profile], customers, args.requests)
    finally:
        await Tortoise.close_connections()
    return lines


async def learn_without_planned_coercion(
    app: Starlette, customers: Sequence[str], authorization: bytes
) -> None:
    """The app's plan of the document made while the planned coercer and converter are
    unavailable: the plan keeps graphql-core's and Strawberry's general ones."""
    kept_coercer, kept_converter = (
        planned_variables.variables_coercer,
        executor_adapter._argument_converter,
    )
    planned_variables.variables_coercer = lambda *_: None
    executor_adapter._argument_converter = lambda *_: None
    try:
        await call(app, order_body(*new_order(customers)), authorization)
    finally:
        planned_variables.variables_coercer = kept_coercer
        executor_adapter._argument_converter = kept_converter
    plan = app.state.query_plans.get(RECORD_ORDER_DOCUMENT, None)
    assert plan is not None and plan.coerce_variables is None


def create_app_for(settings: Settings, *, plans: bool) -> Starlette:
    return create_app(replace(settings, query_plans=plans), manage_database=False)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-writes", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--members", type=int, default=40, help="seeded members (default 40)")
    parser.add_argument("--requests", type=int, default=200, help="per way per round (200)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--profile",
        choices=["floor (service alone)", "strawberry", "planned, general coercion", "planned"],
        default=None,
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_POSTGRES_URL,
        help="admin connection used to create and drop laurel_writes_<pid>",
    )
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="laurel-writes-") as directory:
            settings = Settings(database_url=f"sqlite://{Path(directory) / 'writes.sqlite3'}")
            lines += await run_backend("SQLite", settings, args)
    if args.backend in ("postgres", "both"):
        name = f"laurel_writes_{os.getpid()}"
        try:
            await postgres_database(args.postgres_url, name, create=True)
        except (OSError, asyncpg.PostgresError) as error:
            if args.backend == "postgres":
                raise
            lines.append(f"PostgreSQL skipped: {args.postgres_url} unreachable ({error})")
            return lines
        try:
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
            lines += await run_backend("PostgreSQL", Settings(database_url=url), args)
        finally:
            await postgres_database(args.postgres_url, name, create=False)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.backend == "both":
        # One process per backend: Tortoise keeps what it built for the first database's
        # dialect, and the second's statements would be the first's.
        rest = [arg for arg in argv if arg not in ("--backend", "both")]
        for backend in ("sqlite", "postgres"):
            done = subprocess.run(
                [sys.executable, "-m", "bench_support.writes", "--backend", backend, *rest],
                check=False,
            )
            if done.returncode != 0:
                return done.returncode
        return 0
    for line in asyncio.run(main_async(args)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
