"""SQLite group commit: the transactions waiting for the database share one COMMIT."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections import deque
from dataclasses import dataclass

import aiosqlite
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError

from app.db.client import database_client


class _GroupCommitSettings:
    # At most this many transactions share a COMMIT (`LAUREL_SQLITE_GROUP_COMMIT`); 1: none.
    limit = 32


group_commit_settings = _GroupCommitSettings()
_MEMBER_SAVEPOINT = "laurel_grouped"


class SqliteGroupCommit:
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


_groups: weakref.WeakKeyDictionary[SqliteClient, SqliteGroupCommit] = weakref.WeakKeyDictionary()


def group_of(client: SqliteClient) -> SqliteGroupCommit:
    group = _groups.get(client)
    if group is None:
        group = _groups[client] = SqliteGroupCommit(client, group_commit_settings.limit)
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


class GroupedTransaction(SqliteTransactionWrapper):
    """One transaction of a batch (`SqliteGroupCommit`): a savepoint in the batch's database
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
