"""The cost of shared rate limits (scripts/bench-rate-limits): an API key's token bucket lives
in the database so every worker and host sees it (app/auth/rate_limit.py SharedBuckets, which
leases a few tokens at a time), where a per-process bucket (RateLimiter) would give each worker
the whole rate. Measures the time per request spent on the limit, both ways, on SQLite and (when
reachable) PostgreSQL, for a storefront key at its default (500/s, bursts of 1000) and an
unlimited one, with 50 requests at once; prints each as a ratio of the per-process floor."""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.auth.rate_limit import RateLimit, RateLimiter, SharedBuckets
from app.config import Settings
from app.db import apply_migrations, close_db, connection, execute, init_db, normalise_url

CONCURRENCY = 50
LIMITS = {
    "publishable default (500/s, burst 1000)": RateLimit(per_second=500.0, burst=1000),
    "unlimited key (1e9/s)": RateLimit(per_second=1e9, burst=1_000_000_000),
}


async def _per_request(take: object, requests: int) -> tuple[float, int]:
    """Microseconds per take, and how many were allowed."""
    allowed = 0
    remaining = requests

    async def client() -> None:
        nonlocal allowed, remaining
        while remaining > 0:
            remaining -= 1
            decision = take()  # type: ignore[operator]
            if asyncio.iscoroutine(decision):
                decision = await decision
            allowed += decision.allowed

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return (time.perf_counter() - started) / requests * 1e6, allowed


async def measure(database_url: str, requests: int) -> None:
    settings = Settings(database_url=database_url)
    await apply_migrations(settings)
    await init_db(settings)
    try:
        for name, limit in LIMITS.items():
            await execute(connection(), "DELETE FROM rate_limit_buckets")
            floor_us, floor_allowed = await _per_request(
                functools.partial(RateLimiter().take, "k", limit), requests
            )
            shared_us, shared_allowed = await _per_request(
                functools.partial(SharedBuckets().take, "key:1", limit), requests
            )
            backend = "SQLite" if settings.is_sqlite else "PostgreSQL"
            print(
                f"| {backend} | {name} | {floor_us:.1f} | {shared_us:.1f}"
                f" | {shared_us / floor_us:.1f}x | {floor_allowed:,} / {shared_allowed:,} |"
            )
    finally:
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    options = parser.parse_args()
    print(f"{options.requests:,} requests, {CONCURRENCY} at once")
    print(
        "| database | key | per-process us/request (floor) | shared us/request | shared / floor"
        " | allowed (floor / shared) |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(measure(f"sqlite://{directory}/bench.sqlite3", options.requests))
    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    try:
        asyncio.run(measure(normalise_url(postgres), options.requests))
    except OSError as exc:
        print(f"PostgreSQL at {postgres} not reachable ({exc}): skipped")


if __name__ == "__main__":
    main()
