"""The outbox of domain events: appended in the transaction of the change, listed by admins.

Delivery (webhooks, live subscriptions) reads this table later; ids give the order. On
PostgreSQL ids are taken at insert time, so a reader must not see an event while an older
transaction may still commit one with a smaller id (see `list_events`); SQLite writes one
transaction at a time, so its ids are already in commit order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    connection,
    fetch_all,
    from_json,
    is_postgres,
)
from app.domain.validation import is_lookup_text
from app.rows import Keyset
from app.services.core.outbox import write_event
from app.services.segments.membership import member_changed


@dataclass(frozen=True)
class EventRecord:
    id: int
    program_id: int
    member_id: int | None
    type: str
    payload: dict[str, Any]
    created_at: datetime
    # Written by a replay of imported history (app/services/core/outbox.py `replaying`).
    replayed: bool = False


_OLDEST_FIRST = Keyset(newest_first=False)
# The oldest transaction id still running in this database, or the next one to be assigned.
# pg_stat_activity shows 32-bit xids; the snapshot's in-progress list has them with their epoch.
_WRITE_HORIZON = """
WITH snap AS (SELECT pg_current_snapshot() AS s)
SELECT COALESCE(
    (SELECT MIN(running) FROM snap, pg_snapshot_xip(snap.s) AS running
     WHERE (running::text::bigint % 4294967296)::text IN (
         SELECT backend_xid::text FROM pg_stat_activity
         WHERE datname = current_database() AND backend_xid IS NOT NULL)),
    (SELECT pg_snapshot_xmax(s) FROM snap))
"""


def _event(row: dict[str, Any]) -> EventRecord:
    payload = row["payload"]
    return EventRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        member_id=None if row["member_id"] is None else int(row["member_id"]),
        type=row["type"],
        payload=from_json(payload),
        created_at=as_datetime(row["created_at"]),
        replayed=bool(row.get("replayed", False)),
    )


async def append_event(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int | None,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Record a domain event in the transaction of the change it reports; its readers are
    woken when that commits. An event about a member also tells segments that the member's
    facts may have changed: their memberships are brought up to date before the commit."""
    await write_event(
        conn,
        program_id=program_id,
        member_id=member_id,
        event_type=event_type,
        payload=payload,
        now=now,
    )
    if member_id is not None:
        await member_changed(conn, program_id, member_id, now)


async def written_with_a_movement(
    conn: BaseDBAsyncClient, *, program_id: int, member_id: int, now: datetime
) -> None:
    """What `append_event` does beside writing the row, for the events a ledger movement's own
    statement wrote (app/services/ledger/journal.py): segments learn that the member's facts
    may have changed. (Their readers' wake-up is `outbox.written_by_another_statement`.)"""
    await member_changed(conn, program_id, member_id, now)


def _committed(select: str, conn: BaseDBAsyncClient) -> str:
    """`select` (which ends in a WHERE condition) showing only events no older transaction can
    come before. On PostgreSQL ids are taken at insert, not at commit: hide the events of every
    transaction newer than the oldest one still writing in this database, so the outbox only
    ever grows at its end. Only this database's writers count: a long write elsewhere on the
    server must not hold the outbox back."""
    if is_postgres(conn):
        return select + f" AND writer_xid < ({_WRITE_HORIZON})"
    return select


async def events_after(conn: BaseDBAsyncClient, after_id: int, limit: int) -> list[EventRecord]:
    """Every program's events after `after_id`, oldest first (the webhook fan-out)."""
    select = _committed(
        "SELECT id, program_id, member_id, type, payload, created_at, replayed"
        " FROM outbox_events WHERE id > ?",
        conn,
    )
    rows = await fetch_all(conn, select + " ORDER BY id LIMIT ?", (after_id, limit))
    return [_event(row) for row in rows]


async def list_events(
    program_id: int, *, after_id: int | None, limit: int, event_type: str | None = None
) -> list[EventRecord]:
    """Events of a program in the order they happened, after a keyset cursor."""
    select = _committed(
        "SELECT id, program_id, member_id, type, payload, created_at FROM outbox_events"
        " WHERE program_id = ?",
        connection(),
    )
    if event_type is not None and not is_lookup_text(event_type):
        return []
    if event_type is None:
        rows = await fetch_all(
            connection(),
            select + _OLDEST_FIRST.clause,
            (program_id, *_OLDEST_FIRST.params(after_id, limit)),
        )
    else:
        rows = await fetch_all(
            connection(),
            select + " AND type = ?" + _OLDEST_FIRST.clause,
            (program_id, event_type, *_OLDEST_FIRST.params(after_id, limit)),
        )
    return [_event(row) for row in rows]


async def get_event(event_id: int) -> EventRecord | None:
    rows = await fetch_all(
        connection(),
        "SELECT id, program_id, member_id, type, payload, created_at FROM outbox_events"
        " WHERE id = ?",
        (event_id,),
    )
    return _event(rows[0]) if rows else None
