"""Segments as admins define them: create, change (a new version each time the conditions
change), archive, preview before saving, and read.

A saved segment's members are kept in `segment_members` (membership.py). Saving a segment of a
program of at most `REFRESH_IN_REQUEST_MEMBERS` members builds that table before the answer;
a larger program's is built by the `segments` job (`refreshedAt` stays null until then), or
at once by `refreshSegment`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from app.db import (
    as_datetime,
    connection,
    execute,
    fetch_all,
    fetch_one,
    from_json,
    in_transaction,
    quick_read,
    utc_now,
)
from app.domain.engagement import ChallengeStatus
from app.domain.errors import DomainError, ErrorCode
from app.domain.experiments import ExperimentStatus
from app.domain.segments import (
    SEGMENT_KEY,
    Condition,
    depends_on_time,
    parse_condition,
)
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker
from app.models import Segment, SegmentVersion
from app.models.segments import SEGMENT_KEY_MAX_LENGTH
from app.rows import RowMapper
from app.services.core.idempotency import checked_key, create_once_if_keyed, input_payload
from app.services.core.models import read_row, row_of
from app.services.members.service import MEMBER_COLUMNS, MemberRecord, member_row
from app.services.programs.service import ProgramScope, require_program
from app.services.segments.membership import (
    RefreshResult,
    matching_sql,
    program_facts,
    refresh_segment,
    sql_context,
)

REFRESH_IN_REQUEST_MEMBERS = 20_000
MAX_PREVIEW_SAMPLE = 50


@dataclass(frozen=True)
class SegmentRecord:
    id: int
    program_id: int
    key: str
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    time_based: bool
    archived_at: datetime | None
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


_record = RowMapper(SegmentRecord)
_FIELDS = _record.column_names


@dataclass(frozen=True)
class CreateSegmentInput:
    program_slug: str
    key: str
    name: str
    condition: Any
    description: str = ""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdateSegmentInput:
    id: int
    name: str | None = None
    description: str | None = None
    # None: the conditions stay; else the definition of a new version.
    condition: Any = None


async def _checked_condition(
    conn: BaseDBAsyncClient, check: Checker, program_id: int, raw: Any
) -> Condition | None:
    facts = await program_facts(conn, program_id)
    return parse_condition(check, raw, ["input", "condition"], facts.attributes)


def _check_texts(check: Checker, name: str | None, description: str | None) -> None:
    if name is not None:
        check.text(["input", "name"], name, NAME_MAX)
    if description is not None:
        check.text(["input", "description"], description, TEXT_MAX, required=False)


async def _member_count(conn: BaseDBAsyncClient, program_id: int) -> int:
    row = await fetch_one(
        conn, "SELECT COUNT(*) AS n FROM members WHERE program_id = ?", (program_id,)
    )
    return 0 if row is None else int(row["n"])


async def _refresh_if_small(record: SegmentRecord) -> SegmentRecord:
    if await _member_count(connection(), record.program_id) > REFRESH_IN_REQUEST_MEMBERS:
        return record
    await refresh_segment(record.id, utc_now())
    refreshed = await get_segment(record.id, None)
    assert refreshed is not None
    return refreshed


async def create_segment(data: CreateSegmentInput, scope: ProgramScope) -> SegmentRecord:
    check = Checker()
    key = check.text(["input", "key"], data.key, 64)
    if key is not None and not SEGMENT_KEY.match(key):
        check.add(
            ErrorCode.INVALID_VALUE,
            "key is lowercase letters, digits, - and _ (at most 64), e.g. lapsed-vip",
            ["input", "key"],
        )
    _check_texts(check, data.name, data.description)
    idempotency_key = checked_key(data.idempotency_key)
    program = await require_program(data.program_slug, scope)
    condition = await _checked_condition(connection(), check, program.id, data.condition)
    check.raise_if_any()
    assert key is not None and condition is not None
    now = utc_now()
    definition = condition.as_json()
    try:
        async with in_transaction() as conn:

            async def perform() -> SegmentRecord:
                created = await Segment.create(
                    using_db=conn,
                    program_id=program.id,
                    key=key,
                    name=data.name.strip(),
                    description=(data.description or "").strip(),
                    definition=definition,
                    version=1,
                    time_based=depends_on_time(condition),
                    created_at=now,
                    updated_at=now,
                )
                await SegmentVersion.create(
                    using_db=conn,
                    segment_id=created.id,
                    version=1,
                    definition=definition,
                    created_at=now,
                )
                return _record(row_of(created, _FIELDS))

            record = await create_once_if_keyed(
                conn,
                program_id=program.id,
                key=idempotency_key,
                operation="createSegment",
                payload={"programSlug": data.program_slug, **input_payload(data)},
                now=now,
                create=perform,
                remember_id_as="segmentId",
                read=lambda segment_id: _read(conn, segment_id),
            )
    except IntegrityError as exc:
        raise DomainError(
            ErrorCode.SEGMENT_KEY_TAKEN,
            f"the program has a segment with key {key!r}",
            ["input", "key"],
        ) from exc
    return record if record.refreshed_at else await _refresh_if_small(record)


async def _read(conn: BaseDBAsyncClient, segment_id: int) -> SegmentRecord | None:
    row = await read_row(Segment, conn, _FIELDS, id=segment_id)
    return None if row is None else _record(row)


async def _require(conn: BaseDBAsyncClient, segment_id: int, scope: ProgramScope) -> SegmentRecord:
    record = await _read(conn, segment_id)
    if record is None or (scope is not None and record.program_id != scope):
        raise DomainError(ErrorCode.SEGMENT_NOT_FOUND, "no such segment", ["input", "id"])
    return record


async def update_segment(data: UpdateSegmentInput, scope: ProgramScope) -> SegmentRecord:
    """Rename or re-describe a segment, or give it new conditions: a new version, whose
    members are re-evaluated (members who leave or enter are announced)."""
    check = Checker()
    _check_texts(check, data.name, data.description)
    current = await _require(connection(), data.id, scope)
    if current.archived_at is not None:
        raise DomainError(ErrorCode.SEGMENT_NOT_FOUND, "the segment is archived", ["input", "id"])
    condition = None
    if data.condition is not None:
        condition = await _checked_condition(
            connection(), check, current.program_id, data.condition
        )
    check.raise_if_any()
    now = utc_now()
    changes: dict[str, Any] = {"updated_at": now}
    if data.name is not None:
        changes["name"] = data.name.strip()
    if data.description is not None:
        changes["description"] = data.description.strip()
    async with in_transaction() as conn:
        locked = await _require(conn, data.id, scope)
        if condition is not None and condition.as_json() != locked.definition:
            version = locked.version + 1
            definition = condition.as_json()
            changes |= {
                "definition": definition,
                "version": version,
                "time_based": depends_on_time(condition),
                "refreshed_at": None,
            }
            await SegmentVersion.create(
                using_db=conn,
                segment_id=locked.id,
                version=version,
                definition=definition,
                created_at=now,
            )
        await Segment.filter(id=locked.id).using_db(conn).update(**changes)
        record = await _read(conn, locked.id)
    assert record is not None
    return record if record.refreshed_at else await _refresh_if_small(record)


async def _targeting(
    conn: BaseDBAsyncClient, program_id: int, segment_id: int, key: str
) -> list[str]:
    """What still targets the segment: earning rules not paused, rewards not retired,
    challenges not archived (a paused one may resume), experiments not concluded whose
    audience it is, and concluded ones whose winner still gives a rule not paused or a reward
    not retired to its audience."""
    rules = await fetch_all(
        conn,
        "SELECT name, eligible_segments FROM earning_rules WHERE program_id = ? AND paused = ?",
        (program_id, False),
    )
    rewards = await fetch_all(
        conn,
        "SELECT name, required_segments FROM rewards WHERE program_id = ? AND retired_at IS NULL",
        (program_id,),
    )
    users = [
        f"earning rule {row['name']!r}"
        for row in rules
        if key in from_json(row["eligible_segments"])
    ]
    users += [
        f"reward {row['name']!r}" for row in rewards if key in from_json(row["required_segments"])
    ]
    challenges = await fetch_all(
        conn,
        "SELECT name, eligible_segments FROM challenges WHERE program_id = ? AND status <> ?",
        (program_id, ChallengeStatus.ARCHIVED.value),
    )
    users += [
        f"challenge {row['name']!r}"
        for row in challenges
        if key in from_json(row["eligible_segments"])
    ]
    experiments = await fetch_all(
        conn,
        "SELECT e.name FROM experiments e WHERE e.program_id = ? AND e.audience_segment_id = ?"
        " AND (e.status IN (?, ?) OR (e.status = ? AND EXISTS (SELECT 1"
        " FROM experiment_subjects s LEFT JOIN earning_rules r ON r.id = s.earning_rule_id"
        " LEFT JOIN rewards w ON w.id = s.reward_id WHERE s.variant_id = e.winner_variant_id"
        " AND (r.paused = ? OR w.retired_at IS NULL AND w.id IS NOT NULL)))) ORDER BY e.id",
        (
            program_id,
            segment_id,
            ExperimentStatus.DRAFT.value,
            ExperimentStatus.RUNNING.value,
            ExperimentStatus.CONCLUDED.value,
            False,
        ),
    )
    users += [f"experiment {row['name']!r}" for row in experiments]
    return users


async def archive_segment(segment_id: int, scope: ProgramScope) -> SegmentRecord:
    """Stop keeping the segment. Refused while a rule, reward, challenge or experiment
    targets it (`_targeting`). Its key stays taken, so a rule naming it never silently means
    another segment."""
    now = utc_now()
    async with in_transaction() as conn:
        current = await _require(conn, segment_id, scope)
        if current.archived_at is not None:
            return current
        users = await _targeting(conn, current.program_id, current.id, current.key)
        if users:
            raise DomainError(
                ErrorCode.SEGMENT_IN_USE,
                f"the segment is targeted by {', '.join(users[:5])}",
                ["input", "id"],
            )
        await Segment.filter(id=segment_id).using_db(conn).update(archived_at=now, updated_at=now)
        await execute(conn, "DELETE FROM segment_members WHERE segment_id = ?", (segment_id,))
        record = await _read(conn, segment_id)
    assert record is not None
    return record


async def refresh_now(segment_id: int, scope: ProgramScope) -> RefreshResult:
    await _require(connection(), segment_id, scope)
    return await refresh_segment(segment_id, utc_now())


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    sample: list[MemberRecord]


async def preview_segment(
    program_slug: str, raw_condition: Any, sample_size: int, scope: ProgramScope
) -> SegmentPreview:
    """How many of the program's members the conditions hold for now, and the newest of them;
    nothing is saved."""
    check = Checker()
    check.int_range(["sampleSize"], sample_size, 0, MAX_PREVIEW_SAMPLE, ErrorCode.INVALID_VALUE)
    program = await require_program(program_slug, scope, ["programSlug"])
    facts = await program_facts(connection(), program.id)
    condition = parse_condition(check, raw_condition, ["condition"], facts.attributes)
    check.raise_if_any()
    matches = matching_sql(condition, sql_context(connection(), facts.currency, utc_now()))
    where = f"FROM members m WHERE m.program_id = ? AND {matches.text}"
    params = (program.id, *matches.params)
    counted = await quick_read(f"SELECT COUNT(*) AS n {where}", params)
    columns = ", ".join(f"m.{column.strip()}" for column in MEMBER_COLUMNS.split(","))
    rows = (
        await quick_read(
            f"SELECT {columns} {where} ORDER BY m.id DESC LIMIT ?", (*params, sample_size)
        )
        if sample_size
        else []
    )
    return SegmentPreview(count=int(counted[0]["n"]), sample=[member_row(row) for row in rows])


async def get_segment(segment_id: int, scope: ProgramScope) -> SegmentRecord | None:
    record = await _read(connection(), segment_id)
    if record is None or (scope is not None and record.program_id != scope):
        return None
    return record


async def get_segment_by_key(program_id: int, key: str) -> SegmentRecord | None:
    if len(key) > SEGMENT_KEY_MAX_LENGTH:
        # No segment has such a key (the column is that wide); the ORM would refuse the filter.
        return None
    row = await read_row(Segment, connection(), _FIELDS, program_id=program_id, key=key)
    return None if row is None else _record(row)


async def list_segments(
    program_id: int, *, include_archived: bool, after_id: int | None, limit: int
) -> list[SegmentRecord]:
    query = Segment.filter(program_id=program_id)
    if not include_archived:
        query = query.filter(archived_at__isnull=True)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    rows = await query.order_by("id").limit(limit).values(*_FIELDS)
    return [_record(row) for row in rows]


async def member_counts(segment_ids: list[int]) -> dict[int, int]:
    if not segment_ids:
        return {}
    marks = ", ".join("?" for _ in segment_ids)
    rows = await quick_read(
        f"SELECT segment_id, COUNT(*) AS n FROM segment_members WHERE segment_id IN ({marks})"
        " GROUP BY segment_id",
        tuple(segment_ids),
    )
    counts = {int(row["segment_id"]): int(row["n"]) for row in rows}
    return {segment_id: counts.get(segment_id, 0) for segment_id in segment_ids}


@dataclass(frozen=True)
class SegmentVersionRecord:
    version: int
    definition: dict[str, Any]
    created_at: datetime


async def segment_versions(segment_id: int) -> list[SegmentVersionRecord]:
    rows = (
        await SegmentVersion.filter(segment_id=segment_id)
        .order_by("-version")
        .values("version", "definition", "created_at")
    )
    return [
        SegmentVersionRecord(
            version=int(row["version"]),
            definition=from_json(row["definition"]),
            created_at=as_datetime(row["created_at"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class MemberSegment:
    segment: SegmentRecord
    entered_at: datetime


async def segments_of_members(member_ids: list[int]) -> dict[int, list[MemberSegment]]:
    """The kept memberships of each member, by segment id (one statement for a page)."""
    if not member_ids:
        return {}
    marks = ", ".join("?" for _ in member_ids)
    columns = ", ".join(f"s.{name}" for name in _FIELDS)
    rows = await quick_read(
        f"SELECT sm.member_id AS member_id, sm.entered_at AS entered_at, {columns}"
        " FROM segment_members sm JOIN segments s ON s.id = sm.segment_id"
        f" WHERE sm.member_id IN ({marks}) AND s.archived_at IS NULL ORDER BY s.id",
        tuple(member_ids),
    )
    found: dict[int, list[MemberSegment]] = {member_id: [] for member_id in member_ids}
    for row in rows:
        found[int(row["member_id"])].append(
            MemberSegment(segment=_record(row), entered_at=as_datetime(row["entered_at"]))
        )
    return found


async def unknown_segment_keys(
    conn: BaseDBAsyncClient, program_id: int, keys: frozenset[str] | tuple[str, ...]
) -> list[str]:
    """The keys among `keys` that name no segment of the program in use."""
    if not keys:
        return []
    marks = ", ".join("?" for _ in keys)
    rows = await fetch_all(
        conn,
        "SELECT key FROM segments WHERE program_id = ? AND archived_at IS NULL"
        f" AND key IN ({marks})",
        (program_id, *sorted(keys)),
    )
    known = {str(row["key"]) for row in rows}
    return sorted(set(keys) - known)
