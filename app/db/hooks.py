"""What runs around a transaction's COMMIT: the commit observer, the callbacks at commit start
and after commit, and the participants that write just before it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Protocol, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient


class CommitObserver(Protocol):
    """Told of each transaction that the code it observes commits (`observe_commits`)."""

    async def before_commit(self, conn: BaseDBAsyncClient) -> None:
        """Runs on the transaction's own connection just before COMMIT; what it writes commits
        with the transaction, and if it raises, the transaction rolls back instead."""

    def committed(self) -> None:
        """The COMMIT went through."""


current_commit_observer: ContextVar[CommitObserver | None] = ContextVar(
    "laurel_commit_observer", default=None
)


@contextlib.contextmanager
def observe_commits(observer: CommitObserver) -> Iterator[None]:
    """Show `observer` every outermost transaction committed in this context until the block
    ends (savepoints commit nothing by themselves)."""
    token = current_commit_observer.set(observer)
    try:
        yield
    finally:
        current_commit_observer.reset(token)


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
pending_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "laurel_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the transaction this is called in commits (at once outside one);
    never if it rolls back. A callback added twice runs once."""
    pending = pending_after_commit.get()
    if pending is None:
        callback()
    elif callback not in pending:
        pending.append(callback)


class BeforeCommit(Protocol):
    """Work gathered during a transaction and done on its connection just before it commits
    (`before_commit`): what it writes commits with the transaction."""

    async def run(self, conn: BaseDBAsyncClient) -> None: ...


BeforeCommitT = TypeVar("BeforeCommitT", bound=BeforeCommit)
pending_before_commit: ContextVar[dict[str, BeforeCommit] | None] = ContextVar(
    "laurel_before_commit", default=None
)


def before_commit(name: str, make: Callable[[], BeforeCommitT]) -> BeforeCommitT | None:
    """The outermost open transaction's participant called `name`, made by `make` on first use
    and run before that transaction commits; None outside a transaction."""
    pending = pending_before_commit.get()
    if pending is None:
        return None
    participant = pending.get(name)
    if participant is None:
        participant = pending[name] = make()
    return participant  # type: ignore[return-value]


async def run_before_commit(conn: BaseDBAsyncClient) -> None:
    pending = pending_before_commit.get()
    if pending:
        for participant in list(pending.values()):
            await participant.run(conn)


def commit_starts() -> None:
    callback = _commit_start_callback.get()
    if callback is not None:
        callback()


def run_after_commit(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The transaction has committed: what runs after it must not turn it into an error.
            logging.getLogger("laurel.db").exception("a callback after commit failed")
