"""`app.db.in_transaction`: a transaction cancelled while it starts gives back what it took,
and a commit observer (`observe_commits`, how the audit log joins admin writes) writes inside
the transactions it observes.

Tortoise's own context, cancelled between taking SQLite's transaction lock (or a pooled
PostgreSQL connection) and the end of BEGIN, keeps them: on SQLite every later statement would
wait for ever. A request's timeout cancels at any moment, so this one must not.

On SQLite a transaction begins with the write lock: one that read and then wrote after another
connection (another process) had committed was refused at once with "database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from typing import Any

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    connection,
    execute,
    fetch_all,
    fetch_one,
    in_transaction,
    observe_commits,
    utc_now,
)
from app.services.core.outbox_signal import OUTBOX_SIGNAL
from app.services.programs.service import CreateProgramInput, create_program


async def _transaction_client_class() -> Any:
    """The class of the client `in_transaction` hands to its block (on SQLite not Tortoise's
    own: it begins with the write lock)."""
    async with in_transaction() as conn:
        return type(conn)


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
    client_class = await _transaction_client_class()
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
    # The NOTIFY that the program's creation sends after its commit may still hold one.
    await OUTBOX_SIGNAL.settled()
    assert _pooled_connections_in_use() == 0, "no pooled connection may be kept"


async def test_a_sqlite_transaction_writes_after_reading_while_another_connection_writes(
    db: None, backend: str, database_url: str
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the database: a write never has to upgrade")
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    path = database_url.removeprefix("sqlite://")
    rename = "UPDATE programs SET name = ? WHERE slug = 'shop'"
    with closing(
        sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    ) as other:
        async with asyncio.timeout(10):
            async with in_transaction() as conn:
                await fetch_one(conn, "SELECT name FROM programs WHERE slug = ?", ("shop",))
                # The other connection's write waits for this transaction's commit (or, with a
                # deferred BEGIN, commits at once, after this transaction's read).
                other_write = asyncio.create_task(
                    asyncio.to_thread(other.execute, rename, ("Other",))
                )
                await asyncio.wait({other_write}, timeout=0.3)
                await execute(conn, rename, ("Ours",))
            await other_write
    row = await fetch_one(connection(), "SELECT name FROM programs WHERE slug = ?", ("shop",))
    assert row is not None and row["name"] == "Other"


class _Observer:
    """Logs the program's name, as it sees it just before COMMIT, in the audit log."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[str] = []
        self.commits = 0

    async def before_commit(self, conn: BaseDBAsyncClient) -> None:
        row = await fetch_one(conn, "SELECT name FROM programs WHERE slug = ?", ("shop",))
        assert row is not None
        self.seen.append(str(row["name"]))
        if self.fail:
            raise RuntimeError("the observer failed")
        await execute(
            conn,
            "INSERT INTO audit_log (api_key_id, operation, input, succeeded, request_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (0, row["name"], "{}", True, "r", utc_now()),
        )

    def committed(self) -> None:
        self.commits += 1


async def _rename(name: str) -> None:
    async with in_transaction() as conn:
        await execute(conn, "UPDATE programs SET name = ? WHERE slug = ?", (name, "shop"))


async def _name() -> str:
    row = await fetch_one(connection(), "SELECT name FROM programs WHERE slug = ?", ("shop",))
    assert row is not None
    return str(row["name"])


async def _logged() -> list[str]:
    rows = await fetch_all(connection(), "SELECT operation FROM audit_log ORDER BY id")
    return [str(row["operation"]) for row in rows]


async def test_a_commit_observer_writes_inside_each_outermost_transaction(db: None) -> None:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    observer = _Observer()

    with observe_commits(observer):
        await _rename("First")
        async with in_transaction():
            await _rename("Nested")  # a savepoint: nothing to observe yet
            await _rename("Outer")
        with pytest.raises(RuntimeError, match="rolled back"):
            async with in_transaction() as conn:
                await execute(conn, "UPDATE programs SET name = 'Lost' WHERE slug = 'shop'")
                raise RuntimeError("rolled back")
    await _rename("Unobserved")

    assert observer.seen == ["First", "Outer"]
    assert observer.commits == 2
    assert await _name() == "Unobserved"
    assert await _logged() == ["First", "Outer"]


async def test_a_failing_commit_observer_rolls_the_transaction_back(db: None) -> None:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    observer = _Observer(fail=True)

    with observe_commits(observer), pytest.raises(RuntimeError, match="observer failed"):
        await _rename("Lost")

    assert observer.seen == ["Lost"]
    assert observer.commits == 0
    assert await _name() == "Shop"
    assert await _logged() == []
    # The lock or connection was given back: the next transaction commits at once.
    async with asyncio.timeout(5):
        await _rename("Kept")
    assert await _name() == "Kept"
    # (counted once the NOTIFY that the commit sends afterwards, on a connection of its own,
    # has settled)
    await OUTBOX_SIGNAL.settled()
    assert _pooled_connections_in_use() == 0
