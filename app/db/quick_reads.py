"""Quick reads: small indexed reads outside transactions, on SQLite straight from a read-only
connection of their own."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.sqlite.client import SqliteClient

from app.db.client import connection
from app.db.sql import fetch_all


class _SqliteQuickReader:
    """A second connection to the SQLite file for `quick_read`: queried on the event loop's
    own thread, in WAL mode it sees the last committed state and never waits for a writer.

    aiosqlite hands each statement to its worker thread and the answer back: about 100 µs of
    CPU per statement, where an indexed lookup of one member or ten activities takes 5-10 µs
    in SQLite itself. And Tortoise's one SQLite connection queues every statement behind any
    open write transaction, so a storefront's read waited for whole orders to commit.
    """

    # Never block the event loop waiting for a lock: give the statement to aiosqlite instead.
    BUSY_TIMEOUT_SECONDS = 0.0

    def __init__(self) -> None:
        self._client: BaseDBAsyncClient | None = None
        self._connection: sqlite3.Connection | None = None

    def connection_for(self, client: BaseDBAsyncClient) -> sqlite3.Connection | None:
        path = getattr(client, "filename", None)
        if not isinstance(path, str) or path == ":memory:" or path.startswith("file::memory:"):
            return None
        # One reader per Tortoise client: a new client (Tortoise set up again, as tests do) may
        # name a new file at the same path.
        if client is not self._client or self._connection is None:
            if self._connection is not None:
                self._connection.close()
            connection = sqlite3.connect(
                path,
                timeout=self.BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA query_only = ON")
            self._client, self._connection = client, connection
        return self._connection


_quick_reader = _SqliteQuickReader()
_SQL_LOG = logging.getLogger("tortoise.db_client")


async def quick_read(statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """`fetch_all` on the default connection, for indexed reads of a few rows outside any
    transaction (what a storefront asks for on every page). On SQLite they run at once on a
    read-only connection of their own; on PostgreSQL, and whenever SQLite reports a lock,
    they go through Tortoise like any other read."""
    read = _read_at_once(statement, params)
    if read is None:
        return await fetch_all(connection(), statement, params)
    description, rows = read
    names = [column[0] for column in description]
    return [dict(zip(names, row, strict=True)) for row in rows]


async def fetch_all_quick(
    client: BaseDBAsyncClient, statement: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """`fetch_all`, as a `quick_read` when `client` is the process's own outside any
    transaction: for the small indexed reads a write path makes before its transaction, which
    on SQLite would otherwise wait for the transactions being committed."""
    if client is connection():
        return await quick_read(statement, params)
    return await fetch_all(client, statement, params)


async def quick_read_values(statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """`quick_read` with each row as the tuple of its values, in the statement's column order
    (no dict per row: for rows that are looked up in a cache by their values). The columns'
    names must differ: through Tortoise each row comes as a dict first."""
    read = _read_at_once(statement, params)
    if read is None:
        return [tuple(row.values()) for row in await fetch_all(connection(), statement, params)]
    return read[1]


def _read_at_once(
    statement: str, params: Sequence[Any]
) -> tuple[Sequence[Sequence[Any]], list[tuple[Any, ...]]] | None:
    """The cursor's description (a name first in each column's entry) and the rows from SQLite's
    quick reader, or None where the statement must go through Tortoise (PostgreSQL, a
    transaction, an in-memory database, a lock)."""
    client = connection()
    if not isinstance(client, SqliteClient) or isinstance(client, TransactionalDBClient):
        return None
    reader = _quick_reader.connection_for(client)
    if reader is None:
        return None
    # Logged where Tortoise logs its own statements, so SQL traces show these too.
    if _SQL_LOG.isEnabledFor(logging.DEBUG):
        _SQL_LOG.debug("%s: %s", statement, list(params))
    try:
        cursor = reader.execute(statement, tuple(params))
        rows = cursor.fetchall()
    except sqlite3.OperationalError as error:
        if not _is_lock_error(error):
            raise
        return None
    return cursor.description, rows


def _is_lock_error(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message
