"""The member directory benchmark (scripts/bench-members), on PostgreSQL: a program of
`--members` members (1,000,000 by default) seeded in bulk with set-based SQL, then the staff's
lookups and searches through the services the API calls, each timed `--rounds` times with
varied values:

- floor: one member read by primary key (`get_member`), the cheapest read of a member;
- lookup by e-mail, by phone and by card number (`look_up_members`);
- search by a name's word, by an e-mail's start, and by a customer id (`list_members`, a page
  of 50), and the list with a points range and a tag, newest first.

Prints p50 and p95 per query in milliseconds and as a ratio of the floor's p95, the target
(p95 under 50 ms) as PASS/MISS, and the plan PostgreSQL chose for the search (EXPLAIN), so the
indexes it uses are on record. Exit 2 when it cannot run. The database is dropped at the end
unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parents[2]))

from app.config import Settings
from app.db import close_db, init_db
from app.services.members import directory
from app.services.members.directory import LookupBy, MemberFilter, MemberOrder
from app.services.members.service import get_member
from bench_support.jobs_main import BenchError, drop
from bench_support.seeding import fresh_database, seed_program

DATABASE = "laurel_members_bench"
TARGET_MS = 50.0
PAGE = 50
FIRST_NAMES = [
    "ada",
    "alan",
    "anna",
    "bo",
    "carl",
    "dana",
    "eva",
    "erik",
    "frida",
    "gustav",
    "hanna",
    "ivar",
    "julia",
    "karl",
    "lena",
    "maja",
    "nils",
    "olof",
    "petra",
    "rut",
    "sara",
    "tor",
    "ulla",
    "vera",
]
LAST_NAMES = [
    "andersson",
    "berg",
    "dahl",
    "ek",
    "falk",
    "holm",
    "johansson",
    "karlsson",
    "lind",
    "lund",
    "nilsson",
    "nyberg",
    "ost",
    "persson",
    "sandberg",
    "strom",
    "svensson",
    "wallin",
]

SEED = """
INSERT INTO members (program_id, customer_id, email, email_lower, name, enrolled_at,
    anniversary_month_day, points_available, points_pending, lifetime_earned,
    lifetime_redeemed, phone, card_number, tags)
SELECT $1, 'c-' || g, 'user' || g || '@example.com', 'user' || g || '@example.com',
    initcap(($2::text[])[1 + g % cardinality($2::text[])]) || ' '
        || initcap(($3::text[])[1 + (g / 7) % cardinality($3::text[])]) || ' ' || g,
    now() - (g % 1000) * interval '1 hour', 101, (g::bigint * 7919) % 5000, 0, 0, 0,
    '+4670' || lpad(g::text, 7, '0'), 'LC-' || g,
    CASE WHEN g % 10 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END
FROM generate_series(1, $4) AS g
"""
SEED_TERMS = """
INSERT INTO member_search_terms (program_id, member_id, term)
SELECT program_id, id, term FROM members,
    LATERAL unnest(
        string_to_array(lower(name), ' ')
        || ARRAY[email_lower, lower(customer_id), lower(card_number), phone]
    ) AS term
