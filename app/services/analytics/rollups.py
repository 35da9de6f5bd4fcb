"""Daily rollups kept in the transaction of the write they count (app/domain/analytics.py
names the metrics).

Each counted write adds to its rows with one upsert (`add`), in its own transaction: a rollup
never disagrees with what committed. On PostgreSQL each connection adds to its own shard of a
row (`pg_backend_pid() % 64`), so concurrent writes of one day do not queue on one row lock;
readers sum the shards. The day is the program's local date of the moment the
write counts (an order's placed_at, a journal transaction's or an enrolment's time). The
program's time zone is cached per process for a minute (`ZONE_TTL_SECONDS`): a change of zone
applies to later writes, and `laurel analytics rebuild` recomputes the days written before it
in the new zone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from app.clock import process_now
from app.db import execute, fetch_one, is_postgres
from app.domain.analytics import (
    CUSTOMER_ENROLLED,
    CUSTOMER_METRICS,
    CUSTOMER_ORDERS,
    CUSTOMER_REVENUE,
    LATE_WRITES,
    ORDERS,
    REFUNDED,
    REVENUE,
    REWARDS_REDEEMED,
    REWARDS_VALUE,
    guest_key,
    is_late,
    member_key,
    month_of,
    order_dimension,
)
from app.domain.expiry import local_date
from app.domain.money import convert_minor

ZONE_TTL_SECONDS = 60.0
_zones: dict[int, tuple[str, float]] = {}

# (metric, dimension) -> amount to add
Counts = Mapping[tuple[str, str], int]


def forget_zone(program_id: int) -> None:
    """Called when the program's time zone changes in this process."""
    _zones.pop(program_id, None)


def forget_zones() -> None:
    """For a process that moves to another database (tests): program ids start again."""
    _zones.clear()


async def program_zone(conn: BaseDBAsyncClient, program_id: int) -> str:
    cached = _zones.get(program_id)
    if cached is not None and time.monotonic() - cached[1] < ZONE_TTL_SECONDS:
        return cached[0]
    row = await fetch_one(conn, "SELECT time_zone FROM programs WHERE id = ?", (program_id,))
    assert row is not None
    zone = str(row["time_zone"])
    _zones[program_id] = (zone, time.monotonic())
    return zone


async def day_of(conn: BaseDBAsyncClient, program_id: int, moment: datetime) -> date:
    return local_date(moment, await program_zone(conn, program_id))


async def add(conn: BaseDBAsyncClient, program_id: int, day: date, counts: Counts) -> None:
    """Add `counts` to the program's rows of `day`, creating them; one statement."""
    await add_rows(conn, program_id, [(day, *key, amount) for key, amount in counts.items()])


# (day, metric, dimension, amount to add)
Row = tuple[date, str, str, int]


def rows_of(day: date, counts: Counts) -> tuple[Row, ...]:
    return tuple((day, *key, amount) for key, amount in counts.items())


async def add_rows(conn: BaseDBAsyncClient, program_id: int, rows: Sequence[Row]) -> None:
    """Add to the program's rows of any days, creating them; one statement (a write that
    moves several counters, such as an order and its points, pays for one upsert)."""
    upsert = upsert_statement(conn, program_id, rows)
    if upsert is not None:
        await execute(conn, *upsert)


# The metrics the closed-period summaries read (app/services/analytics/summaries.py).
_SUMMARISED = frozenset((*CUSTOMER_METRICS, CUSTOMER_ENROLLED))


def upsert_statement(
    conn: BaseDBAsyncClient, program_id: int, rows: Sequence[Row]
) -> tuple[str, list[object]] | None:
    """`add_rows`'s statement and parameters (None when nothing changes), for a caller that
    runs it as part of a statement of its own (a PostgreSQL data-modifying CTE)."""
    merged: dict[tuple[date, str, str], int] = {}
    for day, metric, dimension, amount in rows:
        # One row per key: PostgreSQL refuses an upsert that touches a row twice.
        merged[(day, metric, dimension)] = merged.get((day, metric, dimension), 0) + amount
    # A late write to a month's customer-activity rows marks the month stale, in the same
    # statement (writes of the current month, nearly all of them, add nothing).
    # The process's clock: an import replaying history writes late even as of its own time.
    today = process_now().date()
    for month in {
        day
        for (day, metric, _), amount in merged.items()
        if amount != 0 and metric in _SUMMARISED and is_late(day, today)
    }:
        merged[(month, LATE_WRITES, "")] = 1
    # Sorted: every statement locks its rows in one order (no deadlock between two writes).
    items = sorted((*key, amount) for key, amount in merged.items() if amount != 0)
    if not items:
        return None
    # PostgreSQL: the connection's shard of each row (see AnalyticsDay); SQLite has one writer.
    shard = "pg_backend_pid() % 64" if is_postgres(conn) else "0"
    values = ", ".join(f"(?, ?, ?, ?, ?, {shard})" for _ in items)
    params: list[object] = []
    for day, metric, dimension, amount in items:
        params += [program_id, day, metric, dimension, amount]
    return (
        "INSERT INTO analytics_days (program_id, day, metric, dimension, value, shard)"
        f" VALUES {values} ON CONFLICT (program_id, day, metric, dimension, shard)"
        " DO UPDATE SET value = analytics_days.value + excluded.value",
        params,
    )


def in_program_currency(
    amount_minor: int, currency: str, program_currency: str, exchange_rate: str | None
) -> int:
    """Money of an order in the program's currency, converted at the order's stored rate."""
    if exchange_rate is None or currency == program_currency:
        return amount_minor
    return convert_minor(amount_minor, currency, program_currency, Decimal(exchange_rate))


def order_counts(
    *,
    member: bool,
    channel: str | None,
    orders: int,
    revenue_minor: int,
    refunded_minor: int,
) -> dict[tuple[str, str], int]:
    dimension = order_dimension(member, channel)
    return {
        (ORDERS, dimension): orders,
        (REVENUE, dimension): revenue_minor,
        (REFUNDED, dimension): refunded_minor,
    }


def customer_key(member_id: int | None, customer_id: str | None) -> str:
    """The key of an order's customer in the customer-activity rows."""
    if member_id is not None:
        return member_key(member_id)
    return guest_key(customer_id or "")


def customer_order_rows(day: date, key: str, orders: int, revenue_minor: int) -> tuple[Row, ...]:
    """An order's customer-activity rows (its month, its customer), to ride on the upsert of
    the order's day rows."""
    month = month_of(day)
    return ((month, CUSTOMER_ORDERS, key, orders), (month, CUSTOMER_REVENUE, key, revenue_minor))


def reward_rows(
    day: date, kind: str, value_minor: int | None, currency: str | None, program_currency: str
) -> tuple[Row, ...]:
    """A redeemed reward's rows of its day: one more of its kind, and its value when it is in
    the program's currency."""
    value = value_minor if value_minor is not None and currency == program_currency else 0
    return ((day, REWARDS_REDEEMED, kind, 1), (day, REWARDS_VALUE, kind, value))
