"""The analytics program of scripts/bench-insights and scripts/bench-verify, seeded in bulk on
PostgreSQL: `members` members, `orders` orders (one in ten a guest's) over 2025-2026 (time zone
UTC), one earning journal transaction (two ledger entries and a point lot) per member order,
and a welcome bonus (an ADJUST transaction, two entries, a lot) for every other member, so
1,000,000 members and 5,000,000 orders make 10,000,000 ledger entries. The balances of the
members and the rollups (daily rows and customer-activity rows) are what the writes would have
kept, computed in SQL from the seeded rows.

Fast because the database does all the work, once per table:

- every row is made by one INSERT ... SELECT over generate_series, inside the database, in
  the order that needs no UPDATE afterwards (orders, then their transactions, entries and
  lots, then the members with their balances summed from the transactions);
- the session runs with `session_replication_role = replica`, which skips the triggers: the
  foreign-key checks and the deferred per-entry balance check each cost a lookup per row, and
  the rows are consistent by construction (`laurel verify-ledger` and `laurel analytics
  rebuild --check` confirm it: scripts/bench-verify --check);
- the secondary indexes and unique constraints of the loaded tables are dropped first and
  built again at the end, one sort each instead of 10,000,000 insertions into each B-tree;
- VACUUM ANALYZE at the end, as a live database would have been, so readers see
  planner statistics and the visibility map and set no hint bits themselves.

Guests' customer-activity keys are the app's (`guest_key`, a BLAKE2 hash PostgreSQL lacks):
computed here for every guest customer id and copied into a temporary table (COPY) that the
rollup query joins.
"""

from __future__ import annotations

import sys
import time

import asyncpg

from app.config import Settings
from app.db import apply_migrations, close_db, init_db
from app.domain.analytics import guest_key
from app.services.programs import service as programs_service

DAYS = 730  # 2025-01-01 .. 2026-12-31
WELCOME_POINTS = 50
LOADED_TABLES = [
    "members",
    "orders",
    "ledger_transactions",
    "ledger_entries",
    "point_lots",
    "analytics_days",
]

