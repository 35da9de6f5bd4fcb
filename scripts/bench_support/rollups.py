"""The cost of the analytics rollups on the write path (scripts/bench-rollups).

recordOrder's service (`record_order`, what the API's resolver calls: the order row, the ledger
movement, the event, tiers, referrals, punch cards, and now the rollup upsert that the
journal transaction's insert makes for itself and the order) is timed with the rollups kept and
with them switched off
(`rollups.add`, `add_rows`, `day_of` and `upsert_statement` replaced by no-ops in this
process), in alternating rounds
so that drift of the shared machine hits both alike. Each round records `--orders` orders of
random members with `--concurrency` tasks. Prints orders per second per mode (the median of the
rounds) and the ratio with/without, PASS when at least 0.9 (the target of issue 20).

Measured below the HTTP layer on purpose: parsing, validation and serialisation cost the same
with or without rollups, so the ratio through the API (scripts/bench) can only be closer to 1.

    scripts/bench-rollups                          # SQLite and PostgreSQL, 6 rounds of 300
    scripts/bench-rollups --backend sqlite --rounds 4 --orders 100      # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).parents[2]))

from tortoise.backends.base.executor import EXECUTOR_CACHE

from app.config import Settings
from app.db import apply_migrations, close_db, init_db
from app.services.analytics import rollups
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program
from bench_support.jobs_main import drop, recreate

DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"
TARGET = 0.9
MEMBERS = 500


@contextmanager
def rollups_off() -> Iterator[None]:
    kept_add, kept_rows, kept_day_of = rollups.add, rollups.add_rows, rollups.day_of
    # PostgreSQL's journal insert runs the rollup upsert inside its own statement (a CTE):
    # without rollups the statement gets none.
    kept_statement = rollups.upsert_statement

    async def no_add(*args: Any, **kwargs: Any) -> None:
        return None

    async def no_day(*args: Any, **kwargs: Any) -> date:
        return date(2000, 1, 1)

    def no_statement(*args: Any, **kwargs: Any) -> None:
        return None

    rollups.add, rollups.add_rows, rollups.day_of = no_add, no_add, no_day
    rollups.upsert_statement = no_statement
    try:
        yield
    finally:
        rollups.add, rollups.add_rows, rollups.day_of = kept_add, kept_rows, kept_day_of
        rollups.upsert_statement = kept_statement


async def _round(orders: int, concurrency: int, counter: Iterator[int]) -> float:
    queue = [next(counter) for _ in range(orders)]
    now = datetime.now(UTC)

    async def worker() -> None:
        while queue:
            number = queue.pop()
            await record_order(
                RecordOrderInput(
                    program_slug="bench",
                    customer_id=f"c-{random.randrange(MEMBERS)}",
                    order_id=f"o-{number}",
                    currency="EUR",
                    total_minor=2500,
                    lines=[OrderLineInput("SKU", 2, 1250)],
                    placed_at=now - timedelta(minutes=number % 5000),
                ),
                None,
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return orders / (time.perf_counter() - started)


async def _bench(url: str, rounds: int, orders: int, concurrency: int) -> tuple[float, float]:
    settings = Settings(database_url=url)
    # Tortoise caches each model's INSERT text per connection name, not per database.
    EXECUTOR_CACHE.clear()
    await apply_migrations(settings)
    await close_db()
    await init_db(settings)
    try:
        await create_program(CreateProgramInput("bench", "Bench", "EUR", 1))
        for number in range(MEMBERS):
            await enroll_member(EnrollMemberInput("bench", f"c-{number}"), None)
        counter = iter(range(10**9))
        await _round(min(orders, 100), concurrency, counter)  # warm-up
        with_rollups: list[float] = []
        without: list[float] = []
        for number in range(rounds):
            if number % 2 == 0:
                with_rollups.append(await _round(orders, concurrency, counter))
                with rollups_off():
                    without.append(await _round(orders, concurrency, counter))
            else:
                with rollups_off():
                    without.append(await _round(orders, concurrency, counter))
                with_rollups.append(await _round(orders, concurrency, counter))
        return statistics.median(with_rollups), statistics.median(without)
    finally:
        await close_db()


def _report(backend: str, kept: float, off: float) -> None:
    ratio = kept / off
    verdict = "PASS" if ratio >= TARGET else "MISS"
    print(
        f"{backend:9} recordOrder with rollups {kept:7.1f}/s, without {off:7.1f}/s:"
        f" ratio {ratio:.2f}x (target >= {TARGET}x) {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres-url", default=None, help="admin URL (BENCH_POSTGRES_URL)")
    args = parser.parse_args()

    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite://{directory}/bench.sqlite3"
            _report("sqlite", *asyncio.run(_bench(url, args.rounds, args.orders, args.concurrency)))
    if args.backend in ("postgres", "both"):
        admin = args.postgres_url or os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_ADMIN_URL
        parts = urlsplit(admin)
        url = urlunsplit(parts._replace(path=f"/laurel_rollups_bench_{os.getpid()}"))
        recreate(url)
        try:
            _report(
                "postgres", *asyncio.run(_bench(url, args.rounds, args.orders, args.concurrency))
            )
        finally:
            drop(url)


if __name__ == "__main__":
    main()
