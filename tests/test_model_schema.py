"""Every Tortoise model matches the table the migrations build, on both backends.

The admin paths read and write through the models (docs/decisions/0002-data-access.md), so a
column added to a migration but not to its model, or the other way round, must fail here and
not at the first request that names it. Compared: each table's columns and which of them may
be NULL.
"""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import connections
from tortoise.models import Model

# column -> whether it may be NULL
Columns = dict[str, bool]
# Columns the database fills itself and no model names, per backend and table.
DATABASE_ONLY: dict[tuple[str, str], set[str]] = {
    # The writer's transaction id, set by its default (migration 0002): outbox readers skip
    # events of transactions still running.
    ("postgres", "outbox_events"): {"writer_xid"},
}


def _models() -> list[type[Model]]:
    return sorted(Tortoise.apps["models"].values(), key=lambda model: model._meta.db_table)


def _model_columns(model: type[Model]) -> Columns:
    meta = model._meta
    return {
        column: bool(meta.fields_map[name].null)
        for name, column in meta.fields_db_projection.items()
    }


async def _live_columns(conn: BaseDBAsyncClient, backend: str, table: str) -> Columns:
    if backend == "sqlite":
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
        return {row["name"]: not row["notnull"] and not row["pk"] for row in rows}
    rows = await conn.execute_query_dict(
        "SELECT column_name, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = $1",
        [table],
    )
    return {row["column_name"]: row["is_nullable"] == "YES" for row in rows}


async def test_every_model_matches_its_migrated_table(db: None, backend: str) -> None:
    conn: BaseDBAsyncClient = connections.get("default")
    mismatches = {}
    for model in _models():
        table = model._meta.db_table
        expected = _model_columns(model)
        live = await _live_columns(conn, backend, table)
        for column in DATABASE_ONLY.get((backend, table), set()):
            live.pop(column)
        if live != expected:
            mismatches[table] = {
                column: (expected.get(column, "absent"), live.get(column, "absent"))
                for column in sorted(expected.keys() | live.keys())
                if expected.get(column) != live.get(column)
            }

    # table -> column -> (the model's nullability, the table's), "absent" where one lacks it
    assert mismatches == {}
