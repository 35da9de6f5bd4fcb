"""Seed a migrated, empty PostgreSQL database for `scripts/bench-jobs` with set-based SQL.

One program with LOT_LIFETIME expiry, `members` members and `lots` lots, every lot with the
ledger transaction that earned it (kind ACTION) and its two entries: MEMBER_AVAILABLE (or
MEMBER_PENDING for a pending lot) and PROGRAM_ISSUED. The members' cached balances are the sums
of their lots afterwards, so `laurel verify-ledger` holds and the jobs' guarded updates find the
points they take. Rows are written with `INSERT ... SELECT` over `generate_series`, a chunk of
lots per transaction, with `session_replication_role = replica` (as pg_restore
--disable-triggers does): the foreign-key checks and the ledger's deferred sum-to-zero trigger
would run once per row, four times the cost of the inserts themselves. What they guard is
checked after the seed in one pass instead (`_UNBALANCED`, and `laurel verify-ledger` after the
measurements). Without the privilege to set the role, the seed runs with every check on.

Lot i belongs to member `(i - 1) % members + 1`, in that member's slot `(i - 1) // members`, so
a member holds lots spread over the whole table. The lots that fall due are placed by a
permutation of the members (`rank`): the member of rank r < `expiring` has one lot (in slot
`7m % slots`) expiring at `expiry_base + r seconds`, and the member of pending rank r <
`maturing` has one pending lot (slot `7m + 1`) maturing at `maturing_base + r seconds`. A
measurement cuts a band of ranks with its `now`: each due lot is then a different member's, and
the due lots are scattered over the table's pages as real ones would be. The other lots are
pending for 1-30 more days (`pending_per_mille` of them) or expire 30-394 days from `t0`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

PROGRAM_ID = 1
PROGRAM_SLUG = "bench-jobs"
LIFETIME_MONTHS = 12
_PRIME = 1_000_003


@dataclass(frozen=True)
class Layout:
    members: int
    lots: int
    expiring: int  # lots that fall due for expiry across all measurements (distinct members)
    maturing: int  # pending lots that fall due for maturing across all measurements
    pending_per_mille: int
    t0: datetime

    @property
    def slots(self) -> int:
        return self.lots // self.members

    @property
    def multiplier(self) -> int:
        """Coprime with `members`, so `(m - 1) * multiplier % members` is a permutation."""
        step = _PRIME
        while math.gcd(step, self.members) != 1:
            step += 2
        return step

    @property
    def since(self) -> datetime:
        return self.t0 - timedelta(days=730)

    @property
    def created_at(self) -> datetime:
        return self.t0 - timedelta(days=60)

    @property
    def expiry_base(self) -> datetime:
        """The lot of expiry rank r expires at this plus r seconds."""
        return self.t0 - timedelta(days=30)

    @property
    def maturing_base(self) -> datetime:
        """The pending lot of rank r matures at this plus r seconds. Matured at `now` it then
        expires LIFETIME_MONTHS after `now`, long after every expiry measurement's `now`."""
        return self.t0 - timedelta(days=20)

    def expiry_now(self, ranks_below: int) -> datetime:
        """The `now` at which every expiry rank below `ranks_below` is due, and no other."""
        return self.expiry_base + timedelta(seconds=ranks_below - 0.5)

    def maturing_now(self, ranks_below: int) -> datetime:
        return self.maturing_base + timedelta(seconds=ranks_below - 0.5)

    def check(self) -> None:
        if self.members < 1 or self.slots < 2:
            raise ValueError("needs at least one member and two lots per member")
        if max(self.expiring, self.maturing) > self.members:
            raise ValueError(
                f"{max(self.expiring, self.maturing)} due lots need as many members,"
                f" not {self.members}: each due lot is a different member's"
            )


