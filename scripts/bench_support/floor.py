"""The floor: the SQL statements of one API request, run straight through the driver.

Run as `python -m bench_support.floor` (by `scripts/bench`) against its own copy of the seeded
database; prints one JSON line with rps, p50 and p99. Each simulated request runs exactly the
statements the services run for it, in the same order and transaction shape (`scripts/bench`
checks them against a traced run of the services and warns when the app has moved on):

- recordOrder (no idempotencyKey), as the app runs it once it has cached the program's
  configuration (rules, experiments, tiers, cards, challenges, badges, segments): SELECT the
  program by slug, SELECT the member by (program_id, customer_id), SELECT an existing order by
  (program_id, order_id), SELECT the member's live paid memberships (the earning multiplier);
  then in one transaction INSERT orders ... ON CONFLICT DO NOTHING RETURNING, UPDATE members
  ... RETURNING, INSERT ledger_transactions RETURNING id, INSERT ledger_entries (two rows), the
  analytics rollup upsert (seven rows), INSERT point_lots, UPDATE orders SET transaction_id (on
  PostgreSQL these six are one statement of data-modifying CTEs), INSERT outbox_events
  (points.earned), INSERT outbox_events (order.recorded), SELECT a referral of the member.
  Its transactions commit one by one (the app's SQLite group commit is not mirrored: the
  minimal earn floor is what a write is judged by).
- minimal-earn: the smallest transaction that earns points, whatever the app does: BEGIN,
  UPDATE the member's balance RETURNING it, INSERT a ledger transaction RETURNING its id,
  COMMIT. Every write of the API is compared with it too: it is what one durable write costs
  through the driver.
- member-status: SELECT the member row by id, SELECT its newest 11 points transactions.

SQLite: one aiosqlite connection with the app's pragmas; an asyncio.Lock serialises statements
and holds across a transaction, as Tortoise's SQLite client does. PostgreSQL: an asyncpg pool
sized like the app's connections in total (pool size x workers).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import random
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite
import asyncpg

_PROGRAM_COLUMNS = (
    "id, slug, name, currency, points_per_currency_unit, active, created_at, rounding,"
    " count_shipping, count_tax, minimum_order_minor, excluded_skus, excluded_categories,"
    " pending_days, time_zone, expiry_policy, expiry_lifetime, expiry_lifetime_unit,"
    " expiry_round_to, inactivity_months, expiry_since, expiry_warning_days,"
    " refund_shortfall_policy, exchange_rates, earn_on_points_payments, cors_origins,"
    " cors_allowed_headers, trusted_documents_only, member_token_max_seconds, retro_credit_days,"
    " default_locale, cost_per_point_minor, insights_for_secret_keys, config_version"
)
_MEMBER_COLUMNS = (
    "id, program_id, customer_id, email, name, birthday, enrolled_at, points_available,"
    " points_pending, lifetime_earned, lifetime_redeemed, points_debt, opted_out_at"
)
_ORDER_COLUMNS = (
    "id, program_id, member_id, customer_id, order_id, currency, total_minor, points_earned,"
    " transaction_id, placed_at, created_at, earning, status, points_refunded,"
    " points_unrecovered, exchange_rate, paid_at, fulfilled_at, refunded_minor, channel,"
    " store_location"
)

# Verbatim from app/services (programs.py, orders.py, earning_rules.py, ledger.py, events.py,
# members.py).
SELECT_PROGRAM = f"SELECT {_PROGRAM_COLUMNS} FROM programs WHERE slug = ?"
SELECT_MEMBER_ID = "SELECT id, opted_out_at FROM members WHERE program_id = ? AND customer_id = ?"
# With the request hash, which a second report of the order is compared to.
SELECT_EXISTING_ORDER = (
    f"SELECT {_ORDER_COLUMNS}, request_hash FROM orders WHERE program_id = ? AND order_id = ?"
)
INSERT_ORDER = (
    "INSERT INTO orders (program_id, member_id, customer_id, order_id, currency, total_minor,"
    " shipping_minor, tax_minor, discount_minor, lines, request_hash, points_earned,"
    " transaction_id, placed_at, created_at, earning, status, refunded_quantities,"
    " points_refunded, points_unrecovered, exchange_rate, channel, store_location)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'PLACED', '{}', 0, 0,"
    " ?, ?, ?)"
    f" ON CONFLICT (program_id, order_id) DO NOTHING RETURNING {_ORDER_COLUMNS}"
)
UPDATE_BALANCE = (
    "UPDATE members SET points_available = points_available + ?,"
    " points_pending = points_pending + ?, points_debt = points_debt + ?,"
    " lifetime_earned = lifetime_earned + ?, lifetime_redeemed = lifetime_redeemed + ?,"
    " last_activity_at = COALESCE(?, last_activity_at)"
    " WHERE id = ? AND points_available + ? BETWEEN 0 AND ?"
    " AND points_pending + ? BETWEEN 0 AND ? AND points_debt + ? BETWEEN 0 AND ?"
    " AND lifetime_earned + ? <= ? AND lifetime_redeemed + ? <= ?"
    " RETURNING points_available, points_pending, points_debt"
)
INSERT_TRANSACTION = (
    "INSERT INTO ledger_transactions (program_id, member_id, kind, points, description,"
    " order_ref, reverses_id, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) RETURNING id"
)
INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (transaction_id, program_id, member_id, account, amount,"
    " closes_transaction) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)"
)


# The order's rollup rows (app/services/analytics/rollups.py), sorted as the upsert sorts them:
# the ledger's row of today and the member's earnings of this month; the order's count and
# revenue on the day it was placed, and its customer's order and revenue of that month, with the
# month marked stale (a write to a settled month) as the bench's orders are placed in one.
ROLLUP_ROWS = 7
PLACED_AT = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)  # as record_order.lua sends every order


def _analytics_upsert(shard: str) -> str:
    """app/services/analytics/rollups.py: the rows of one order in one upsert; PostgreSQL adds
    to the connection's shard of each row."""
    values = ", ".join(f"(?, ?, ?, ?, ?, {shard})" for _ in range(ROLLUP_ROWS))
    return (
        "INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)"
        f" VALUES {values} ON CONFLICT (program_id, day, metric, dimension, shard)"
        " DO UPDATE SET value = analytics_days.value + excluded.value"
    )