ENROLLED_AT = (
    "timestamptz '2025-01-01 00:00+00' + (g % $3) * interval '1 day' + (g % 24) * interval '1 hour'"
)
# Order i: a guest's when i % 10 = 0, else member m's, placed after m's enrolment; a member
# order's journal transaction has the order's id.
ORDERS_SQL = """
INSERT INTO orders (id, program_id, member_id, customer_id, order_id, currency, total_minor,
    shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,
    transaction_id, status, refunded_quantities, points_refunded, points_unrecovered,
    refunded_minor, placed_at, created_at)
SELECT i, $1, CASE WHEN i % 10 = 0 THEN NULL ELSE m END,
    CASE WHEN i % 10 = 0 THEN 'guest-' || (i * 13) % ($2 / 2 + 1) ELSE 'c-' || m END,
    'o-' || i, 'EUR', total, 0, 0, 0, '[]', 'bench',
    CASE WHEN i % 10 = 0 THEN 0 ELSE total / 100 END,
    CASE WHEN i % 10 = 0 THEN NULL ELSE i END,
    'PLACED', '{}', 0, 0, 0, placed, placed
FROM (
    SELECT i, m, 1000 + (i * 37) % 20000 AS total,
        timestamptz '2025-01-01 00:00+00'
            + ((m % $3) + (i * 31) % ($3 - m % $3)) * interval '1 day'
            + (i % 24) * interval '1 hour' AS placed
    FROM (SELECT i, 1 + (i * 7919) % $2 AS m FROM generate_series(1, $4::bigint) AS i)
        AS numbered
) AS o
"""
EARNINGS_SQL = """
INSERT INTO ledger_transactions (id, program_id, member_id, kind, points, description,
    order_ref, reverses_id, created_at)
SELECT id, program_id, member_id, 'EARN_ORDER', points_earned, 'Order ' || order_id, order_id,
    NULL, placed_at
FROM orders WHERE program_id = $1 AND member_id IS NOT NULL
"""
# The welcome bonus of member g (g even) is transaction `orders + g / 2`, after every order's.
WELCOME_SQL = f"""
INSERT INTO ledger_transactions (id, program_id, member_id, kind, points, description,
    order_ref, reverses_id, created_at)
SELECT $4::bigint + g / 2, $1, g, 'ADJUST', {WELCOME_POINTS}, 'Welcome bonus', NULL, NULL,
    {ENROLLED_AT}
FROM generate_series(2, $2, 2) AS g
"""
ENTRIES_SQL = """
INSERT INTO ledger_entries (id, transaction_id, program_id, member_id, account, amount,
    closes_transaction)
SELECT 2 * t.id - 1 + side, t.id, t.program_id, t.member_id,
    CASE WHEN side = 0 THEN 'MEMBER_AVAILABLE' ELSE 'PROGRAM_ISSUED' END,
    CASE WHEN side = 0 THEN t.points ELSE -t.points END, side = 1
FROM ledger_transactions t CROSS JOIN (VALUES (0), (1)) AS sides(side)
WHERE t.program_id = $1
"""
LOTS_SQL = """
INSERT INTO point_lots (id, program_id, member_id, transaction_id, points, remaining,
    expires_at, pending_until, created_at, expired_by_id)
SELECT id, program_id, member_id, id, points, points, NULL, NULL, created_at, NULL
FROM ledger_transactions WHERE program_id = $1
"""
MEMBERS_SQL = f"""
INSERT INTO members (id, program_id, customer_id, enrolled_at, points_available,
    points_pending, lifetime_earned, lifetime_redeemed, last_activity_at)
SELECT g, $1, 'c-' || g, {ENROLLED_AT}, COALESCE(sums.points, 0), 0, COALESCE(sums.points, 0),
    0, sums.last
FROM generate_series(1, $2) AS g
LEFT JOIN (SELECT member_id, SUM(points) AS points, MAX(created_at) AS last
           FROM ledger_transactions WHERE program_id = $1 GROUP BY member_id) AS sums
    ON sums.member_id = g
"""
# The daily rollups the writes keep (app/domain/analytics.py), in UTC days.
DAILY_ROLLUPS_SQL = """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
SELECT $1, day, metric, dimension, SUM(value), 0 FROM (
    SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, x.metric,
        CASE WHEN o.member_id IS NULL THEN 'GUEST:' ELSE 'MEMBER:' END AS dimension, x.value
    FROM orders o CROSS JOIN LATERAL (VALUES ('orders', 1::bigint),
        ('revenue_minor', o.total_minor)) AS x(metric, value)
    WHERE o.program_id = $1
    UNION ALL
    SELECT (enrolled_at AT TIME ZONE 'UTC')::date, 'enrolments', '', 1
    FROM members WHERE program_id = $1
    UNION ALL
    SELECT (created_at AT TIME ZONE 'UTC')::date, 'ledger',
        kind || ':MEMBER_AVAILABLE:PROGRAM_ISSUED', points
    FROM ledger_transactions WHERE program_id = $1
) AS r GROUP BY day, metric, dimension
"""
# The customer-activity rows, by month and customer: each metric from its own aggregate, keyed
# by integers (member id, or the guest's customer id for the tenth that are guests'), the text
# keys made only for the aggregated rows; one (month, customer) row per metric, no regrouping.
ACTIVITY_ROLLUPS_SQL = """
INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)
WITH orders_by_month AS (
    SELECT date_trunc('month', placed_at AT TIME ZONE 'UTC')::date AS month, member_id,
        CASE WHEN member_id IS NULL THEN customer_id END AS guest,
        COUNT(*) AS orders, SUM(total_minor) AS revenue
    FROM orders WHERE program_id = $1 GROUP BY 1, 2, 3
), keyed AS (
    SELECT o.month, COALESCE('m:' || o.member_id, g.key) AS customer, o.orders, o.revenue
    FROM orders_by_month o LEFT JOIN guest_keys g ON g.customer_id = o.guest
)
SELECT $1, month, 'customer_orders', customer, orders, 0 FROM keyed
UNION ALL
SELECT $1, month, 'customer_revenue_minor', customer, revenue, 0 FROM keyed
UNION ALL
SELECT $1, month, 'customer_earnings', 'm:' || member_id, earnings, 0 FROM (
    SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month, member_id,
        COUNT(*) AS earnings
    FROM ledger_transactions WHERE program_id = $1 GROUP BY 1, 2
) AS by_month
UNION ALL
SELECT $1, date_trunc('month', enrolled_at AT TIME ZONE 'UTC')::date, 'customer_enrolled',
    'm:' || id, 1, 0
FROM members WHERE program_id = $1
"""
COUNTS_SQL = (
    "SELECT (SELECT COUNT(*) FROM members) AS members,"
    " (SELECT COUNT(*) FROM orders) AS orders,"
    " (SELECT COUNT(*) FROM ledger_entries) AS entries,"
    " (SELECT COUNT(*) FROM analytics_days) AS rollup_rows"
)
SEQUENCES = ["members", "orders", "ledger_transactions", "ledger_entries", "point_lots"]

