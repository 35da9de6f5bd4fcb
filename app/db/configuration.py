"""The database's configuration: Tortoise's settings for SQLite and PostgreSQL, setting up and
closing the connections, the migrations, and the process's client."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate

from app.config import Settings
from app.db.group_commit import group_commit_settings

MODEL_MODULES = ["app.models"]
MIGRATIONS_PACKAGE = "app.migrations"


def is_sqlite_url(database_url: str) -> bool:
    return database_url.startswith("sqlite://")


def _with_sqlite_pragmas(database_url: str, synchronous: str) -> str:
    parts = urlsplit(database_url)
    query = parts.query
    if "synchronous=" not in query:
        query = f"{query}&synchronous={synchronous}" if query else f"synchronous={synchronous}"
    # SQLite waits for a writer from another process (the CLI beside the server) instead of
    # failing at once with "database is locked".
    if "busy_timeout=" not in query:
        query = f"{query}&busy_timeout=5000"
    return f"{database_url.split('?', 1)[0]}?{query}"


def _with_pool_size(database_url: str, pool_size: int) -> str:
    if "maxsize=" in database_url:
        return database_url
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}minsize=1&maxsize={pool_size}"


def normalise_url(database_url: str) -> str:
    """Accept the usual `postgresql://` spelling as well as Tortoise's `postgres://`."""
    for prefix in ("postgresql://", "postgresql+asyncpg://", "asyncpg://"):
        if database_url.startswith(prefix):
            return "postgres://" + database_url[len(prefix) :]
    return database_url


@cache
def _no_reset_connection_class() -> type:
    """An asyncpg connection returned to the pool without its session-reset round trip.

    asyncpg resets every connection it takes back (advisory locks, cursors, LISTEN, settings):
    one more round trip per checkout, and Tortoise checks out once per statement outside
    transactions; the benchmark put it at 12-15% of a PostgreSQL worker's time. Laurel keeps no
    session state: advisory locks are transaction-level (`pg_advisory_xact_lock`), except the
    job runner's, which always unlocks before it returns the connection (app/jobs/runner.py),
    and no code runs SET, LISTEN or DECLARE. asyncpg still rolls back any open transaction on
    release.
    Imported here because asyncpg is only installed with the `postgres` extra.
    """
    import asyncpg

    class NoResetConnection(asyncpg.Connection):  # type: ignore[misc]
        def get_reset_query(self) -> str:
            return ""

    return NoResetConnection


def tortoise_config(settings: Settings, *, serving_requests: bool = False) -> dict[str, Any]:
    """Tortoise's configuration. `serving_requests`: the server's connections, whose statements
    stop at the request time limit; migrations, jobs and the CLI run without one."""
    url = normalise_url(settings.database_url)
    connection: str | dict[str, Any]
    if is_sqlite_url(url):
        group_commit_settings.limit = settings.sqlite_group_commit
        sqlite_path = url.removeprefix("sqlite://").split("?", 1)[0]
        if sqlite_path != ":memory:":
            Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        connection = _with_sqlite_pragmas(url, settings.sqlite_synchronous)
    else:
        connection = expand_db_url(_with_pool_size(url, settings.postgres_pool_size))
        connection["credentials"]["connection_class"] = _no_reset_connection_class()
        # Which process holds a connection, as pg_stat_activity shows it (several workers).
        connection["credentials"]["server_settings"] = {"application_name": f"laurel {os.getpid()}"}
        if serving_requests:
            # A statement that runs past the request's own time limit is stopped by the server
            # too, so a cancelled request leaves no query behind holding locks.
            connection["credentials"]["server_settings"]["statement_timeout"] = str(
                int(settings.request_timeout_seconds * 1000)
            )
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_PACKAGE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings) -> None:
    await Tortoise.init(config=tortoise_config(settings))


async def close_db() -> None:
    await Tortoise.close_connections()


async def apply_migrations(settings: Settings) -> None:
    """Bring the schema up to date; safe to run on every start."""
    await migrate(config=tortoise_config(settings))
