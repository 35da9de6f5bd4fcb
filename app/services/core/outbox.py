"""Writing to the outbox of domain events (read by app/services/core/events.py).

`append_event` (core/events.py) is what capabilities call: it also tells segments that the
member changed. The writers here do not, for the events segments write themselves.

Events written while history is replayed (`replaying()`, app/services/imports/replay.py) are
kept, marked `replayed`: they are the members' history, but the webhook fan-out skips them, so
an import of years of orders sends no messages about them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import after_commit, execute, execute_many
from app.services.core.outbox_signal import OUTBOX_SIGNAL

# The columns an event is written with, in this order (`write_event`, and the ledger's
# movement statement, app/services/ledger/journal.py).
EVENT_COLUMNS = "program_id, member_id, type, payload, created_at, replayed"
_INSERT = f"INSERT INTO outbox_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_replaying: ContextVar[bool] = ContextVar("laurel_replaying", default=False)


@contextmanager
def replaying() -> Iterator[None]:
    """Events written in this task from now on are replayed history (not sent as webhooks)."""
    token = _replaying.set(True)
    try:
        yield
    finally:
        _replaying.reset(token)


def _signal() -> Callable[[], None]:
    return OUTBOX_SIGNAL.committed_here if _replaying.get() else OUTBOX_SIGNAL.committed


def _payload(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def event_payload(payload: dict[str, Any]) -> str:
    """An event's payload as the outbox stores it."""
    return _payload(payload)


def is_replaying() -> bool:
    """Whether events written now are replayed history: the rows' `replayed` column, for a
    statement of another module that writes events (a ledger movement's,
    app/services/ledger/journal.py)."""
    return _replaying.get()


def written_by_another_statement() -> None:
    """After such a statement wrote its events: their readers are woken when the transaction
    commits, as `write_event` does (not before, so a refused statement wakes nobody)."""
    after_commit(_signal())


async def write_event(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int | None,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    after_commit(_signal())
    await execute(
        conn,
        _INSERT,
        (program_id, member_id, event_type, _payload(payload), now, _replaying.get()),
    )


async def write_events(
    conn: BaseDBAsyncClient,
    program_id: int,
    events: Sequence[tuple[int | None, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Many events of one program in one statement each batch: (member id, type, payload)."""
    if not events:
        return
    after_commit(_signal())
    rows = [
        (program_id, member_id, event_type, _payload(payload), now, _replaying.get())
        for member_id, event_type, payload in events
    ]
    await execute_many(conn, _INSERT, rows)