# The loaded tables' unique constraints and plain indexes (primary keys stay: the loads join
# on them), each with the statement that makes it again.
UNIQUE_CONSTRAINTS_SQL = """
SELECT conrelid::regclass::text AS table_name, conname AS name,
       pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text = ANY($1::text[])
"""
PLAIN_INDEXES_SQL = """
SELECT indexname AS name, indexdef AS definition FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = ANY($1::text[])
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))
"""


def log(message: str) -> None:
    print(f"[bench seed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _timed(conn: asyncpg.Connection, label: str, statement: str, *params: object) -> None:
    started = time.perf_counter()
    await conn.execute(statement, *params)
    log(f"{label}: {time.perf_counter() - started:.1f} s")


async def seed(url: str, members: int, orders: int) -> dict[str, int]:
    """Migrate the empty database at `url`, create the program `shop` and load it; the row
    counts and the seconds the loading took."""
    settings = Settings(database_url=url)
    await apply_migrations(settings)
    await init_db(settings)
    try:
        program = await programs_service.create_program(
            programs_service.CreateProgramInput(
                slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1
            )
        )
    finally:
        await close_db()
    conn = await asyncpg.connect(url, timeout=10, command_timeout=None)
    try:
        started = time.perf_counter()
        for setting in (
            "session_replication_role = replica",
            "synchronous_commit = off",
            "maintenance_work_mem = '256MB'",
            "work_mem = '128MB'",
        ):
            await conn.execute(f"SET {setting}")
        constraints = await conn.fetch(UNIQUE_CONSTRAINTS_SQL, LOADED_TABLES)
        indexes = await conn.fetch(PLAIN_INDEXES_SQL, LOADED_TABLES)
        for row in constraints:
            await conn.execute(f"ALTER TABLE {row['table_name']} DROP CONSTRAINT {row['name']}")
        for row in indexes:
            await conn.execute(f"DROP INDEX {row['name']}")
        log(f"dropped {len(constraints)} unique constraints and {len(indexes)} indexes")
        pid = program.id
        await conn.execute(
            "CREATE TEMPORARY TABLE guest_keys (customer_id text PRIMARY KEY, key text NOT NULL)"
        )
        await conn.copy_records_to_table(
            "guest_keys",
            records=(
                (customer, guest_key(customer))
                for customer in (f"guest-{n}" for n in range(members // 2 + 1))
            ),
        )
        await _timed(conn, f"{orders:,} orders", ORDERS_SQL, pid, members, DAYS, orders)
        await _timed(conn, "earning transactions", EARNINGS_SQL, pid)
        await _timed(conn, "welcome bonuses", WELCOME_SQL, pid, members, DAYS, orders)
        await _timed(conn, "ledger entries", ENTRIES_SQL, pid)
        await _timed(conn, "point lots", LOTS_SQL, pid)
        await _timed(conn, f"{members:,} members", MEMBERS_SQL, pid, members, DAYS)
        await _timed(conn, "daily rollups", DAILY_ROLLUPS_SQL, pid)
        await _timed(conn, "customer-activity rollups", ACTIVITY_ROLLUPS_SQL, pid)
        for table in SEQUENCES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        for row in indexes:
            await _timed(conn, f"index {row['name']}", row["definition"])
        for row in constraints:
            await _timed(
                conn,
                f"constraint {row['name']}",
                f"ALTER TABLE {row['table_name']} ADD CONSTRAINT {row['name']} {row['definition']}",
            )
        await _timed(conn, "vacuum analyze", f"VACUUM ANALYZE {', '.join(LOADED_TABLES)}")
        seconds = int(time.perf_counter() - started)
        counts = await conn.fetchrow(COUNTS_SQL)
        assert counts is not None
        log(f"seeded in {seconds} s: {dict(counts)}")
        return {key: int(value) for key, value in dict(counts).items()} | {"seconds": seconds}
    finally:
        await conn.close()