WHERE program_id = $1
"""


def log(message: str) -> None:
    print(f"[bench-members {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def seed(url: str, members: int) -> int:
    program_id = await seed_program(url)
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(SEED, program_id, FIRST_NAMES, LAST_NAMES, members)
        await conn.execute(SEED_TERMS, program_id)
        await conn.execute("ANALYZE")
        log(f"seeded {members:,} members in {time.perf_counter() - started:.0f} s")
    finally:
        await conn.close()
    return program_id


async def timed(rounds: int, work: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """p50 and p95 in ms of `work(round)`, after a few rounds to warm up."""
    for number in range(5):
        await work(number)
    times = []
    for number in range(rounds):
        started = time.perf_counter()
        await work(number)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def measure(url: str, program_id: int, members: int, rounds: int) -> list[str]:
    pick = random.Random(5)
    ids = [pick.randint(1, members) for _ in range(rounds + 5)]
    await init_db(Settings(database_url=url))
    try:
        first_member = await get_member(1, None)
        if first_member is None:
            raise BenchError("the seed wrote no members")
        offset = first_member.id - 1

        def search(text: Callable[[int], str]) -> Callable[[int], Awaitable[object]]:
            return lambda n: directory.list_members(
                program_id,
                MemberFilter(search=text(n)),
                MemberOrder.NEWEST_FIRST,
                after=None,
                limit=PAGE + 1,
            )

        def lookup(by: LookupBy, text: Callable[[int], str]) -> Callable[[int], Awaitable[object]]:
            return lambda n: directory.look_up_members(program_id, by, text(n))

        queries: Sequence[tuple[str, Callable[[int], Awaitable[object]]]] = (
            ("floor: member by primary key", lambda n: get_member(offset + ids[n], None)),
            ("lookup by e-mail", lookup(LookupBy.EMAIL, lambda n: f"USER{ids[n]}@example.com")),
            ("lookup by phone", lookup(LookupBy.PHONE, lambda n: f"+46 70 {ids[n]:07d}")),
            ("lookup by card number", lookup(LookupBy.CARD_NUMBER, lambda n: f"LC-{ids[n]}")),
            ("search a name's word", search(lambda n: LAST_NAMES[n % len(LAST_NAMES)][:4])),
            ("search an e-mail's start", search(lambda n: f"user{ids[n]}")),
            ("search a customer id", search(lambda n: f"c-{ids[n]}")),
            ("search a card number", search(lambda n: f"lc-{ids[n]}")),
            ("search a rare prefix (no match)", search(lambda n: f"zz{n}")),
            (
                "list: everyone, most points first",
                lambda n: directory.list_members(
                    program_id,
                    MemberFilter(),
                    MemberOrder.MOST_POINTS,
                    after=None,
                    limit=PAGE + 1,
                ),
            ),
            (
                "list: points 1000-2000, tag vip",
                lambda n: directory.list_members(
                    program_id,
                    MemberFilter(points_at_least=1000, points_at_most=2000, tag="vip"),
                    MemberOrder.NEWEST_FIRST,
                    after=None,
                    limit=PAGE + 1,
                ),
            ),
        )
        results = [(name, *await timed(rounds, work)) for name, work in queries]
    finally:
        await close_db()
    floor_p95 = results[0][2]
    lines = [
        f"| query ({members:,} members) | p50 ms | p95 ms | p95 / floor p95"
        f" | p95 < {TARGET_MS:g} ms |",
        "|---|---|---|---|---|",
    ]
    for name, p50, p95 in results:
        verdict = "" if name.startswith("floor") else ("PASS" if p95 < TARGET_MS else "MISS")
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {p95 / floor_p95:.1f}x | {verdict} |")
    return lines


async def explain(url: str, program_id: int) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "EXPLAIN SELECT m.id FROM members m WHERE m.program_id = $1 AND m.erased_at IS NULL"
            " AND m.id IN (SELECT member_id FROM member_search_terms WHERE program_id = $1"
            " AND term LIKE $3) AND $2::text IS NOT NULL ORDER BY m.id DESC LIMIT 51",
            program_id,
            "lind",
            "lind%",
        )
    finally:
        await conn.close()
    return [str(row[0]) for row in rows]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench-members", description=__doc__)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:

    options = parse_args(sys.argv[1:] if argv is None else argv)
    url = fresh_database("bench-members", DATABASE)
    if url is None:
        return 2
    try:
        program_id = asyncio.run(seed(url, options.members))
        lines = asyncio.run(measure(url, program_id, options.members, options.rounds))
        plan = asyncio.run(explain(url, program_id))
    finally:
        if not options.keep:
            drop(url)
    print("\n".join(lines))
    print("\nPlan of a search (EXPLAIN):")
    print("\n".join(f"    {line}" for line in plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
