"""The segments benchmark (scripts/bench-segments), on PostgreSQL: a program of `--members`
members (200,000 by default) with `--orders-per-member` orders each spread over 400 days,
seeded in bulk, then:

- floor: one pass over the program's members (`SELECT COUNT(*)`), what any evaluation of
  every member costs at least;
- a full refresh of a time-based segment ("lapsed spenders": no order for 90 days and more
  than 100.00 kept in the last year, or tagged vip) from empty: every member evaluated, the
  entrants written and announced, 5,000 members per transaction;
- the same refresh again, when nothing changed (what each run of the `segments` job costs);
- one member evaluated live (`segments_of_member`, as an order or a redemption asks), p50 and
  p95, against the floor of a member read by primary key.

Prints times, members per second and ratios to the floors measured in the same run. Exit 2
when it cannot run. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.config import Settings
from app.db import close_db, connection, init_db, utc_now
from app.services.members.service import get_member
from app.services.segments import service as segments_service
from app.services.segments.membership import refresh_segment, segments_of_member
from bench_support.jobs_main import BenchError, drop
from bench_support.members import timed
from bench_support.seeding import fresh_database, seed_program

DATABASE = "laurel_segments_bench"
SEGMENT = {
    "any": [
        {
            "all": [
                {"field": "DAYS_SINCE_LAST_ORDER", "operator": "GTE", "value": 90},
                {"field": "SPEND", "operator": "GT", "value": 10000, "windowDays": 365},
            ]
        },
        {"field": "TAG", "operator": "IN", "value": ["vip"]},
    ]
}
SEED_MEMBERS = """
INSERT INTO members (program_id, customer_id, enrolled_at, points_available, points_pending,
    lifetime_earned, lifetime_redeemed, tags)
SELECT $1, 'c-' || g, now() - interval '500 days', (g::bigint * 7919) % 5000, 0, 0, 0,
    CASE WHEN g % 50 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END
FROM generate_series(1, $2) AS g
"""
SEED_ORDERS = """
INSERT INTO orders (program_id, member_id, order_id, currency, total_minor, shipping_minor,
    tax_minor, discount_minor, lines, request_hash, points_earned, status, refunded_quantities,
    points_refunded, points_unrecovered, refunded_minor, placed_at, created_at)
SELECT m.program_id, m.id, m.customer_id || '-' || n, 'EUR', 1000 + (m.id * 31 + n * 17) % 20000,
    0, 0, 0, '[]'::jsonb, 'bench', 0, 'PLACED', '{}'::jsonb, 0, 0, 0,
    now() - ((m.id * 13 + n * 101) % 400) * interval '1 day', now()
FROM members m, generate_series(1, $2) AS n WHERE m.program_id = $1
"""


def log(message: str) -> None:
    print(f"[bench-segments {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def seed(url: str, members: int, orders: int) -> int:
    program_id = await seed_program(url)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(SEED_MEMBERS, program_id, members)
        await conn.execute(SEED_ORDERS, program_id, orders)
        await conn.execute("ANALYZE")
        log(
            f"seeded {members:,} members, {members * orders:,} orders in"
            f" {time.perf_counter() - started:.0f} s"
        )
    finally:
        await conn.close()
    return program_id


async def measure(url: str, program_id: int, members: int, rounds: int) -> list[str]:
    await init_db(Settings(database_url=url))
    try:
        started = time.perf_counter()
        await connection().execute_query_dict(
            "SELECT COUNT(*) FROM members WHERE program_id = $1", [program_id]
        )
        floor_seconds = time.perf_counter() - started
        # A program over the in-request limit: saving leaves the evaluation to the refresh.
        segment = await segments_service.create_segment(
            segments_service.CreateSegmentInput(
                program_slug="shop", key="lapsed", name="Lapsed spenders", condition=SEGMENT
            ),
            None,
        )
        started = time.perf_counter()
        first = await refresh_segment(segment.id, utc_now())
        full_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = await refresh_segment(segment.id, utc_now())
        again_seconds = time.perf_counter() - started
        member = await get_member(1, None)
        if member is None:
            raise BenchError("the seed wrote no members")
        offset = member.id - 1
        pick = random.Random(7)
        ids = [offset + pick.randint(1, members) for _ in range(rounds + 5)]
        floor_p50, floor_p95 = await timed(rounds, lambda n: get_member(ids[n], None))
        live_p50, live_p95 = await timed(
            rounds,
            lambda n: segments_of_member(connection(), program_id, ids[n], ["lapsed"], utc_now()),
        )
    finally:
        await close_db()
    return [
        f"| step ({members:,} members) | time | members/s | / floor |",
        "|---|---|---|---|",
        f"| floor: one pass over the members | {floor_seconds * 1000:.0f} ms |"
        f" {members / floor_seconds:,.0f} | 1.0x |",
        f"| full refresh from empty ({first.entered:,} entered) | {full_seconds:.1f} s |"
        f" {members / full_seconds:,.0f} | {full_seconds / floor_seconds:.0f}x |",
        f"| refresh again, nothing changed ({again.entered + again.left} changes) |"
        f" {again_seconds:.1f} s | {members / again_seconds:,.0f} |"
        f" {again_seconds / floor_seconds:.0f}x |",
        "",
        "| one member, live | p50 ms | p95 ms | p95 / floor p95 |",
        "|---|---|---|---|",
        f"| floor: member by primary key | {floor_p50:.2f} | {floor_p95:.2f} | 1.0x |",
        f"| segments_of_member (1 segment) | {live_p50:.2f} | {live_p95:.2f} |"
        f" {live_p95 / floor_p95:.1f}x |",
    ]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-segments", description=__doc__)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--orders-per-member", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    url = fresh_database("bench-segments", DATABASE)
    if url is None:
        return 2
    try:
        program_id = asyncio.run(seed(url, options.members, options.orders_per_member))
        lines = asyncio.run(measure(url, program_id, options.members, options.rounds))
    finally:
        if not options.keep:
            drop(url)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
