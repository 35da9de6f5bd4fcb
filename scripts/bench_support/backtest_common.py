"""What the benchmarks on a PostgreSQL database of their own share, and the backtest's set-up.

`scripts/bench-import` (a backtest called directly) and `scripts/bench-backtest` (the same
backtest run as a job) seed the same orders into a fresh database for the same program, compare
with the same floor (reading the orders page by page, decoding them, evaluating nothing) and
report the same figures; `scripts/bench-bulk` uses the database helpers.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.config import Settings
from app.db import apply_migrations, close_db, connection, fetch_one, init_db
from app.domain.earning import RuleKind
from app.domain.expiry import ExpiryPolicy, LifetimeUnit
from app.domain.tiers import DowngradePolicy, TierMetric, TierPeriod
from app.services.backtests import service as backtests
from app.services.orders.earning_rules import RuleInput, create_earning_rule
from app.services.programs.service import (
    CreateProgramInput,
    ExpiryInput,
    UpdateProgramSettingsInput,
    create_program,
    update_program_settings,
)
from app.services.tiers import configuration as tier_configuration

START = datetime(2024, 1, 1, tzinfo=UTC)
# The backtests play the year from START.
END = START + timedelta(days=365)
PROPOSAL = backtests.Proposal(
    points_per_currency_unit=2,
    tiers=(backtests.ProposedTier("Base", 0), backtests.ProposedTier("Plus", 1000, "1.25")),
    expiry_days=180,
)


def run_on_postgres(name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the benchmark; exit 2 with its reason when PostgreSQL cannot be reached or refuses."""
    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"{name} cannot run: {exc}", file=sys.stderr)
        sys.exit(2)


def log(message: str) -> None:
    print(message, flush=True)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _admin(url: str, *statements: str) -> None:
    base, _, name = url.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres", timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement.replace("{db}", f'"{name}"'))
    finally:
        await conn.close()


