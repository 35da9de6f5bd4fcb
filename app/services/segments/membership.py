"""Who is in which segment: answered live for one member, and kept in `segment_members`.

- **Live, for one member** (`segments_of_member`): earning rules and rewards that target
  segments ask at earn and redeem time. One statement evaluates every segment asked about on
  the member's own rows (primary key and `(member_id, ...)` indexes): exact at that moment,
  never a scan.
- **Kept, for lists and reports** (`segment_members`): every event about a member (an order, a
  refund, points moving, a profile or tier change; see core/events.py `append_event`) marks
  the member changed, and just before that transaction commits the member's memberships are
  re-evaluated once and the differences written, with a `segment.entered` or `segment.left`
  event each. Conditions the clock alone changes ("no order for 90 days") are brought up to
  date by the `segments` job (`refresh_segment`), a chunk of members per transaction; so is
  a segment whose definition is new or changed.

Segment events are written with `write_events`, which does not mark the member changed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    before_commit,
    connection,
    fetch_all,
    fetch_one,
    from_json,
    in_transaction,
    is_postgres,
)
from app.domain.ids import encode_id
from app.domain.member_profile import AttributeDefinition
from app.domain.segments import Condition, stored_condition
from app.services.core.config_cache import cached
from app.services.core.outbox import write_events
from app.services.segments.conditions import Sql, SqlContext, condition_sql

ENTERED = "segment.entered"
LEFT = "segment.left"
REFRESH_CHUNK = 5000
_NOBODY = Sql("(1 = 0)")


@dataclass(frozen=True)
class LiveSegment:
    """A segment as membership needs it: None as condition when its definition no longer fits
    the program (it then matches nobody)."""

    id: int
    key: str
    version: int
    condition: Condition | None


@dataclass(frozen=True)
class ProgramFacts:
    currency: str
    attributes: list[AttributeDefinition]


async def program_facts(conn: BaseDBAsyncClient, program_id: int) -> ProgramFacts:
    row = await fetch_one(
        conn, "SELECT currency, member_attributes FROM programs WHERE id = ?", (program_id,)
    )
    assert row is not None
    return ProgramFacts(
        currency=str(row["currency"]),
        attributes=[
            AttributeDefinition.from_json(item) for item in from_json(row["member_attributes"])
        ],
    )


@dataclass(frozen=True)
class LiveSegments:
    """Segments of one program, with the program's currency their SPEND conditions count in."""

    items: list[LiveSegment]
    currency: str = ""


async def live_segments(
    conn: BaseDBAsyncClient, program_id: int, keys: Sequence[str] | None = None
) -> LiveSegments:
    """The program's segments in use (all, or those named `keys`), by id; the program's facts
    are read only when there are some. Cached while the program's configuration is."""
    return await cached(
        "segments.live",
        program_id,
        lambda: _live_segments(conn, program_id, keys),
        key=None if keys is None else tuple(keys),
    )


async def _live_segments(
    conn: BaseDBAsyncClient, program_id: int, keys: Sequence[str] | None
) -> LiveSegments:
    statement = (
        "SELECT id, key, version, definition FROM segments"
        " WHERE program_id = ? AND archived_at IS NULL"
    )
    params: list[Any] = [program_id]
    if keys is not None:
        if not keys:
            return LiveSegments([])
        statement += f" AND key IN ({', '.join('?' for _ in keys)})"
        params += list(keys)
    rows = await fetch_all(conn, statement + " ORDER BY id", params)
    if not rows:
        return LiveSegments([])
    facts = await program_facts(conn, program_id)
    items = [
        LiveSegment(
            id=int(row["id"]),
            key=str(row["key"]),
            version=int(row["version"]),
            condition=stored_condition(from_json(row["definition"]), facts.attributes),
        )
        for row in rows
    ]
    return LiveSegments(items, facts.currency)


def matching_sql(condition: Condition | None, context: SqlContext) -> Sql:
    """Members of `m` the condition holds for: never an erased member."""
    if condition is None:
        return _NOBODY
    compiled = condition_sql(condition, context)
    return Sql(f"(m.erased_at IS NULL AND {compiled.text})", compiled.params)


def sql_context(conn: BaseDBAsyncClient, currency: str, now: datetime) -> SqlContext:
    return SqlContext(now=now, postgres=is_postgres(conn), currency=currency)


