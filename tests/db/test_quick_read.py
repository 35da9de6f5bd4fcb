"""`quick_read`: the committed state at once, never a write in progress, never a wait for one."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app.db import execute, quick_read, quick_read_values, quick_reads
from app.services.programs.service import CreateProgramInput, create_program

NAME_OF = "SELECT name FROM programs WHERE slug = ?"


async def _program() -> None:
    await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )


async def test_a_quick_read_sees_the_last_commit_and_not_a_write_in_progress(
    db: None, backend: str
) -> None:
    await _program()
    renamed = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with in_transaction() as conn:
            await execute(conn, "UPDATE programs SET name = ? WHERE slug = ?", ("Renamed", "shop"))
            renamed.set()
            await release.wait()

    writing = asyncio.create_task(writer())
    await renamed.wait()
    # On SQLite an ordinary read would queue behind the open transaction; this one answers.
    during = await asyncio.wait_for(quick_read(NAME_OF, ("shop",)), timeout=5)
    release.set()
    await writing
    after = await quick_read(NAME_OF, ("shop",))
    assert during == [{"name": "Shop"}]
    assert after == [{"name": "Renamed"}]


async def test_inside_a_transaction_a_quick_read_sees_its_own_writes(
    db: None, backend: str
) -> None:
    await _program()
    async with in_transaction() as conn:
        await execute(conn, "UPDATE programs SET name = ? WHERE slug = ?", ("Mine", "shop"))
        inside = await quick_read(NAME_OF, ("shop",))
    assert inside == [{"name": "Mine"}]


class _LockedConnection:
    def execute(self, *args: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")


class _LockedWhileFetching:
    """SQLite may report the lock at a later step of the statement, while rows are fetched."""

    def execute(self, *args: Any) -> Any:
        return self

    def fetchall(self) -> Any:
        raise sqlite3.OperationalError("database is locked")


@pytest.mark.parametrize("locked", [_LockedConnection, _LockedWhileFetching])
async def test_a_locked_sqlite_file_sends_the_read_through_tortoise(
    db: None, backend: str, monkeypatch: pytest.MonkeyPatch, locked: type
) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL reads always go through Tortoise: there is no second connection")
    await _program()
    monkeypatch.setattr(quick_reads._quick_reader, "connection_for", lambda client: locked())
    assert await quick_read(NAME_OF, ("shop",)) == [{"name": "Shop"}]
    assert await quick_read_values(NAME_OF, ("shop",)) == [("Shop",)]


async def test_values_come_in_the_statement_s_column_order(db: None, backend: str) -> None:
    await _program()
    statement = "SELECT currency, slug, name FROM programs WHERE slug = ?"
    assert await quick_read_values(statement, ("shop",)) == [("EUR", "shop", "Shop")]
    assert await quick_read(statement, ("shop",)) == [
        {"currency": "EUR", "slug": "shop", "name": "Shop"}
    ]
    async with in_transaction():  # through Tortoise
        assert await quick_read_values(statement, ("shop",)) == [("EUR", "shop", "Shop")]
