"""Transactions: Tortoise's `in_transaction` made safe to cancel, with SQLite's write lock taken
as it begins, group commit, and the hooks around COMMIT (app/db/hooks.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from contextvars import Token
from types import TracebackType
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient, NestedTransactionContext
from tortoise.backends.sqlite.client import SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.connection import connections
from tortoise.exceptions import TransactionManagementError
from tortoise.transactions import in_transaction as tortoise_in_transaction

from app.db.group_commit import (
    GroupedTransaction,
    SqliteGroupCommit,
    group_commit_settings,
    group_of,
)
from app.db.hooks import (
    BeforeCommit,
    commit_starts,
    current_commit_observer,
    pending_after_commit,
    pending_before_commit,
    run_after_commit,
    run_before_commit,
)
from app.db.sql import fetch_one, is_postgres


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
    waiting meanwhile (`SqliteGroupCommit`) unless `LAUREL_SQLITE_GROUP_COMMIT` is 1.
    """

    def __init__(self, connection_name: str | None = None) -> None:
        self._context = tortoise_in_transaction(connection_name)
        self._group: SqliteGroupCommit | None = None
        self._grouped_token: Any = None
        if isinstance(self._context, SqliteTransactionContext):
            parent = self._context.connection._parent
            if group_commit_settings.limit > 1:
                self._group = group_of(parent)
            # Swapped here, not through a client class of our own in Tortoise's configuration:
            # Tortoise's migrations choose their SQL dialect by the client class's module name.
            self._context.connection = _WriteLockedSqliteTransaction(parent)
        self._client: BaseDBAsyncClient | None = None
        self._after_commit_token: Token[list[Callable[[], None]] | None] | None = None
        self._before_commit_token: Token[dict[str, BeforeCommit] | None] | None = None

    async def __aenter__(self) -> BaseDBAsyncClient:
        if not isinstance(self._context, NestedTransactionContext):
            self._after_commit_token = pending_after_commit.set([])
            self._before_commit_token = pending_before_commit.set({})
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
                await run_before_commit(self._client)
            except BaseException as error:
                self._end_after_commit()
                await self._context.__aexit__(type(error), error, error.__traceback__)
                raise
        callbacks = self._end_after_commit()
        observer = current_commit_observer.get()
        if observer is None or exc_type is not None or not outermost:
            if exc_type is None and outermost:
                commit_starts()
            await self._context.__aexit__(exc_type, exc, traceback)
            if exc_type is None:
                run_after_commit(callbacks)
            return
        assert self._client is not None
        try:
            await observer.before_commit(self._client)
        except BaseException as error:
            await self._context.__aexit__(type(error), error, error.__traceback__)
            raise
        commit_starts()
        await self._context.__aexit__(None, None, None)
        observer.committed()
        run_after_commit(callbacks)

    async def _enter_batch(self, group: SqliteGroupCommit) -> BaseDBAsyncClient:
        try:
            await group.enter()
        except BaseException:
            self._end_after_commit()
            raise
        member = GroupedTransaction(group.client)
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

    async def _exit_batch(self, group: SqliteGroupCommit, succeeded: bool) -> None:
        member = self._client
        assert isinstance(member, GroupedTransaction)
        observer = current_commit_observer.get()
        ended: asyncio.Future[None] | None = None
        try:
            if succeeded:
                try:
                    await run_before_commit(member)
                    if observer is not None:
                        await observer.before_commit(member)
                except BaseException:
                    succeeded = False
                    raise
        finally:
            callbacks = self._end_after_commit()
            try:
                if succeeded:
                    commit_starts()
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
        run_after_commit(callbacks)

    def _end_after_commit(self) -> list[Callable[[], None]]:
        before, self._before_commit_token = self._before_commit_token, None
        if before is not None:
            pending_before_commit.reset(before)
        token, self._after_commit_token = self._after_commit_token, None
        if token is None:
            return []
        callbacks = pending_after_commit.get() or []
        pending_after_commit.reset(token)
        return callbacks


async def lock_until_commit(conn: BaseDBAsyncClient, lock_class: int, key: int) -> None:
    """A PostgreSQL transaction advisory lock in the two-key form (a class of lock, then its
    key, such as a program id), held until the transaction ends. SQLite has one writer at a
    time: nothing to do."""
    if is_postgres(conn):
        await fetch_one(
            conn, "SELECT pg_advisory_xact_lock(?, ?) IS NULL AS locked", (lock_class, key)
        )
