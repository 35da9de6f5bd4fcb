"""`app.db.in_transaction`: a transaction cancelled while it starts gives back what it took.

Tortoise's own context, cancelled between taking SQLite's transaction lock (or a pooled
PostgreSQL connection) and the end of BEGIN, keeps them: on SQLite every later statement would
wait for ever. A request's timeout cancels at any moment, so this one must not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.transactions import in_transaction as tortoise_in_transaction

from app.db import connection, execute, fetch_one, in_transaction
from app.services.programs.service import CreateProgramInput, create_program


def _transaction_client_class() -> Any:
    context: Any = tortoise_in_transaction()
    client = getattr(context, "connection", None) or context.client
    return type(client)


def _pooled_connections_in_use() -> int:
    pool = getattr(connection(), "_pool", None)  # PostgreSQL's; SQLite has none
    return 0 if pool is None else int(pool.get_size() - pool.get_idle_size())


async def test_a_transaction_cancelled_while_it_begins_releases_its_lock_or_connection(
    db: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    beginning = asyncio.Event()
    client_class = _transaction_client_class()
    begin = client_class.begin

    async def slow_begin(self: Any) -> None:
        beginning.set()
        await asyncio.Event().wait()  # a BEGIN that has not come back when the timeout hits

    monkeypatch.setattr(client_class, "begin", slow_begin)

    async def write() -> None:
        async with in_transaction() as conn:
            await execute(conn, "UPDATE programs SET name = ? WHERE slug = ?", ("Lost", "shop"))

    for _ in range(3):
        beginning.clear()
        writing = asyncio.create_task(write())
        await asyncio.wait_for(beginning.wait(), timeout=5)
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing

    monkeypatch.setattr(client_class, "begin", begin)
    # The next transaction starts at once (on SQLite the lock was given back), and commits.
    async with asyncio.timeout(5):
        async with in_transaction() as conn:
            await execute(conn, "UPDATE programs SET name = ? WHERE slug = ?", ("Kept", "shop"))
        row = await fetch_one(connection(), "SELECT name FROM programs WHERE slug = ?", ("shop",))
    assert row is not None and row["name"] == "Kept"
    assert _pooled_connections_in_use() == 0, "no pooled connection may be kept"
