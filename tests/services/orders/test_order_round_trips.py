"""What one recorded order costs the database, counted: on SQLite the hops to aiosqlite's thread
(each a queue and a thread switch, whatever the statements it runs), on PostgreSQL the round
trips to the server (BEGIN and COMMIT included). docs/performance.md's write-path table quotes
these counts; the test keeps them from growing back unnoticed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import asyncpg
import pytest

from app.db import connection, fetch_all
from app.services.core.outbox_signal import OUTBOX_SIGNAL
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

_ASYNCPG_CALLS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")

# Hops (SQLite) or round trips (PostgreSQL) of one order, without and with an idempotency key.
EXPECTED = {
    "sqlite": {"plain": 7, "keyed": 8},
    "postgres": {"plain": 9, "keyed": 10},
}


class _Count:
    def __init__(self) -> None:
        self.calls = 0


@contextmanager
def counting_database_calls() -> Iterator[_Count]:
    """Every call that crosses to the database: aiosqlite's `_execute` (one hop to its thread)
    and asyncpg's query methods (one round trip each; a transaction's BEGIN and COMMIT go
    through `execute`)."""
    count = _Count()
    originals: list[tuple[type, str, Any]] = []

    def counted(owner: type, name: str) -> None:
        original = getattr(owner, name)

        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            count.calls += 1
            return await original(self, *args, **kwargs)

        originals.append((owner, name, original))
        setattr(owner, name, wrapper)

    counted(aiosqlite.Connection, "_execute")
    for name in _ASYNCPG_CALLS:
        counted(asyncpg.connection.Connection, name)
    try:
        yield count
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def _order(order_id: str, key: str | None) -> RecordOrderInput:
    return RecordOrderInput(
        program_slug="shop",
        customer_id="customer-1",
        order_id=order_id,
        currency="EUR",
        total_minor=2_000,
        lines=[OrderLineInput(sku="SKU-1", quantity=2, unit_price_minor=1_000)],
        placed_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        idempotency_key=key,
    )


async def _calls_of(order_id: str, key: str | None) -> int:
    # Nor the NOTIFY that the last order sent after its commit.
    await OUTBOX_SIGNAL.settled()
    with counting_database_calls() as count:
        recorded = await record_order(_order(order_id, key), None)
    assert not recorded.already_recorded
    assert recorded.order.points_earned == 20
    return count.calls


@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "keyed"])
async def test_an_order_costs_the_counted_hops_or_round_trips(
    db: None, backend: str, keyed: bool
) -> None:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    await enroll_member(EnrollMemberInput("shop", "customer-1"), None)
    # The first order warms the process's caches (the program's configuration, the day's
    # rollup shard): the second is what every later order costs.
    await _calls_of("order-warm", "key-warm" if keyed else None)
    calls = await _calls_of("order-counted", "key-counted" if keyed else None)
    print(f"{backend} {'keyed' if keyed else 'plain'}: {calls} database calls per order")
    events = await fetch_all(connection(), "SELECT type FROM outbox_events ORDER BY id", ())
    assert [row["type"] for row in events][-2:] == ["points.earned", "order.recorded"]
    assert calls <= EXPECTED[backend]["keyed" if keyed else "plain"]