async def _matching_ids(
    conn: BaseDBAsyncClient, segments: list[LiveSegment], member_id: int, context: SqlContext
) -> set[int]:
    return (await _matching_ids_of(conn, segments, [member_id], context)).get(member_id, set())


async def _matching_ids_of(
    conn: BaseDBAsyncClient,
    segments: list[LiveSegment],
    member_ids: Sequence[int],
    context: SqlContext,
) -> dict[int, set[int]]:
    """The ids of the `segments` each member is in, by member id (those found), in one
    statement: one row per member, a column per segment."""
    members = list(dict.fromkeys(member_ids))
    if not segments or not members:
        return {}
    parts = [matching_sql(segment.condition, context) for segment in segments]
    columns = ", ".join(
        f"CASE WHEN {part.text} THEN 1 ELSE 0 END AS s{index}" for index, part in enumerate(parts)
    )
    rows = await fetch_all(
        conn,
        f"SELECT m.id AS member_key, {columns} FROM members m"
        f" WHERE m.id IN ({', '.join('?' for _ in members)})",
        (*[param for part in parts for param in part.params], *members),
    )
    return {
        int(row["member_key"]): {
            segment.id for index, segment in enumerate(segments) if int(row[f"s{index}"]) == 1
        }
        for row in rows
    }


async def segments_of_member(
    conn: BaseDBAsyncClient,
    program_id: int,
    member_id: int,
    keys: Sequence[str],
    now: datetime,
) -> frozenset[str]:
    """Which of the segments `keys` the member is in at `now`, evaluated on their rows."""
    found = await segments_of_members_live(conn, program_id, [member_id], keys, now)
    return found.get(member_id, frozenset())


async def segments_of_members_live(
    conn: BaseDBAsyncClient,
    program_id: int,
    member_ids: Sequence[int],
    keys: Sequence[str],
    now: datetime,
) -> dict[int, frozenset[str]]:
    """`segments_of_member` for many members in two statements, by member id (those found)."""
    segments = await live_segments(conn, program_id, sorted(set(keys)))
    matching = await _matching_ids_of(
        conn, segments.items, member_ids, sql_context(conn, segments.currency, now)
    )
    return {
        member_id: frozenset(segment.key for segment in segments.items if segment.id in ids)
        for member_id, ids in matching.items()
    }


def _event(
    segment: LiveSegment, event_type: str, member_id: int
) -> tuple[int, str, dict[str, Any]]:
    return (
        member_id,
        event_type,
        {
            "segmentId": encode_id("Segment", segment.id),
            "segmentKey": segment.key,
            "segmentVersion": segment.version,
        },
    )