async def recreate(url: str) -> None:
    await _admin(url, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")


async def drop(url: str) -> None:
    await _admin(url, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")


@asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[None]:
    """The database at `url` made again and migrated, the app's connection open on it."""
    await recreate(url)
    settings = replace(Settings.from_env(), database_url=url)
    await apply_migrations(settings)
    await close_db()
    await init_db(settings)
    try:
        yield
    finally:
        await close_db()


async def configure(slug: str) -> None:
    """1 point per EUR, 14 pending days, lots expiring 12 months after they become available,
    three tiers on points earned over a rolling year, a double-points campaign."""
    await create_program(
        CreateProgramInput(slug=slug, name=slug, currency="EUR", points_per_currency_unit=1)
    )
    await update_program_settings(
        UpdateProgramSettingsInput(
            program_slug=slug,
            pending_days=14,
            expiry=ExpiryInput(
                policy=ExpiryPolicy.LOT_LIFETIME, lifetime=12, unit=LifetimeUnit.MONTHS
            ),
        )
    )
    await tier_configuration.configure_tiers(
        tier_configuration.ConfigureTiersInput(
            program_slug=slug,
            metric=TierMetric.POINTS_EARNED,
            period=TierPeriod.ROLLING_12_MONTHS,
            downgrade=DowngradePolicy.PERIOD_END,
            tiers=(
                tier_configuration.TierInput(name="Bronze", threshold=0),
                tier_configuration.TierInput(name="Silver", threshold=500),
                tier_configuration.TierInput(name="Gold", threshold=2000, earn_multiplier="1.5"),
            ),
        )
    )
    await create_earning_rule(
        slug,
        RuleInput(
            name="Spring double",
            kind=RuleKind.MULTIPLIER,
            multiplier="2",
            starts_at=START + timedelta(days=90),
            ends_at=START + timedelta(days=120),
        ),
    )


async def seed_orders(url: str, members: int, orders: int) -> None:
    """Members and orders of program 1 with set-based SQL (no ledger: a backtest reads orders
    only), the orders spread over the year from START."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO members (program_id, customer_id, enrolled_at, points_available,"
            " points_pending, lifetime_earned, lifetime_redeemed)"
            " SELECT 1, 'c' || n, $1::timestamptz, 0, 0, 0, 0 FROM generate_series(1, $2) AS n",
            START - timedelta(days=1),
            members,
        )
        await conn.execute(
            "INSERT INTO orders (program_id, member_id, customer_id, order_id, currency,"
            " total_minor, lines, request_hash, points_earned, placed_at, created_at, earning,"
            " status, refunded_quantities, shipping_minor, tax_minor, discount_minor,"
            " points_refunded, points_unrecovered, refunded_minor)"
            " SELECT 1, 1 + (n * 7919) % $2, 'c', 'o' || n, 'EUR', price * qty,"
            " json_build_array(json_build_object('sku', 'SKU-' || n % 50, 'quantity', qty,"
            " 'unit_price_minor', price, 'category', 'cat'))::jsonb, 'x', price * qty / 100,"
            " $1::timestamptz + make_interval(secs => n * 31536000.0 / $3), now(), '{}'::jsonb,"
            " 'PLACED', '{}'::jsonb, 0, 0, 0, 0, 0, 0"
            " FROM (SELECT n, 500 + (n * 104729) % 19500 AS price, 1 + n % 3 AS qty"
            "       FROM generate_series(1::bigint, $3::bigint) AS n) AS g",
            START,
            members,
            orders,
        )
        await conn.execute("ANALYZE orders")
    finally:
        await conn.close()


@asynccontextmanager
async def seeded_for_backtest(url: str, members: int, orders: int) -> AsyncIterator[None]:
    """A fresh database with the program ("bench") and its orders; checked after the block that
    the backtest wrote nothing to the ledger."""
    async with fresh_database(url):
        await configure("bench")
        started = time.perf_counter()
        await seed_orders(url, members, orders)
        log(
            f"seeded {orders} orders for {members} members in {time.perf_counter() - started:.1f} s"
        )
        yield
        row = await fetch_one(connection(), "SELECT COUNT(*) AS n FROM ledger_transactions", ())
        assert row is not None and int(row["n"]) == 0, "a backtest wrote to the ledger"


@dataclass(frozen=True)
class Floor:
    """Reading and decoding the period's orders page by page, evaluating nothing."""

    orders: int
    seconds: float
    cpu: float


async def read_floor() -> Floor:
    started, cpu_started = time.perf_counter(), time.process_time()
    read = 0
    async for page in backtests._orders(1, START, END):
        read += len(page)
    return Floor(read, time.perf_counter() - started, time.process_time() - cpu_started)


def report_backtest(
    result: backtests.BacktestResult, seconds: float, cpu: float, floor: Floor, what: str
) -> None:
    """The backtest against its floor (wall and CPU), projected to 1,000,000 orders."""
    rate = result.orders / max(seconds, 1e-9)
    log(
        f"{what} of {result.orders} orders ({result.members} members) over 12 months:"
        f" {seconds:.1f} s wall = {rate:.0f} orders/s; {cpu:.1f} s CPU; peak"
        f" {peak_mib():.0f} MiB"
    )
    log(
        f"floor (reading and decoding the same {floor.orders} orders): {floor.seconds:.1f} s"
        f" wall, {floor.cpu:.1f} s CPU; {what} = {seconds / max(floor.seconds, 1e-9):.2f}x the"
        f" floor's wall time, {cpu / max(floor.cpu, 1e-9):.2f}x its CPU"
    )
    target_orders, target_seconds = 1_000_000, 60.0
    projected_wall = target_orders / max(rate, 1e-9)
    projected_cpu = cpu * target_orders / max(result.orders, 1)
    log(
        f"projected to {target_orders:,} orders: {projected_wall:.0f} s wall,"
        f" {projected_cpu:.0f} s CPU; target {target_seconds:.0f} s:"
        f" {projected_wall / target_seconds:.2f}x the target (wall),"
        f" {projected_cpu / target_seconds:.2f}x (CPU)"
    )
    log(
        f"issued: current {result.current.points_issued}, proposed"
        f" {result.proposed.points_issued}; liability {result.current.liability_points} ->"
        f" {result.proposed.liability_points}"
    )
