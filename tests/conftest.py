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

import asyncio
import contextvars
import itertools
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext

from app import db as app_db
from app.config import Settings
from app.services.analytics import rollups

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


@asynccontextmanager
async def _tortoise_context() -> AsyncIterator[None]:
    """A TortoiseContext for one test, closed afterwards whatever the test did.

    Tortoise 1.x keeps its state in a TortoiseContext found through a contextvar, and
    pytest-asyncio runs each fixture and the test in its own copy of the contextvars. A
    `Tortoise.init()` inside a test would create a context that no fixture teardown can see,
    and its aiosqlite worker thread would keep the process alive after pytest ends. Entering a
    context here, in the fixture, makes the test and later fixtures find and re-initialise this
    one, which the teardown then closes.
    """
    context = TortoiseContext()
    context.__enter__()
    # Tortoise keeps each model's INSERT and UPDATE text per connection name, not per
    # database: the last test's "default" may have been the other backend, with its own
    # placeholders. A server process talks to one database and never sees this.
    EXECUTOR_CACHE.clear()
    try:
        yield
    finally:
        try:
            await context.close_connections()
        finally:
            context.__exit__(None, None, None)


async def _migrate(settings: Settings) -> None:
    """Apply the migrations in a fresh, throwaway TortoiseContext."""

    async def run() -> None:
        try:
            await app_db.apply_migrations(settings)
        finally:
            await Tortoise.close_connections()

    # An empty contextvars context: the TortoiseContext that `migrate` creates stays in it.
    await asyncio.create_task(run(), context=contextvars.Context())


# --- PostgreSQL -------------------------------------------------------------------------------


@dataclass
class _PostgresProbe:
    url: str
    error: str | None


@pytest.fixture(autouse=True)
def _forget_program_zones() -> None:
    """Each test's database numbers its programs from 1 again: the rollups' cache of program
    time zones (app/services/analytics/rollups.py) must not carry one test's into the next."""
    rollups.forget_zones()


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

    Migrations run once per session per backend; each test then gets a copy. On PostgreSQL the
    copy for the next test is made, and the copy of the previous test dropped, in the
    background while a test runs (about 0.2 s per test otherwise). Every database created here
    is dropped at the end of the session, whatever happened.
    """

    def __init__(self, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.postgres_url = postgres_url
        self.tmp_path_factory = tmp_path_factory
        self.prefix = f"laurel_test_{os.getpid()}"
        self.counter = itertools.count(1)
        self._sqlite_template: Path | None = None
        self._postgres_template: str | None = None
        self._admin: asyncpg.Pool | None = None
        self._created: set[str] = set()
        self._spare: asyncio.Task[str] | None = None
        self._background: set[asyncio.Task[None]] = set()

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

    async def _admin_fetch(self, statement: str, *args: object) -> list[asyncpg.Record]:
        if self._admin is None:
            # A small pool, so a background DROP (slow: PostgreSQL may checkpoint) does not
            # hold up the CREATE of the next test's database.
            self._admin = await asyncpg.create_pool(
                self.postgres_url, min_size=1, max_size=3, timeout=PROBE_TIMEOUT_SECONDS
            )
        rows: list[asyncpg.Record] = await self._admin.fetch(statement, *args)
        return rows

    async def _create_database(self, name: str, template: str | None = None) -> None:
        statement = f"CREATE DATABASE {_quote_ident(name)}"
        if template is not None:
            statement += f" TEMPLATE {_quote_ident(template)}"
        await self._admin_fetch(statement)
        self._created.add(name)

    async def _drop_database(self, name: str) -> None:
        # FORCE ends sessions still connected to it: only ours can be, the database is ours.
        await self._admin_fetch(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
        self._created.discard(name)

    async def postgres_template(self) -> str:
        if self._postgres_template is None:
            # Left by an earlier run that had this pid and was killed before its teardown. No
            # FORCE here: if a live run on another machine has the same pid, this fails loudly
            # instead of pulling its databases away.
            stale = await self._admin_fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1",
                self.prefix.replace("_", "\\_") + "\\_%",
            )
            for row in stale:
                await self._admin_fetch(f"DROP DATABASE {_quote_ident(row['datname'])}")
            template = f"{self.prefix}_template"
            await self._create_database(template)
            try:
                await _migrate(Settings(database_url=with_database(self.postgres_url, template)))
            except BaseException:
                await self._drop_database(template)
                raise
            self._postgres_template = template
        return self._postgres_template

    async def _new_copy(self, template: str) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        await self._create_database(name, template=template)
        return name

    async def postgres_database(self) -> str:
        """A fresh copy of the template, for one test; give it back with `release`."""
        template = await self.postgres_template()
        spare, self._spare = self._spare, None
        name = await spare if spare is not None else await self._new_copy(template)
        self._spare = asyncio.create_task(self._new_copy(template))
        return name

    def release(self, name: str) -> None:
        """Drop a test's database in the background (`close` retries it if that fails)."""
        task = asyncio.create_task(self._drop_database(name))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        try:
            if self._spare is not None:
                with suppress(Exception):
                    await self._spare
            await asyncio.gather(*self._background, return_exceptions=True)
            for name in sorted(self._created):
                await self._drop_database(name)
        finally:
            if self._admin is not None:
                await self._admin.close()
                self._admin = None


@pytest.fixture(scope="session")
async def _templates(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[_Templates]:
    templates = _Templates(postgres_admin_url(), tmp_path_factory)
    try:
        yield templates
    finally:
        await templates.close()


# --- What the tests use -----------------------------------------------------------------------


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """`"sqlite"` or `"postgres"`: every test that uses a database runs once on each."""
    name: str = request.param
    if name != "postgres":
        return name
    # Requested here, not as an argument, so a run of SQLite tests alone never probes.
    postgres_probe: _PostgresProbe = request.getfixturevalue("postgres_probe")
    if postgres_probe.error is not None:
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
        async with _tortoise_context():
            yield f"sqlite://{path}"
        return

    name = await _templates.postgres_database()
    try:
        async with _tortoise_context():
            yield with_database(_templates.postgres_url, name)
    finally:
        _templates.release(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No load shedding, no shopper limit and no short request deadline: the races of many
    # requests at once must all be served, on a machine whose speed no test knows (the last of
    # 500 redemptions sharing the pool can wait past the default 15 s on a loaded machine).
    # tests/graphql/core/test_admission.py, test_shopper_limits.py and the deadline tests set
    # their own.
    return Settings(
        database_url=database_url,
        max_in_flight=0,
        request_timeout_seconds=300.0,
        shopper_per_second=1_000_000.0,
        shopper_burst=1_000_000,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    """Tortoise initialised on the test's database; connections closed afterwards."""
    try:
        await app_db.init_db(settings)
        yield
    finally:
        await app_db.close_db()
