"""`run_together`: statements that depend on each other's rows, run in one hop to SQLite's
thread, inside the caller's transaction, with Tortoise's errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
import pytest
from tortoise.exceptions import IntegrityError

from app.db import StatementRunner, fetch_all, in_transaction, run_together
from app.services.programs.service import CreateProgramInput, create_program

NAMES = "SELECT slug, name FROM programs ORDER BY slug"


async def _program(slug: str) -> None:
    await create_program(
        CreateProgramInput(slug=slug, name=slug.title(), currency="EUR", points_per_currency_unit=1)
    )


def _rename_after(run: StatementRunner) -> str:
    """Reads a row, then writes what it read into another: the second statement needs the
    first's answer, which is what the one hop must allow."""
    name = str(run("SELECT name FROM programs WHERE slug = ?", ("shop",))[0]["name"])
    run("UPDATE programs SET name = ? WHERE slug = ?", (f"After {name}", "other"))
    return name


async def test_dependent_statements_run_in_one_hop_and_commit_with_the_transaction(
    db: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("run_together is SQLite's (PostgreSQL refuses it: the next test)")
    await _program("shop")
    await _program("other")
    hops: list[Any] = []
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    async with in_transaction() as conn:
        before = len(hops)
        read = await run_together(conn, _rename_after)
        hops_taken = len(hops) - before
    monkeypatch.undo()
    assert read == "Shop"
    assert hops_taken == 1
    names = await fetch_all(conn, NAMES)
    assert names == [{"slug": "other", "name": "After Shop"}, {"slug": "shop", "name": "Shop"}]


async def test_a_failing_statement_raises_tortoise_s_error_and_the_transaction_keeps_nothing(
    db: None, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("run_together is SQLite's")
    await _program("shop")
    await _program("other")

    def rename_then_collide(run: StatementRunner) -> None:
        run("UPDATE programs SET name = 'Renamed' WHERE slug = ?", ("shop",))
        # The slug is unique: the second statement fails after the first has written.
        run("UPDATE programs SET slug = ? WHERE slug = ?", ("shop", "other"))

    with pytest.raises(IntegrityError):
        async with in_transaction() as conn:
            await run_together(conn, rename_then_collide)
    names = await fetch_all(conn, NAMES)
    assert names == [{"slug": "other", "name": "Other"}, {"slug": "shop", "name": "Shop"}]


async def test_postgresql_refuses_it(db: None, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the refusal is PostgreSQL's; SQLite runs it (the tests above)")
    async with in_transaction() as conn:
        with pytest.raises(TypeError, match="SQLite"):
            await run_together(conn, _rename_after)
