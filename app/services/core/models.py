"""Cold paths (configuration, admin CRUD) read and write through the Tortoise models.

The records a service hands out are made from rows, whichever way the row was read: the hot
paths' hand-written SQL (`fetch_one`) or a queryset's `.values(*columns)`. These helpers give
the queryset side the same dict, so one mapper per record serves both. Hot paths keep their SQL
in the capability's own module (docs/decisions/0002-data-access.md says when and why).
"""

from __future__ import annotations

from collections.abc import Sequence
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