async def refresh_member(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> None:
    """Bring the member's rows of `segment_members` up to date, with an event per change."""
    segments = await live_segments(conn, program_id)
    if not segments.items:
        return
    matching = await _matching_ids(
        conn, segments.items, member_id, sql_context(conn, segments.currency, now)
    )
    rows = await fetch_all(
        conn, "SELECT segment_id FROM segment_members WHERE member_id = ?", (member_id,)
    )
    current = {int(row["segment_id"]) for row in rows}
    events = []
    # In segment order, so that two transactions for one member never wait on each other.
    for segment in segments.items:
        if segment.id in matching and segment.id not in current:
            inserted = await fetch_all(
                conn,
                "INSERT INTO segment_members (segment_id, member_id, entered_at)"
                " VALUES (?, ?, ?) ON CONFLICT (segment_id, member_id) DO NOTHING"
                " RETURNING member_id",
                (segment.id, member_id, now),
            )
            if inserted:
                events.append(_event(segment, ENTERED, member_id))
        elif segment.id not in matching and segment.id in current:
            deleted = await fetch_all(
                conn,
                "DELETE FROM segment_members WHERE segment_id = ? AND member_id = ?"
                " RETURNING member_id",
                (segment.id, member_id),
            )
            if deleted:
                events.append(_event(segment, LEFT, member_id))
    await write_events(conn, program_id, events, now)


@dataclass
class _ChangedMembers:
    """The members a transaction changed, refreshed once each as it commits."""

    members: dict[tuple[int, int], datetime] = field(default_factory=dict)

    async def run(self, conn: BaseDBAsyncClient) -> None:
        for (program_id, member_id), now in sorted(self.members.items()):
            await refresh_member(conn, program_id, member_id, now)
        self.members.clear()


async def member_changed(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, now: datetime
) -> None:
    """Note that the member's facts may have changed; refreshed before the commit (at once
    outside a transaction)."""
    changed = before_commit("segments", _ChangedMembers)
    if changed is None:
        await refresh_member(conn, program_id, member_id, now)
        return
    key = (program_id, member_id)
    changed.members[key] = max(now, changed.members.get(key, now))


@dataclass(frozen=True)
class RefreshResult:
    entered: int
    left: int


async def _segment_for_refresh(
    conn: BaseDBAsyncClient, segment_id: int
) -> tuple[int, LiveSegment, str] | None:
    """The segment to refresh, its program and the program's currency."""
    row = await fetch_one(
        conn,
        "SELECT program_id, key FROM segments WHERE id = ? AND archived_at IS NULL",
        (segment_id,),
    )
    if row is None:
        return None
    program_id = int(row["program_id"])
    segments = await live_segments(conn, program_id, [str(row["key"])])
    if not segments.items:
        return None
    return program_id, segments.items[0], segments.currency


async def refresh_segment(
    segment_id: int, now: datetime, chunk: int = REFRESH_CHUNK
) -> RefreshResult:
    """Re-evaluate every member of the segment's program, `chunk` members per transaction, so
    writes keep flowing while a large program is refreshed. Members that change meanwhile are
    refreshed by their own transactions as well; each change is written (and announced) once."""
    entered = left = 0
    after_id = 0
    first_version: int | None = None
    while True:
        async with in_transaction() as conn:
            found = await _segment_for_refresh(conn, segment_id)
            if found is None:
                break
            program_id, segment, currency = found
            if first_version is None:
                first_version = segment.version
            bounds = await fetch_one(
                conn,
                "SELECT MIN(id) AS low, MAX(id) AS high FROM (SELECT id FROM members"
                " WHERE program_id = ? AND id > ? ORDER BY id LIMIT ?) AS chunk",
                (program_id, after_id, chunk),
            )
            if bounds is None or bounds["low"] is None:
                await fetch_all(
                    conn,
                    "UPDATE segments SET refreshed_at = ? WHERE id = ? AND version = ?"
                    " RETURNING id",
                    # Not when the definition changed during the refresh: chunks before the
                    # change were evaluated with the old one, and the next run starts over.
                    (now, segment.id, first_version),
                )
                break
            low, high = int(bounds["low"]), int(bounds["high"])
            matches = matching_sql(segment.condition, sql_context(conn, currency, now))
            joined = await fetch_all(
                conn,
                "INSERT INTO segment_members (segment_id, member_id, entered_at)"
                " SELECT ?, m.id, ? FROM members m"
                f" WHERE m.program_id = ? AND m.id BETWEEN ? AND ? AND {matches.text}"
                " ON CONFLICT (segment_id, member_id) DO NOTHING RETURNING member_id",
                (segment.id, now, program_id, low, high, *matches.params),
            )
            gone = await fetch_all(
                conn,
                "DELETE FROM segment_members WHERE segment_id = ? AND member_id BETWEEN ? AND ?"
                " AND member_id NOT IN (SELECT m.id FROM members m WHERE m.program_id = ?"
                f" AND m.id BETWEEN ? AND ? AND {matches.text}) RETURNING member_id",
                (segment.id, low, high, program_id, low, high, *matches.params),
            )
            await write_events(
                conn,
                program_id,
                [_event(segment, ENTERED, int(row["member_id"])) for row in joined]
                + [_event(segment, LEFT, int(row["member_id"])) for row in gone],
                now,
            )
            entered += len(joined)
            left += len(gone)
            after_id = high
    return RefreshResult(entered=entered, left=left)


async def segments_due_for_refresh() -> list[int]:
    """Segments never refreshed in full since their last change, and every segment the clock
    alone can change (re-evaluated on each run of the job)."""
    rows = await fetch_all(
        connection(),
        "SELECT id FROM segments WHERE archived_at IS NULL"
        " AND (refreshed_at IS NULL OR time_based = ?) ORDER BY id",
        (True,),
    )
    return [int(row["id"]) for row in rows]
