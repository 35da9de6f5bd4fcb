"""Writing to the outbox of domain events (read by app/services/core/events.py).

`append_event` (core/events.py) is what capabilities call: it also tells segments that the
member changed. The writers here do not, for the events segments write themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import after_commit, execute, execute_many
from app.services.core.outbox_signal import OUTBOX_SIGNAL

_INSERT = (
    "INSERT INTO outbox_events (program_id, member_id, type, payload, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)


def _payload(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


async def write_event(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int | None,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    after_commit(OUTBOX_SIGNAL.committed)
    await execute(conn, _INSERT, (program_id, member_id, event_type, _payload(payload), now))


async def write_events(
    conn: BaseDBAsyncClient,
    program_id: int,
    events: Sequence[tuple[int | None, str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Many events of one program in one statement each batch: (member id, type, payload)."""
    if not events:
        return
    after_commit(OUTBOX_SIGNAL.committed)
    rows = [
        (program_id, member_id, event_type, _payload(payload), now)
        for member_id, event_type, payload in events
    ]
    await execute_many(conn, _INSERT, rows)