# PostgreSQL (app/services/ledger/journal.py): the guarded balance update, the journal
# transaction selected from its row, its two entries, the rollup upsert, the lot the points
# open and the order's link to its transaction in one statement.
_TYPED_ROLLUP_VALUES = ", ".join(
    "(?::bigint, ?::date, ?::text, ?::text, ?::bigint)" for _ in range(ROLLUP_ROWS)
)
GUARD_AND_JOURNAL_AT_ONCE = (
    f"WITH g AS ({UPDATE_BALANCE}), t AS (INSERT INTO ledger_transactions (program_id,"
    " member_id, kind, points, description, order_ref, reverses_id, created_at)"
    " SELECT ?::bigint, ?::bigint, ?::text, ?::bigint, ?::text, ?::text, NULL::bigint,"
    " ?::timestamptz FROM g RETURNING id), e AS (INSERT INTO ledger_entries (transaction_id,"
    " program_id, member_id, account, amount, closes_transaction)"
    " SELECT t.id, ?::bigint, ?::bigint, ?, ?::bigint, FALSE FROM t"
    " UNION ALL SELECT t.id, ?::bigint, ?::bigint, ?, ?::bigint, TRUE FROM t)"
    ", r AS (INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)"
    " SELECT v.program_id, v.day, v.metric, v.dimension, v.value, pg_backend_pid() % 64"
    f" FROM (VALUES {_TYPED_ROLLUP_VALUES}) AS v (program_id, day, metric, dimension, value)"
    " WHERE EXISTS (SELECT 1 FROM t) ON CONFLICT (program_id, day, metric, dimension, shard)"
    " DO UPDATE SET value = analytics_days.value + excluded.value)"
    ", l AS (INSERT INTO point_lots (program_id, member_id, transaction_id, points,"
    " remaining, expires_at, pending_until, created_at) SELECT ?::bigint, ?::bigint,"
    " t.id, ?::bigint, ?::bigint, ?::timestamptz, ?::timestamptz, ?::timestamptz FROM t)"
    ", o AS (UPDATE orders SET transaction_id = t.id FROM t WHERE orders.id = ?::bigint)"
    " SELECT t.id AS transaction_id, g.* FROM t, g"
)
UPSERT_ROLLUP = _analytics_upsert("0")
INSERT_LOT = (
    "INSERT INTO point_lots (program_id, member_id, transaction_id, points, remaining,"
    " expires_at, pending_until, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_EVENT = (
    "INSERT INTO outbox_events (program_id, member_id, type, payload, created_at, replayed)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
LINK_ORDER = "UPDATE orders SET transaction_id = ? WHERE id = ?"
# app/services/referrals/repository.py: is the member a referred friend whose order earns?
SELECT_REFERRAL = (
    "SELECT id, program_id, referrer_id, friend_id, friend_customer_id, friend_email, state,"
    " rejection_reason, hold_reason, review_note, source, created_at, signed_up_at,"
    " qualified_at, rewarded_at, held_at, rejected_at, reviewed_at, ip_hash FROM referrals"
    " WHERE friend_id = ? AND state IN (?, ?, ?) ORDER BY id LIMIT 1"
)
SELECT_MEMBERSHIPS = (
    "SELECT m.member_id, p.tier_id, p.earn_multiplier, p.perks, m.ends_at FROM memberships m"
    " JOIN membership_plans p ON p.id = m.plan_id"
    " WHERE m.member_id IN (?) AND m.ended_at IS NULL AND m.ends_at > ?"
)
# The minimal earn transaction.
MINIMAL_CREDIT = (
    "UPDATE members SET points_available = points_available + ?,"
    " lifetime_earned = lifetime_earned + ? WHERE id = ? RETURNING points_available"
)
MINIMAL_TRANSACTION = (
    "INSERT INTO ledger_transactions (program_id, member_id, kind, points, description,"
    " order_ref, reverses_id, created_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?) RETURNING id"
)
MINIMAL_EARN_STATEMENTS = (MINIMAL_CREDIT, MINIMAL_TRANSACTION)
SELECT_MEMBER = f"SELECT {_MEMBER_COLUMNS} FROM members WHERE id = ?"
SELECT_ACTIVITY = (
    "SELECT id, member_id, kind, points, description, order_ref, created_at"
    " FROM ledger_transactions WHERE member_id = ?"
    " AND kind NOT IN ('STORE_CREDIT_ISSUE', 'STORE_CREDIT_REFUND', 'STORE_CREDIT_SPEND')"
    " AND (member_id, id) < (?, ?) ORDER BY member_id DESC, id DESC LIMIT ?"
)
NO_CURSOR = 2**63 - 1


def record_order_statements(backend: str) -> tuple[str, ...]:
    """What one request runs, in order (BEGIN and COMMIT aside), once the process has cached the
    program's configuration; compared with a traced service call. `backend`: sqlite or
    postgres (PostgreSQL guards the balance and writes the journal transaction, its entries
    and the rollup in one statement)."""
    movement: tuple[str, ...] = (
        (GUARD_AND_JOURNAL_AT_ONCE,)
        if backend == "postgres"
        else (
            UPDATE_BALANCE,
            INSERT_TRANSACTION,
            INSERT_ENTRIES,
            UPSERT_ROLLUP,
            INSERT_LOT,
            LINK_ORDER,
        )
    )
    return (
        SELECT_PROGRAM,
        SELECT_MEMBER_ID,
        SELECT_EXISTING_ORDER,
        SELECT_MEMBERSHIPS,
        INSERT_ORDER,
        *movement,
        INSERT_EVENT,
        INSERT_EVENT,
        SELECT_REFERRAL,
    )


MEMBER_STATUS_STATEMENTS = (SELECT_MEMBER, SELECT_ACTIVITY)

ACTIVITY_LIMIT = 11  # `activity(first: 10)` asks for one more row to know `hasNextPage`
SHIPPING_MINOR = 495
MAX_BALANCE = 2**31 - 1  # app/domain/money.py


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def numbered(statement: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2...`, as app/db/sql.py translates them."""
    parts = statement.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


@dataclass(frozen=True)
class Order:
    program_slug: str
    customer_id: str
    order_id: str
    unit_price_minor: int
    quantity: int

    @property
    def total_minor(self) -> int:
        return self.unit_price_minor * self.quantity + SHIPPING_MINOR

    @property
    def points(self) -> int:
        # EUR at 1 point per unit of the lines (shipping not counted), rounded down, as seeded.
        return self.unit_price_minor * self.quantity // 100

    def lines_json(self) -> str:
        line = {
            "sku": "SKU-1",
            "quantity": self.quantity,
            "unit_price_minor": self.unit_price_minor,
            "category": None,
        }
        return json.dumps([line], separators=(",", ":"))

    def earning_json(self) -> str:
        """The breakdown stored with the order, shaped like services/earning.py's."""
        base = self.unit_price_minor * self.quantity
        component = {
            "source": "BASE",
            "ruleId": None,
            "baseMinor": base,
            "multiplier": None,
            "points": self.points,
        }
        line = {
            "index": 0,
            "sku": "SKU-1",
            "category": None,
            "quantity": self.quantity,
            "baseMinor": base,
            "points": self.points,
            "components": [component],
        }
        breakdown = {
            "points": self.points,
            "baseMinor": base,
            "lines": [line],
            "orderComponents": [],
        }
        return json.dumps(breakdown, separators=(",", ":"))

    def request_hash(self) -> str:
        return hashlib.sha256(f"{self.customer_id}/{self.order_id}".encode()).hexdigest()


class Statements(Protocol):
    """Runs one statement on the connection at hand (`?` placeholders)."""

    backend: str

    async def rows(self, statement: str, params: Sequence[Any]) -> Sequence[Any]: ...

    async def run(self, statement: str, params: Sequence[Any]) -> None: ...


async def _one(db: Statements, statement: str, params: Sequence[Any]) -> Any:
    rows = await db.rows(statement, params)
    if not rows:
        raise RuntimeError(f"no row for {statement[:60]!r} {params!r}")
    return rows[0]


def order_rollup(
    program_id: int, member_id: int, total_minor: int, points: int, now: datetime
) -> tuple[Any, ...]:
    """The upsert's parameters for one order (ROLLUP_ROWS rows, in the upsert's order)."""
    today = now.date()  # the bench program's zone is UTC
    placed = PLACED_AT.date()
    member = f"m:{member_id}"
    rows = sorted(
        (
            (today, "ledger", "EARN_ORDER:MEMBER_AVAILABLE:PROGRAM_ISSUED", points),
            (today.replace(day=1), "customer_earnings", member, 1),
            (placed, "orders", "MEMBER:", 1),
            (placed, "revenue_minor", "MEMBER:", total_minor),
            (placed.replace(day=1), "customer_orders", member, 1),
            (placed.replace(day=1), "customer_revenue_minor", member, total_minor),
            (placed.replace(day=1), "late_writes", "", 1),
        )
    )
    return tuple(value for row in rows for value in (program_id, *row))


async def record_order_reads(db: Statements, order: Order) -> tuple[int, str, int]:
    """The reads before the transaction: (program id, currency, member id)."""
    program = await _one(db, SELECT_PROGRAM, (order.program_slug,))
    program_id = int(program["id"])
    if int(program["pending_days"]) != 0:
        raise RuntimeError("the floor mirrors a program without pending days")
    member = await _one(db, SELECT_MEMBER_ID, (program_id, order.customer_id))
    if await db.rows(SELECT_EXISTING_ORDER, (program_id, order.order_id)):
        raise RuntimeError(f"order {order.order_id} exists")
    # The program's rules, experiments and tier settings come from the app's per-process cache
    # (app/services/core/config_cache.py); evaluating the rules is the app's own work, so the
    # floor's points stay the base rate.
    member_id = int(member["id"])
    await db.rows(SELECT_MEMBERSHIPS, (member_id, datetime.now(UTC)))
    return program_id, str(program["currency"]), member_id


async def record_order_writes(
    db: Statements, order: Order, program_id: int, currency: str, member_id: int
) -> None:
    """The statements of the transaction, in the order the services run them."""
    now = datetime.now(UTC)
    points = order.points
    row = await _one(
        db,
        INSERT_ORDER,
        (
            program_id,
            member_id,
            order.customer_id,
            order.order_id,
            currency,
            order.total_minor,
            SHIPPING_MINOR,
            0,
            0,
            order.lines_json(),
            order.request_hash(),
            points,
            PLACED_AT,
            now,
            order.earning_json(),
            None,  # exchange_rate: the order is in the program's currency
            None,  # channel
            None,  # store_location
        ),
    )
    order_pk = int(row["id"])
    # Points straight to the available balance (no pending days): available, pending, debt,
    # earned, redeemed deltas, the activity time, and their bounds, as post_movement binds them.
    guard = (
        points,
        0,
        0,
        points,
        0,
        now,
        member_id,
        points,
        MAX_BALANCE,
        0,
        MAX_BALANCE,
        0,
        MAX_BALANCE,
        points,
        MAX_BALANCE,
        0,
        MAX_BALANCE,
    )
    rollup = order_rollup(program_id, member_id, order.total_minor, points, now)
    journal = (program_id, member_id, "EARN_ORDER", points, f"Order {order.order_id}")
    if db.backend == "postgres":
        # The guard, the transaction, its entries, the rollup, the lot (the bench program's
        # points never expire) and the order's link in one statement.
        balance = await _one(
            db,
            GUARD_AND_JOURNAL_AT_ONCE,
            (
                *guard,
                *journal,
                order.order_id,
                now,
                program_id,
                member_id,
                "MEMBER_AVAILABLE",
                points,
                program_id,
                member_id,
                "PROGRAM_ISSUED",
                -points,
                *rollup,
                program_id,
                member_id,
                points,
                points,
                None,
                None,
                now,
                order_pk,
            ),
        )
        transaction_id = int(balance["transaction_id"])
    else:
        balance = await _one(db, UPDATE_BALANCE, guard)
        transaction = await _one(db, INSERT_TRANSACTION, (*journal, order.order_id, now))
        transaction_id = int(transaction["id"])
        await db.run(
            INSERT_ENTRIES,
            (
                transaction_id,
                program_id,
                member_id,
                "MEMBER_AVAILABLE",
                points,
                False,
                transaction_id,
                program_id,
                member_id,
                "PROGRAM_ISSUED",
                -points,
                True,
            ),
        )
        await db.run(UPSERT_ROLLUP, rollup)
        # The bench program's points never expire: no expiry date.
        await db.run(
            INSERT_LOT, (program_id, member_id, transaction_id, points, points, None, None, now)
        )
        await db.run(LINK_ORDER, (transaction_id, order_pk))
    member_gid = global_id("Member", member_id)
    order_gid = global_id("Order", order_pk)
    earned = {
        "activityId": global_id("Activity", transaction_id),
        "memberId": member_gid,
        "kind": "EARN_ORDER",
        "points": points,
        "availableAfter": int(balance["points_available"]),
        "pendingAfter": int(balance["points_pending"]),
        "description": f"Order {order.order_id}",
        "orderId": order.order_id,
        "orderPk": order_gid,
    }
    event = json.dumps(earned, separators=(",", ":"))
    await db.run(INSERT_EVENT, (program_id, member_id, "points.earned", event, now, False))
    recorded = {
        "orderPk": order_gid,
        "orderId": order.order_id,
        "memberId": member_gid,
        "currency": currency,
        "totalMinor": order.total_minor,
        "pointsEarned": points,
    }
    event = json.dumps(recorded, separators=(",", ":"))
    await db.run(INSERT_EVENT, (program_id, member_id, "order.recorded", event, now, False))
    await db.rows(SELECT_REFERRAL, (member_id, "SIGNED_UP", "QUALIFIED", "REWARDED"))


async def minimal_earn_writes(db: Statements, program_id: int, member_id: int, points: int) -> None:
    """The minimal earn transaction's two statements (BEGIN and COMMIT are the caller's)."""
    now = datetime.now(UTC)
    await _one(db, MINIMAL_CREDIT, (points, points, member_id))
    await _one(db, MINIMAL_TRANSACTION, (program_id, member_id, "EARN_ORDER", points, "Earn", now))


class Floor(Protocol):
    async def record_order(self, order: Order) -> None: ...

    async def minimal_earn(self, program_id: int, member_pk: int, points: int) -> None: ...

    async def member_status(self, member_pk: int) -> None: ...

    async def close(self) -> None: ...


class _SqliteStatements:
    """Statements on the one connection; `locked` takes the lock per statement, as Tortoise
    does outside a transaction (inside one, the transaction holds it throughout)."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock | None) -> None:
        self._conn = conn
        self._lock = lock

    async def rows(self, statement: str, params: Sequence[Any]) -> Sequence[Any]:
        if self._lock is None:
            return list(await self._conn.execute_fetchall(statement, params))
        async with self._lock:
            return list(await self._conn.execute_fetchall(statement, params))

    async def run(self, statement: str, params: Sequence[Any]) -> None:
        await self.rows(statement, params)


class SqliteFloor:
    """One connection, as Tortoise keeps; its lock also holds across a whole transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._locked = _SqliteStatements(conn, self._lock)
        self._in_transaction = _SqliteStatements(conn, None)

    @classmethod
    async def open(cls, path: str, synchronous: str) -> SqliteFloor:
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn._conn.row_factory = sqlite3.Row
        # The app's URL pragmas, then Tortoise's defaults, in Tortoise's order.
        for pragma, value in (
            ("synchronous", synchronous),
            ("busy_timeout", 5000),
            ("journal_mode", "WAL"),
            ("journal_size_limit", 16384),
            ("foreign_keys", "ON"),
        ):
            cursor = await conn.execute(f"PRAGMA {pragma}={value}")
            await cursor.close()
        return cls(conn)

    async def record_order(self, order: Order) -> None:
        program_id, currency, member_id = await record_order_reads(self._locked, order)
        async with self._lock:
            await self._conn.execute_fetchall("BEGIN")
            try:
                await record_order_writes(
                    self._in_transaction, order, program_id, currency, member_id
                )
            except BaseException:
                await self._conn.execute_fetchall("ROLLBACK")
                raise
            await self._conn.execute_fetchall("COMMIT")

    async def minimal_earn(self, program_id: int, member_pk: int, points: int) -> None:
        async with self._lock:
            await self._conn.execute_fetchall("BEGIN")
            try:
                await minimal_earn_writes(self._in_transaction, program_id, member_pk, points)
            except BaseException:
                await self._conn.execute_fetchall("ROLLBACK")
                raise
            await self._conn.execute_fetchall("COMMIT")

    async def member_status(self, member_pk: int) -> None:
        await _one(self._locked, SELECT_MEMBER, (member_pk,))
        await self._locked.rows(SELECT_ACTIVITY, (member_pk, member_pk, NO_CURSOR, ACTIVITY_LIMIT))

    async def close(self) -> None:
        await self._conn.close()


class _PostgresStatements:
    backend = "postgres"

    def __init__(self, conn: Any, numbered_sql: dict[str, str]) -> None:
        self._conn = conn
        self._sql = numbered_sql

    async def rows(self, statement: str, params: Sequence[Any]) -> Sequence[Any]:
        rows: Sequence[Any] = await self._conn.fetch(self._sql[statement], *params)
        return rows

    async def run(self, statement: str, params: Sequence[Any]) -> None:
        await self._conn.execute(self._sql[statement], *params)


class PostgresFloor:
    """A pool like the app's; each simulated request holds one connection throughout."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._sql = {
            statement: numbered(statement)
            for statement in (
                *record_order_statements("postgres"),
                *MINIMAL_EARN_STATEMENTS,
                *MEMBER_STATUS_STATEMENTS,
            )
        }

    @classmethod
    async def open(cls, dsn: str, pool_size: int, concurrency: int) -> PostgresFloor:
        pool = await asyncpg.create_pool(
            dsn, min_size=min(pool_size, concurrency), max_size=pool_size
        )
        return cls(pool)

    async def record_order(self, order: Order) -> None:
        async with self._pool.acquire() as conn:
            db = _PostgresStatements(conn, self._sql)
            program_id, currency, member_id = await record_order_reads(db, order)
            async with conn.transaction():
                await record_order_writes(db, order, program_id, currency, member_id)

    async def minimal_earn(self, program_id: int, member_pk: int, points: int) -> None:
        async with self._pool.acquire() as conn:
            db = _PostgresStatements(conn, self._sql)
            async with conn.transaction():
                await minimal_earn_writes(db, program_id, member_pk, points)

    async def member_status(self, member_pk: int) -> None:
        async with self._pool.acquire() as conn:
            db = _PostgresStatements(conn, self._sql)
            await _one(db, SELECT_MEMBER, (member_pk,))
            await db.rows(SELECT_ACTIVITY, (member_pk, member_pk, NO_CURSOR, ACTIVITY_LIMIT))

    async def close(self) -> None:
        await asyncio.wait_for(self._pool.close(), 10)


@dataclass
class Stats:
    requests: int
    seconds: float
    latencies: list[float]

    def percentile_ms(self, percent: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        index = max(0, math.ceil(percent / 100 * len(ordered)) - 1)
        return ordered[index] * 1000

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "seconds": self.seconds,
            "rps": self.requests / self.seconds if self.seconds else 0.0,
            "p50_ms": self.percentile_ms(50),
            "p99_ms": self.percentile_ms(99),
        }


async def drive(
    work: Callable[[int, int], Awaitable[None]], concurrency: int, seconds: float
) -> Stats:
    """`concurrency` closed loops, each starting requests until `seconds` have passed."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(worker: int) -> None:
        sequence = 0
        while (begin := time.perf_counter()) < deadline:
            sequence += 1
            await work(worker, sequence)
            latencies.append(time.perf_counter() - begin)

    await asyncio.gather(*(loop(worker) for worker in range(concurrency)))
    return Stats(len(latencies), time.perf_counter() - started, latencies)


@dataclass(frozen=True)
class Plan:
    scenario: str
    program_id: int
    program_slug: str
    pool_prefix: str
    pool_size: int
    pool_first_pk: int
    nonce: str


def make_work(floor: Floor, plan: Plan, phase: str) -> Callable[[int, int], Awaitable[None]]:
    rng = random.Random()
    if plan.scenario == "record-order":

        async def record(worker: int, sequence: int) -> None:
            customer = f"{plan.pool_prefix}{rng.randrange(plan.pool_size):05d}"
            await floor.record_order(
                Order(
                    program_slug=plan.program_slug,
                    customer_id=customer,
                    order_id=f"{plan.nonce}-{phase}-{worker}-{sequence}",
                    unit_price_minor=rng.randint(500, 5000),
                    quantity=rng.randint(1, 3),
                )
            )

        return record

    if plan.scenario == "minimal-earn":

        async def earn(worker: int, sequence: int) -> None:
            member_pk = plan.pool_first_pk + rng.randrange(plan.pool_size)
            await floor.minimal_earn(plan.program_id, member_pk, rng.randint(5, 150))

        return earn

    async def status(worker: int, sequence: int) -> None:
        await floor.member_status(plan.pool_first_pk + rng.randrange(plan.pool_size))

    return status


async def run(args: argparse.Namespace) -> dict[str, float]:
    floor: Floor
    if args.backend == "sqlite":
        floor = await SqliteFloor.open(args.database, args.sqlite_synchronous)
    else:
        floor = await PostgresFloor.open(args.database, args.pool_size, args.concurrency)
    plan = Plan(
        scenario=args.scenario,
        program_id=args.program_id,
        program_slug=args.program_slug,
        pool_prefix=args.pool_prefix,
        pool_size=args.members,
        pool_first_pk=args.first_pk,
        nonce=args.nonce,
    )
    try:
        if args.warmup > 0:
            await drive(make_work(floor, plan, "warm"), args.concurrency, args.warmup)
        stats = await drive(make_work(floor, plan, "run"), args.concurrency, args.duration)
    finally:
        await floor.close()
    return stats.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description="The driver-level floor of scripts/bench.")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--database", required=True, help="SQLite file path or PostgreSQL DSN")
    parser.add_argument(
        "--scenario", choices=["record-order", "minimal-earn", "member-status"], required=True
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--pool-size", type=int, default=20, help="PostgreSQL pool size")
    parser.add_argument("--sqlite-synchronous", default="FULL")
    parser.add_argument("--program-slug", default="bench")
    parser.add_argument("--program-id", type=int, default=1)
    parser.add_argument("--pool-prefix", default="bench-")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--first-pk", type=int, default=1)
    parser.add_argument("--nonce", default="floor")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
