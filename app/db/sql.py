"""Hand-written SQL on either database: `?` placeholders, rows as dicts."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError

T = TypeVar("T")


def is_postgres(client: BaseDBAsyncClient) -> bool:
    return str(client.capabilities.dialect) == "postgres"


_QMARK = re.compile(r"\?")
_POSTGRES_TEXT: dict[str, str] = {}


def _for_backend(client: BaseDBAsyncClient, statement: str) -> str:
    """Hand-written SQL uses `?` placeholders; PostgreSQL gets `$1, $2...`, cached per text."""
    if not is_postgres(client):
        return statement
    translated = _POSTGRES_TEXT.get(statement)
    if translated is None:
        counter = iter(range(1, 10_000))
        translated = _QMARK.sub(lambda _: f"${next(counter)}", statement)
        _POSTGRES_TEXT[statement] = translated
    return translated


async def fetch_all(
    client: BaseDBAsyncClient, statement: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    return await client.execute_query_dict(_for_backend(client, statement), list(params))


async def fetch_all_in(
    client: BaseDBAsyncClient, select: str, column: str, keys: Sequence[Any], order_by: str = ""
) -> list[dict[str, Any]]:
    """The rows of `select` (`SELECT ... FROM ...`) whose `column` is one of `keys`: the lookups
    of a whole page (the DataLoaders of app/graphql/loaders.py) in one statement."""
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return []
    statement = f"{select} WHERE {column} IN ({', '.join('?' * len(distinct))})"
    if order_by:
        statement += f" ORDER BY {order_by}"
    return await fetch_all(client, statement, distinct)


async def fetch_first_in(
    client: BaseDBAsyncClient,
    columns: str,
    table: str,
    column: str,
    keys: Sequence[Any],
    *,
    order_by: str,
    limit: int,
    also: str = "",
) -> list[dict[str, Any]]:
    """The first `limit` rows by `order_by` of each of `keys` in `table` (where `column` is the
    key, and ` AND ...` in `also` holds): the first page of a list for every row of a page, in
    one statement. Rows come by key, each key's in `order_by`."""
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return []
    statement = (
        f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER"
        f" (PARTITION BY {column} ORDER BY {order_by}) AS row_in_key FROM {table}"
        f" WHERE {column} IN ({', '.join('?' * len(distinct))}){also}) AS ranked"
        f" WHERE row_in_key <= ? ORDER BY {column}, {order_by}"
    )
    return await fetch_all(client, statement, [*distinct, limit])


async def fetch_one(
    client: BaseDBAsyncClient, statement: str, params: Sequence[Any] = ()
) -> dict[str, Any] | None:
    rows = await fetch_all(client, statement, params)
    return rows[0] if rows else None


async def execute(client: BaseDBAsyncClient, statement: str, params: Sequence[Any] = ()) -> int:
    """Run a statement without RETURNING and give the number of rows it changed."""
    affected, _ = await client.execute_query(_for_backend(client, statement), list(params))
    return int(affected)


async def execute_many(
    client: BaseDBAsyncClient, statement: str, rows: Sequence[Sequence[Any]]
) -> None:
    """Run one statement for each of `rows` (a prepared statement on PostgreSQL)."""
    if rows:
        await client.execute_many(_for_backend(client, statement), [list(row) for row in rows])


class StatementRunner(Protocol):
    """Runs one statement on the database's thread and gives its rows (`run_together`)."""

    def __call__(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


_SQL_LOG = logging.getLogger("tortoise.db_client")


async def run_together(client: BaseDBAsyncClient, work: Callable[[StatementRunner], T]) -> T:
    """SQLite: run `work`, which runs statements that depend on each other's rows, in one hop
    to aiosqlite's thread. Each statement handed to aiosqlite is a hop (a queue, a thread
    switch and a future back on the loop), which under load waits for a core: a ledger
    movement's four statements were four such waits. `work` runs on that thread, so it must
    only run statements and compute, never touch the event loop. Errors come as Tortoise's
    (IntegrityError, OperationalError), as they do through `fetch_all`."""
    if is_postgres(client):
        raise TypeError("run_together runs on SQLite's thread; PostgreSQL has its own statements")

    def run_on_thread(raw: sqlite3.Connection) -> T:
        def run(statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
            # Logged where Tortoise logs its own statements (statement counts, SQL traces).
            _SQL_LOG.debug("%s: %s", statement, list(params))
            return [dict(row) for row in raw.execute(statement, tuple(params)).fetchall()]

        return work(run)

    try:
        async with client.acquire_connection() as connection:
            # aiosqlite's own queue to its thread (what each of its statements goes through),
            # given one function instead of one statement.
            result: T = await connection._execute(run_on_thread, connection._conn)
            return result
    except sqlite3.IntegrityError as error:
        raise IntegrityError(error) from error
    except sqlite3.OperationalError as error:
        raise OperationalError(error) from error
