"""Tortoise configuration, the migration entry point and the raw-SQL helpers of the hot paths."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sqlite3
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import aiosqlite
from tortoise import Tortoise
from tortoise.backends.base.client import (
    BaseDBAsyncClient,
    NestedTransactionContext,
    TransactionalDBClient,
)
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import connections
from tortoise.exceptions import TransactionManagementError
from tortoise.migrations.api import migrate
from tortoise.transactions import in_transaction as tortoise_in_transaction

from app import clock
from app.config import Settings

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
        _group_commit.limit = settings.sqlite_group_commit
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


def connection() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")
    return client


def database_client() -> BaseDBAsyncClient:
    """The process's client of the database itself, the same object inside and outside
    transactions (`connection()` inside one is the transaction's): a new one means Tortoise
    was set up again, maybe on another database."""
    client = connection()
    while isinstance(client, TransactionalDBClient):
        client = client._parent
    return client


class CommitObserver(Protocol):
    """Told of each transaction that the code it observes commits (`observe_commits`)."""

    async def before_commit(self, conn: BaseDBAsyncClient) -> None:
        """Runs on the transaction's own connection just before COMMIT; what it writes commits
        with the transaction, and if it raises, the transaction rolls back instead."""

    def committed(self) -> None:
        """The COMMIT went through."""


_commit_observer: ContextVar[CommitObserver | None] = ContextVar(
    "laurel_commit_observer", default=None
)


@contextlib.contextmanager
def observe_commits(observer: CommitObserver) -> Iterator[None]:
    """Show `observer` every outermost transaction committed in this context until the block
    ends (savepoints commit nothing by themselves)."""
    token = _commit_observer.set(observer)
    try:
        yield
    finally:
        _commit_observer.reset(token)


_commit_start_callback: ContextVar[Callable[[], None] | None] = ContextVar(
    "laurel_commit_start_callback", default=None
)


@contextlib.contextmanager
def on_commit_start(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` as each outermost transaction in this context starts its COMMIT (the
    request's deadline: once a commit has started, the request is no longer cancelled, so an
    answer never says "nothing was kept" of a write that was)."""
    token = _commit_start_callback.set(callback)
    try:
        yield
    finally:
        _commit_start_callback.reset(token)


# Callbacks to run once the outermost transaction of this context commits (`after_commit`);
# a list, not a tuple, so that work gathered inside the transaction adds to the same one.
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "laurel_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the transaction this is called in commits (at once outside one);
    never if it rolls back. A callback added twice runs once."""
    pending = _after_commit.get()
    if pending is None:
        callback()
    elif callback not in pending:
        pending.append(callback)


class BeforeCommit(Protocol):
    """Work gathered during a transaction and done on its connection just before it commits
    (`before_commit`): what it writes commits with the transaction."""

    async def run(self, conn: BaseDBAsyncClient) -> None: ...


BeforeCommitT = TypeVar("BeforeCommitT", bound=BeforeCommit)
_before_commit: ContextVar[dict[str, BeforeCommit] | None] = ContextVar(
    "laurel_before_commit", default=None
)


def before_commit(name: str, make: Callable[[], BeforeCommitT]) -> BeforeCommitT | None:
    """The outermost open transaction's participant called `name`, made by `make` on first use
    and run before that transaction commits; None outside a transaction."""
    pending = _before_commit.get()
    if pending is None:
        return None
    participant = pending.get(name)
    if participant is None:
        participant = pending[name] = make()
    return participant  # type: ignore[return-value]


async def _run_before_commit(conn: BaseDBAsyncClient) -> None:
    pending = _before_commit.get()
    if pending:
        for participant in list(pending.values()):
            await participant.run(conn)


def _commit_starts() -> None:
    callback = _commit_start_callback.get()
    if callback is not None:
        callback()


class _WriteLockedSqliteTransaction(SqliteTransactionWrapper):
    """A SQLite transaction that takes the database's write lock as it begins.

    Tortoise begins with a deferred `BEGIN`: the first read takes a snapshot and the first
    write then asks for the write lock. In WAL mode, once another connection (the job runner
    beside the server, or the server beside it) has committed after that snapshot, SQLite
    refuses the upgrade at once with "database is locked", whatever the busy timeout.
    `BEGIN IMMEDIATE` waits for the lock, up to the busy timeout, before anything is read.
    Every transaction Laurel opens writes, or reads to decide what to write.
    """

    async def begin(self) -> None:
        try:
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise TransactionManagementError(error) from error


class _GroupCommitSettings:
    # At most this many transactions share a COMMIT (`LAUREL_SQLITE_GROUP_COMMIT`); 1: none.
    limit = 32


_group_commit = _GroupCommitSettings()
_MEMBER_SAVEPOINT = "laurel_grouped"


class _SqliteGroupCommit:
    """SQLite group commit: the transactions that wait for the database while one runs share
    its COMMIT, so one flush to disk (`synchronous=FULL`) makes a whole batch durable.

    SQLite has one writer, and Tortoise one connection per process: transactions already ran
    one after another, each paying its own COMMIT, a flush of the WAL that costs milliseconds
    on a real disk (far more than the statements of an order). Here the first transaction
    takes the connection's lock and begins (BEGIN IMMEDIATE); every transaction that arrives
    while that batch is open waits for its turn (in arrival order, as it waited for the lock)
    and runs inside the same database transaction in a savepoint of its own, so that one that
    fails is rolled back alone (ROLLBACK TO) and the others keep their writes. When a
    transaction ends and none waits (or the batch holds `limit`), one COMMIT makes the batch
    durable, and only then is each transaction of it told it committed: nothing is
    acknowledged before its commit is on disk, and a crash before the COMMIT leaves none of
    the batch. Statements outside transactions wait for the connection's lock as they waited
    for a transaction's.
    """

    def __init__(self, client: SqliteClient, limit: int) -> None:
        self.client = client
        self.limit = limit
        # A batch is open, or being opened or committed: a new transaction waits its turn.
        self.busy = False
        # Turns of waiting transactions: True opens a new batch, False joins the open one.
        self.waiting: deque[asyncio.Future[bool]] = deque()
        self.size = 0
        # The transactions of the open batch that succeeded, told once the COMMIT is done.
        self.durable: list[asyncio.Future[None]] = []
        # Those that failed (rolled back to their savepoint), told when the batch ends.
        self.refused: list[asyncio.Future[None]] = []
        # The open batch can no longer commit (SQLite ended its transaction on an error).
        self.broken = False
        self._committing: asyncio.Task[None] | None = None
        self.batches = 0
        self.transactions = 0

    @property
    def connection(self) -> aiosqlite.Connection:
        connection = self.client._connection
        assert connection is not None, "the batch's connection is open"
        return connection

    @property
    def in_database_transaction(self) -> bool:
        connection = self.client._connection
        return connection is not None and bool(connection.in_transaction)

    async def enter(self) -> None:
        """Wait for this transaction's turn; on return it runs inside the open batch."""
        if self.busy:
            turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self.waiting.append(turn)
            try:
                opens = await turn
            except BaseException:
                if turn.done() and not turn.cancelled():
                    # The turn came as this transaction was cancelled: hand it on.
                    if turn.result():
                        self._next_batch()
                    else:
                        self._end_turn()
                else:
                    with contextlib.suppress(ValueError):
                        self.waiting.remove(turn)
                raise
            if not opens:
                self.size += 1
                return
        self.busy = True
        try:
            await self._begin()
        except BaseException:
            self._next_batch()
            raise
        self.size = 1

    async def _begin(self) -> None:
        client = self.client
        await client._lock.acquire()
        try:
            if not client._connection:
                await client.create_connection(with_db=True)
            await self.connection.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            # BEGIN may have run before a cancellation arrived: end it, give the lock back.
            with contextlib.suppress(Exception):
                if self.in_database_transaction:
                    await self.connection.execute("ROLLBACK")
            client._lock.release()
            if isinstance(error, sqlite3.OperationalError):
                raise TransactionManagementError(error) from error
            raise
        self.broken = False

    def done(self, succeeded: bool) -> asyncio.Future[None]:
        """This transaction's turn ends (its savepoint released, or rolled back): the future
        that the end of the batch resolves. For one that succeeded it fails if the COMMIT did;
        one that failed is answered after the batch too, so that what it reads next (a twin
        order that won) is committed."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if succeeded:
            self.durable.append(ended)
        else:
            self.refused.append(ended)
        self._end_turn()
        return ended

    def _end_turn(self) -> None:
        if not self.broken and self.size < self.limit:
            while self.waiting:
                turn = self.waiting.popleft()
                if not turn.done():
                    turn.set_result(False)
                    return
        # Kept referenced until done; it runs whatever happens to the request that started it.
        self._committing = asyncio.ensure_future(self._commit())

    async def _commit(self) -> None:
        durable, self.durable = self.durable, []
        refused, self.refused = self.refused, []
        connection = self.connection
        failure: BaseException | None = None
        try:
            if self.broken or not self.in_database_transaction:
                failure = TransactionManagementError(
                    "the batch's transaction ended before its commit: nothing of it was kept"
                )
            elif durable:
                await connection.execute("COMMIT")
            else:
                await connection.execute("ROLLBACK")
        except BaseException as error:
            failure = error
            with contextlib.suppress(Exception):
                if self.in_database_transaction:
                    await connection.execute("ROLLBACK")
        finally:
            self.client._lock.release()
            self.size = 0
            self._next_batch()
        if failure is None:
            self.batches += 1
            self.transactions += len(durable)
        for future in durable:
            if future.done():
                continue
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(failure)
        for future in refused:
            if not future.done():
                future.set_result(None)

    def _next_batch(self) -> None:
        """The open batch is over: the first transaction waiting opens the next."""
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(True)
                return
        self.busy = False


_groups: weakref.WeakKeyDictionary[SqliteClient, _SqliteGroupCommit] = weakref.WeakKeyDictionary()


def _group_of(client: SqliteClient) -> _SqliteGroupCommit:
    group = _groups.get(client)
    if group is None:
        group = _groups[client] = _SqliteGroupCommit(client, _group_commit.limit)
    return group


@dataclass(frozen=True)
class GroupCommitCounts:
    batches: int  # COMMITs of batches since the connection was set up
    transactions: int  # transactions those COMMITs made durable
    waiting: int  # transactions waiting now for their turn in the open batch (or the next)


def group_commit_counts() -> GroupCommitCounts:
    """SQLite group commit on the default connection (all zero on PostgreSQL)."""
    client = database_client()
    group = _groups.get(client) if isinstance(client, SqliteClient) else None
    if group is None:
        return GroupCommitCounts(0, 0, 0)
    waiting = sum(not turn.done() for turn in group.waiting)
    return GroupCommitCounts(group.batches, group.transactions, waiting)


class _GroupedTransaction(SqliteTransactionWrapper):
    """One transaction of a batch (`_SqliteGroupCommit`): a savepoint in the batch's database
    transaction, on the process's one connection."""

    async def begin(self) -> None:
        await self._connection.execute(f"SAVEPOINT {_MEMBER_SAVEPOINT}")

    async def commit(self) -> None:
        await self._connection.execute(f"RELEASE {_MEMBER_SAVEPOINT}")
        self._finalized = True

    async def rollback(self) -> None:
        self._finalized = True
        await self._connection.execute(f"ROLLBACK TO {_MEMBER_SAVEPOINT}")
        await self._connection.execute(f"RELEASE {_MEMBER_SAVEPOINT}")


class in_transaction:  # noqa: N801 - used as Tortoise's `in_transaction`, which it wraps
    """Tortoise's `in_transaction`, safe to cancel while the transaction starts, and shown to
    the commit observer of its context, if any (`observe_commits`).

    Tortoise's transaction takes SQLite's transaction lock (or a pooled PostgreSQL connection)
    and then awaits BEGIN; cancelled in between, as a request's timeout cancels it, it never
    gives them back: on SQLite every later statement would wait for ever, on PostgreSQL the pool
    loses a connection. Here a cancellation (or any failure) while starting ends the
    transaction as a failure inside it would: rolled back, the lock or connection released.
    Every service opens its transactions with this one. On SQLite they begin with the write
    lock (`_WriteLockedSqliteTransaction`), and share their COMMIT with the transactions
    waiting meanwhile (`_SqliteGroupCommit`) unless `LAUREL_SQLITE_GROUP_COMMIT` is 1.
    """

    def __init__(self, connection_name: str | None = None) -> None:
        self._context = tortoise_in_transaction(connection_name)
        self._group: _SqliteGroupCommit | None = None
        self._grouped_token: Any = None
        if isinstance(self._context, SqliteTransactionContext):
            parent = self._context.connection._parent
            if _group_commit.limit > 1:
                self._group = _group_of(parent)
            # Swapped here, not through a client class of our own in Tortoise's configuration:
            # Tortoise's migrations choose their SQL dialect by the client class's module name.
            self._context.connection = _WriteLockedSqliteTransaction(parent)
        self._client: BaseDBAsyncClient | None = None
        self._after_commit_token: Token[list[Callable[[], None]] | None] | None = None
        self._before_commit_token: Token[dict[str, BeforeCommit] | None] | None = None

    async def __aenter__(self) -> BaseDBAsyncClient:
        if not isinstance(self._context, NestedTransactionContext):
            self._after_commit_token = _after_commit.set([])
            self._before_commit_token = _before_commit.set({})
        if self._group is not None:
            return await self._enter_batch(self._group)
        # Once the context holds the lock or connection it records its token, and BEGIN is its
        # next wait. (On SQLite the wait that opens the process's connection, once, comes
        # between them; it is made under the lock so that two first transactions do not open
        # two, and is left as it is.)
        try:
            client: BaseDBAsyncClient = await self._context.__aenter__()
        except BaseException as error:
            self._end_after_commit()
            if getattr(self._context, "token", None) is not None:
                # BEGIN may not have run (or not to its end): the rollback may fail; what
                # matters is its `finally`, which gives the lock or connection back.
                with contextlib.suppress(Exception):
                    await self._context.__aexit__(type(error), error, error.__traceback__)
            raise
        self._client = client
        return client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._group is not None:
            await self._exit_batch(self._group, exc_type is None)
            return
        outermost = not isinstance(self._context, NestedTransactionContext)
        if exc_type is None and outermost and self._client is not None:
            try:
                await _run_before_commit(self._client)
            except BaseException as error:
                self._end_after_commit()
                await self._context.__aexit__(type(error), error, error.__traceback__)
                raise
        callbacks = self._end_after_commit()
        observer = _commit_observer.get()
        if observer is None or exc_type is not None or not outermost:
            if exc_type is None and outermost:
                _commit_starts()
            await self._context.__aexit__(exc_type, exc, traceback)
            if exc_type is None:
                _run_after_commit(callbacks)
            return
        assert self._client is not None
        try:
            await observer.before_commit(self._client)
        except BaseException as error:
            await self._context.__aexit__(type(error), error, error.__traceback__)
            raise
        _commit_starts()
        await self._context.__aexit__(None, None, None)
        observer.committed()
        _run_after_commit(callbacks)

    async def _enter_batch(self, group: _SqliteGroupCommit) -> BaseDBAsyncClient:
        try:
            await group.enter()
        except BaseException:
            self._end_after_commit()
            raise
        member = _GroupedTransaction(group.client)
        try:
            await member.begin()
        except BaseException:
            self._end_after_commit()
            group.broken = group.broken or not group.in_database_transaction
            group.done(False)
            raise
        self._grouped_token = connections.set(member.connection_name, member)
        self._client = member
        return member

    async def _exit_batch(self, group: _SqliteGroupCommit, succeeded: bool) -> None:
        member = self._client
        assert isinstance(member, _GroupedTransaction)
        observer = _commit_observer.get()
        ended: asyncio.Future[None] | None = None
        try:
            if succeeded:
                try:
                    await _run_before_commit(member)
                    if observer is not None:
                        await observer.before_commit(member)
                except BaseException:
                    succeeded = False
                    raise
        finally:
            callbacks = self._end_after_commit()
            try:
                if succeeded:
                    _commit_starts()
                    await member.commit()
                else:
                    try:
                        await member.rollback()
                    except Exception:
                        # SQLite ended the whole transaction (or the savepoint is gone): the
                        # batch cannot commit; the error that brought us here is the answer.
                        group.broken = True
            except BaseException:
                # SQLite may have ended the whole transaction: the batch cannot commit.
                group.broken = group.broken or not group.in_database_transaction
                succeeded = False
                raise
            finally:
                connections.reset(self._grouped_token)
                ended = group.done(succeeded)
                if not succeeded:
                    # Answered once the batch has ended; its own error is what it raises.
                    with contextlib.suppress(Exception):
                        await asyncio.shield(ended)
        if not succeeded:
            return
        # The batch's COMMIT: it runs to its end whatever happens to this request.
        await asyncio.shield(ended)
        if observer is not None:
            observer.committed()
        _run_after_commit(callbacks)

    def _end_after_commit(self) -> list[Callable[[], None]]:
        before, self._before_commit_token = self._before_commit_token, None
        if before is not None:
            _before_commit.reset(before)
        token, self._after_commit_token = self._after_commit_token, None
        if token is None:
            return []
        callbacks = _after_commit.get() or []
        _after_commit.reset(token)
        return callbacks


def _run_after_commit(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The transaction has committed: what runs after it must not turn it into an error.
            logging.getLogger("laurel.db").exception("a callback after commit failed")


async def lock_until_commit(conn: BaseDBAsyncClient, lock_class: int, key: int) -> None:
    """A PostgreSQL transaction advisory lock in the two-key form (a class of lock, then its
    key, such as a program id), held until the transaction ends. SQLite has one writer at a
    time: nothing to do."""
    if is_postgres(conn):
        await fetch_one(
            conn, "SELECT pg_advisory_xact_lock(?, ?) IS NULL AS locked", (lock_class, key)
        )


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


def from_json(value: Any) -> Any:
    """A JSON column's value: the drivers hand it back as text, a default may be a list."""
    return json.loads(value) if isinstance(value, str) else value


def as_datetime(value: Any) -> datetime:
    """SQLite hands timestamps back as text; PostgreSQL as aware datetimes."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_optional_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def utc_now() -> datetime:
    """Now, by the process's clock (app/clock.py), which tests and `--as-of` can replace."""
    return clock.current().now()
