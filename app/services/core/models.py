"""Cold paths (configuration, admin CRUD) read and write through the Tortoise models.

The records a service hands out are made from rows, whichever way the row was read: the hot
paths' hand-written SQL (`fetch_one`) or a queryset's `.values(*columns)`. These helpers give
the queryset side the same dict, so one mapper per record serves both. Hot paths keep their SQL
in the capability's own module (docs/decisions/0002-data-access.md says when and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


async def read_row(
    model: type[Model], conn: BaseDBAsyncClient, columns: Sequence[str], **filters: Any
) -> dict[str, Any] | None:
    """The one row of `model` matching `filters`, as `{column: value}`, read on `conn`."""
    rows = await model.filter(**filters).using_db(conn).values(*columns)
    return rows[0] if rows else None


def row_of(instance: Model, columns: Sequence[str]) -> dict[str, Any]:
    """A model instance just saved, as the row its record is made from."""
    return {column: getattr(instance, column) for column in columns}


async def create_rule(
    model: type[Model],
    conn: BaseDBAsyncClient,
    columns: Sequence[str],
    *,
    program_id: int,
    now: datetime,
    **definition: Any,
) -> dict[str, Any]:
    """A new rule of a program (an earning or an action rule), in force from `now`, as its row."""
    created = await model.create(
        using_db=conn,
        **definition,
        program_id=program_id,
        paused=False,
        created_at=now,
        updated_at=now,
    )
    return row_of(created, columns)


async def update_row(
    model: type[Model],
    conn: BaseDBAsyncClient,
    columns: Sequence[str],
    row_id: int,
    **changes: Any,
) -> dict[str, Any] | None:
    """Change row `row_id` of `model` and read it back on `conn`; None when there is no such row."""
    if not await model.filter(id=row_id).using_db(conn).update(**changes):
        return None
    return await read_row(model, conn, columns, id=row_id)