# Parameters: $1 first lot, $2 last lot, $3 members, $4 slots, $5 multiplier, $6 expiring,
# $7 maturing, $8 expiry base, $9 maturing base, $10 t0, $11 pending per mille.
_CHUNK = """
CREATE TEMP TABLE seed_lots ON COMMIT DROP AS
WITH g AS (
    SELECT i, (i - 1) % $3 + 1 AS m, (i - 1) / $3 AS s, 10 + i % 91 AS p
    FROM generate_series($1::bigint, $2::bigint) AS i
), ranked AS (
    SELECT g.*, (g.m - 1) * $5::bigint % $3 AS r FROM g
), placed AS (
    SELECT i, m, p, r,
        CASE
            WHEN s = m * 7 % $4 AND r < $6 THEN 'expiring'
            WHEN s = (m * 7 + 1) % $4 AND $3 - 1 - r < $7 THEN 'maturing'
            WHEN i * 7919 % 1000 < $11 THEN 'pending'
            ELSE 'future'
        END AS kind
    FROM ranked
)
SELECT i, m, p,
    CASE kind
        WHEN 'expiring' THEN $8::timestamptz + make_interval(secs => r::double precision)
        WHEN 'future' THEN $10::timestamptz + make_interval(days => (30 + i % 365)::int)
    END AS expires_at,
    CASE kind
        WHEN 'maturing' THEN
            $9::timestamptz + make_interval(secs => ($3 - 1 - r)::double precision)
        WHEN 'pending' THEN $10::timestamptz + make_interval(days => (1 + i % 30)::int)
    END AS pending_until
FROM placed
"""

_INSERT_TRANSACTIONS = """
INSERT INTO ledger_transactions (id, program_id, member_id, kind, points, description,
    order_ref, reverses_id, created_at)
SELECT i, $1, m, 'ACTION', p, p || ' points for bench action ' || i, NULL, NULL, $2
FROM seed_lots ORDER BY i
"""

_INSERT_ENTRIES = """
INSERT INTO ledger_entries (id, transaction_id, program_id, member_id, account, amount,
    closes_transaction)
SELECT id, transaction_id, $1, member_id, account, amount, closes FROM (
    SELECT 2 * i - 1 AS id, i AS transaction_id, m AS member_id,
        CASE WHEN pending_until IS NULL THEN 'MEMBER_AVAILABLE' ELSE 'MEMBER_PENDING' END
            AS account,
        p AS amount, false AS closes
    FROM seed_lots
    UNION ALL
    SELECT 2 * i, i, m, 'PROGRAM_ISSUED', -p, true FROM seed_lots
) AS legs ORDER BY id
"""

_INSERT_LOTS = """
INSERT INTO point_lots (id, program_id, member_id, transaction_id, points, remaining,
    expires_at, pending_until, created_at, expired_by_id)
SELECT i, $1, m, i, p, p, expires_at, pending_until, $2, NULL FROM seed_lots ORDER BY i
"""

_BALANCES = """
UPDATE members SET points_available = sums.available, points_pending = sums.pending,
    lifetime_earned = sums.available + sums.pending
FROM (
    SELECT member_id,
        SUM(CASE WHEN pending_until IS NULL THEN remaining ELSE 0 END) AS available,
        SUM(CASE WHEN pending_until IS NULL THEN 0 ELSE remaining END) AS pending
    FROM point_lots GROUP BY member_id
) AS sums
WHERE members.id = sums.member_id
"""

# The same rules the triggers and foreign keys enforce, once over the whole seed.
_UNBALANCED = """
SELECT
    (SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
        HAVING SUM(amount) <> 0 OR COUNT(*) <> 2) AS unbalanced) AS unbalanced,
    (SELECT COUNT(*) FROM point_lots l LEFT JOIN ledger_transactions t ON t.id = l.transaction_id
        LEFT JOIN members m ON m.id = l.member_id
        WHERE t.id IS NULL OR m.id IS NULL OR t.member_id <> l.member_id) AS orphan_lots,
    (SELECT COUNT(*) FROM ledger_transactions t LEFT JOIN members m ON m.id = t.member_id
        WHERE m.id IS NULL) AS orphan_transactions
"""

