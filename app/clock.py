"""The one source of the current time.

Services ask `clock.now()` (through `app.db.utc_now`); nothing reads the system time directly.
Tests and the `--as-of` option of the job runner install a `ManualClock`, so years of a
program's life run in seconds. An import that replays history (app/services/imports/) sets a
clock for its own asyncio task alone (`using_in_context`), so a server answering live requests
beside it keeps the real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is moved."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock keeps aware times")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock keeps aware times")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


_current: Clock = SystemClock()
# A clock of the running task (and the tasks it starts), ahead of the process's clock.
_in_context: ContextVar[Clock | None] = ContextVar("laurel_clock", default=None)


def current() -> Clock:
    return _in_context.get() or _current


def install(clock: Clock) -> Clock:
    """Make `clock` the process's clock; returns the one it replaces."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)


@contextmanager
def using_in_context(clock: Clock) -> Iterator[Clock]:
    """`clock` for the current task only (a context variable), not for the whole process."""
    token = _in_context.set(clock)
    try:
        yield clock
    finally:
        _in_context.reset(token)


def process_now() -> datetime:
    """Now by the process's clock, ignoring the clock a task set for itself
    (`using_in_context`): what decides whether a month is over must not move with an import
    that replays history (app/services/analytics/summaries.py)."""
    return _current.now()
