"""Fixtures that run every database test on SQLite and on PostgreSQL.

A test that wants a database asks for `db` (Tortoise initialised on a fresh, migrated, empty
database), or for `settings` / `database_url` when it initialises Tortoise itself. All three
depend on `backend`, which is parametrized, so each such test runs twice: `[sqlite]` and
`[postgres]`.

PostgreSQL comes from `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
That database is only used as an admin connection to create and drop per-run databases named
`laurel_test_<pid>_...`. When PostgreSQL is unreachable the `[postgres]` tests are skipped, or
fail when `REQUIRE_POSTGRES=1` (CI).

Speed: migrations run once per session per backend into a template (an SQLite file, a
PostgreSQL template database); each test gets a copy (file copy / `CREATE DATABASE ... TEMPLATE`).
The ledger tables refuse UPDATE, DELETE and TRUNCATE, so databases are never cleaned in place.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise import Tortoise

from app import db as app_db
from app.config import Settings

DEFAULT_TEST_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgres"]
PROBE_TIMEOUT_SECONDS = 3.0


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES") == "1"


def redact_url(url: str) -> str:
    """The URL without its password, fit for a skip reason or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _close_tortoise() -> None:
    """Close every Tortoise connection, even after a failed test.

    An aiosqlite connection left open keeps its worker thread alive and the process hangs on
    exit; a PostgreSQL pool left open blocks DROP DATABASE.
    """
    await Tortoise.close_connections()


async def _migrate(settings: Settings) -> None:
    try:
        await app_db.apply_migrations(settings)
    finally:
        await _close_tortoise()


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass
class _PostgresProbe:
    url: str
    error: str | None


@pytest.fixture(scope="session")
async def postgres_probe() -> _PostgresProbe:
    """Whether TEST_POSTGRES_URL accepts a connection, checked once per session."""
    url = postgres_admin_url()
    try:
        connection = await asyncpg.connect(url, timeout=PROBE_TIMEOUT_SECONDS)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return _PostgresProbe(url=url, error=f"{type(exc).__name__}: {exc}")
    await connection.close()
    return _PostgresProbe(url=url, error=None)


class _Templates:
    """Migrated templates, made on first use, and every database this run created.

    Migrations run once per session per backend; each test then gets a copy. PostgreSQL
    databases created here are dropped at the end of the session, whatever happened.
    """

    def __init__(self, probe: _PostgresProbe, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.probe = probe
        self.tmp_path_factory = tmp_path_factory
        self.prefix = f"laurel_test_{os.getpid()}"
        self.counter = itertools.count(1)
        self._sqlite_template: Path | None = None
        self._admin: asyncpg.Connection | None = None
        self._postgres_template: str | None = None
        self._created: set[str] = set()

    # SQLite

    async def sqlite_template(self) -> Path:
        if self._sqlite_template is None:
            directory = self.tmp_path_factory.mktemp("sqlite-template")
            migrated = directory / "migrated.sqlite3"
            await _migrate(Settings(database_url=f"sqlite://{migrated}"))
            template = directory / "template.sqlite3"
            # One self-contained file with every committed page, whatever the journal mode:
            # copying a WAL database without its -wal file would lose the schema.
            with closing(sqlite3.connect(migrated)) as source:
                source.execute("VACUUM INTO ?", (str(template),))
            self._sqlite_template = template
        return self._sqlite_template

    # PostgreSQL

    async def _admin_connection(self) -> asyncpg.Connection:
        if self._admin is None:
            self._admin = await asyncpg.connect(self.probe.url, timeout=PROBE_TIMEOUT_SECONDS)
        return self._admin

    async def _execute(self, statement: str) -> None:
        admin = await self._admin_connection()
        await admin.execute(statement)

    async def _create_database(self, name: str, template: str | None = None) -> None:
        statement = f"CREATE DATABASE {_quote_ident(name)}"
        if template is not None:
            statement += f" TEMPLATE {_quote_ident(template)}"
        await self._execute(statement)
        self._created.add(name)

    async def drop_database(self, name: str) -> None:
        """Drop a database this run created; FORCE ends sessions (ours) still connected to it."""
        await self._execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        self._created.discard(name)

    async def postgres_template(self) -> str:
        if self._postgres_template is None:
            admin = await self._admin_connection()
            # Left by an earlier run that had this pid and was killed before its teardown. No
            # FORCE here: if a live run on another machine has the same pid, this fails loudly
            # instead of pulling its databases away.
            stale = await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1",
                self.prefix.replace("_", "\\_") + "\\_%",
            )
            for row in stale:
                await self._execute(f"DROP DATABASE {_quote_ident(row['datname'])}")
            template = f"{self.prefix}_template"
            await self._create_database(template)
            try:
                await _migrate(Settings(database_url=with_database(self.probe.url, template)))
            except BaseException:
                await self.drop_database(template)
                raise
            self._postgres_template = template
        return self._postgres_template

    async def postgres_database(self) -> str:
        """Create a fresh copy of the template; returns its name."""
        template = await self.postgres_template()
        name = f"{self.prefix}_{next(self.counter)}"
        await self._create_database(name, template=template)
        return name

    async def close(self) -> None:
        try:
            for name in sorted(self._created):
                await self.drop_database(name)
        finally:
            if self._admin is not None:
                await self._admin.close()
                self._admin = None


@pytest.fixture(scope="session")
async def _templates(
    postgres_probe: _PostgresProbe, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[_Templates]:
    templates = _Templates(postgres_probe, tmp_path_factory)
    try:
        yield templates
    finally:
        await templates.close()


# --- What the tests use -----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest, postgres_probe: _PostgresProbe) -> str:
    """`"sqlite"` or `"postgres"`: every test that uses a database runs once on each."""
    name: str = request.param
    if name == "postgres" and postgres_probe.error is not None:
        where = redact_url(postgres_probe.url)
        if postgres_required():
            pytest.fail(
                f"PostgreSQL not reachable at {where} ({postgres_probe.error}) and"
                " REQUIRE_POSTGRES=1: start PostgreSQL or point TEST_POSTGRES_URL at one",
                pytrace=False,
            )
        pytest.skip(
            f"PostgreSQL not reachable at {where} (set TEST_POSTGRES_URL); ran on SQLite only"
        )
    return name


@pytest.fixture
async def database_url(backend: str, _templates: _Templates, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a fresh database of `backend`, fully migrated and empty, for this test only."""
    if backend == "sqlite":
        path = tmp_path / "laurel.sqlite3"
        shutil.copyfile(await _templates.sqlite_template(), path)
        try:
            yield f"sqlite://{path}"
        finally:
            await _close_tortoise()
        return

    name = await _templates.postgres_database()
    try:
        yield with_database(_templates.probe.url, name)
    finally:
        try:
            await _close_tortoise()
        finally:
            await _templates.drop_database(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    """Tortoise initialised on the test's database; connections closed afterwards."""
    try:
        await app_db.init_db(settings)
        yield
    finally:
        await app_db.close_db()
