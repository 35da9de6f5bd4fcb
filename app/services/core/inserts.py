"""One way to insert a row and read it back as its record.

The statement is made from the values' names, so the column list, the placeholders and the
values cannot fall out of step, and the record is read through the mapper's own column list
(app/rows.py), so it cannot drift from its dataclass either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import fetch_one
from app.rows import RowMapper

RecordT = TypeVar("RecordT")


def insert_statement(table: str, columns: tuple[str, ...], returning: str) -> str:
    """`INSERT INTO table (columns) VALUES (?, …) RETURNING returning`."""
    placeholders = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {returning}"
    )


async def insert_returning(
    conn: BaseDBAsyncClient,
    table: str,
    values: Mapping[str, Any],
    record: RowMapper[RecordT],
) -> RecordT:
    """Insert one row of `table` with `values` (column name to value, already in the form the
    column stores) and return it as `record` reads it."""
    row = await fetch_one(
        conn, insert_statement(table, tuple(values), record.columns), tuple(values.values())
    )
    assert row is not None
    return record(row)