_SEQUENCES = ("programs", "members", "ledger_transactions", "ledger_entries", "point_lots")


async def seed(url: str, layout: Layout, chunk: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Fill the database at `url`; returns counts and timings for the report."""
    layout.check()
    started = time.perf_counter()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(
            "INSERT INTO programs (id, slug, name, currency, points_per_currency_unit, active,"
            " rounding, count_shipping, count_tax, minimum_order_minor, excluded_skus,"
            " excluded_categories, pending_days, created_at, expiry_policy, expiry_lifetime,"
            " expiry_lifetime_unit, expiry_round_to, expiry_since, time_zone)"
            " VALUES ($1, $2, 'Bench Jobs', 'EUR', 1, true, 'FLOOR', false, false, 0, '[]',"
            " '[]', 14, $3, 'LOT_LIFETIME', $4, 'MONTHS', 'NONE', $5, 'UTC')",
            PROGRAM_ID,
            PROGRAM_SLUG,
            layout.since,
            LIFETIME_MONTHS,
            layout.since,
        )
        await conn.execute(
            "INSERT INTO members (id, program_id, customer_id, enrolled_at, points_available,"
            " points_pending, lifetime_earned, lifetime_redeemed, points_debt, last_activity_at,"
            " anniversary_month_day)"
            " SELECT m, $1, 'bench-' || m, $2, 0, 0, 0, 0, 0, $3, $4"
            " FROM generate_series(1, $5::bigint) AS m",
            PROGRAM_ID,
            layout.since,
            layout.created_at,
            layout.since.month * 100 + layout.since.day,
            layout.members,
        )
        triggers_off = True
        try:
            await conn.execute("SET session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            triggers_off = False
            log("  no privilege to set session_replication_role: seeding with every check on")
        for first in range(1, layout.lots + 1, chunk):
            last = min(first + chunk - 1, layout.lots)
            async with conn.transaction():
                await conn.execute(
                    _CHUNK,
                    first,
                    last,
                    layout.members,
                    layout.slots,
                    layout.multiplier,
                    layout.expiring,
                    layout.maturing,
                    layout.expiry_base,
                    layout.maturing_base,
                    layout.t0,
                    layout.pending_per_mille,
                )
                await conn.execute(_INSERT_TRANSACTIONS, PROGRAM_ID, layout.created_at)
                await conn.execute(_INSERT_ENTRIES, PROGRAM_ID)
                await conn.execute(_INSERT_LOTS, PROGRAM_ID, layout.created_at)
            if last == layout.lots or (last // chunk) % 5 == 0:
                log(f"  {last:,} of {layout.lots:,} lots ({time.perf_counter() - started:.0f} s)")
        if triggers_off:
            await conn.execute("RESET session_replication_role")
        await conn.execute(_BALANCES)
        broken = await conn.fetchrow(_UNBALANCED)
        assert broken is not None
        if any(broken.values()):
            raise RuntimeError(f"the seed broke the ledger's rules: {dict(broken)}")
        for table in _SEQUENCES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT MAX(id) FROM {table}))"
            )
        seeded = time.perf_counter() - started
        # What autovacuum would have done by the time the jobs run: statistics, visibility map.
        # The checkpoint keeps the seed's writes from being flushed during a measurement.
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
        counts = await conn.fetchrow(
            "SELECT COUNT(*) AS lots,"
            " COUNT(*) FILTER (WHERE pending_until IS NOT NULL) AS pending,"
            " COUNT(*) FILTER (WHERE expires_at < $1) AS expiring,"
            " COUNT(*) FILTER (WHERE pending_until < $1) AS maturing,"
            " pg_total_relation_size('point_lots') AS lots_bytes,"
            " pg_database_size(current_database()) AS database_bytes"
            " FROM point_lots",
            layout.t0,
        )
    finally:
        await conn.close()
    assert counts is not None
    return {
        **dict(counts),
        "seed_seconds": seeded,
        "triggers_off": triggers_off,
        "total_seconds": time.perf_counter() - started,
    }
