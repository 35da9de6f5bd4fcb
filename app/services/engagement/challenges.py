"""Challenges: admin set-up (create, update, pause, archive), the list, what a member sees.

The rules are in app/domain/engagement.py; progress and completion are in progress.py, run
inside the transactions of the orders, actions and referrals that advance them.

What is fixed at creation: the goal, its action and the recurrence (progress already counted
means what they said). What can change: name, description, target, window, points, badge. A
new target applies from the member's next contribution: a period whose progress already reaches
it completes then. Completions already made stay.

Segments: a challenge with `eligible_segments` (segment keys of the program) is for the members
in at least one of them, asked live (app/services/segments/membership.py): when an order, action
or referral counts (progress.py) and when the member's challenges are listed (a page of members
at once). Progress made while in a segment stays when the member leaves it; nothing made outside
counts later. A challenge without segments costs no segment query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, connection, fetch_all, fetch_one, in_transaction, utc_now
from app.domain.actions import QUALIFIED_ACTIONS, ActionKind
from app.domain.engagement import (
    ChallengeGoal,
    ChallengePeriod,
    ChallengeRecurrence,
    ChallengeStatus,
    period_of,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker
from app.rows import Keyset, RowMapper
from app.services.core.events import append_event
from app.services.core.idempotency import create_once_if_keyed, keyed_write
from app.services.engagement.badges import require_awardable_badge
from app.services.programs.service import ProgramScope, read_in_scope, require_program
from app.services.segments.membership import segments_of_members_live
from app.services.segments.service import unknown_segment_keys

MAX_ACTIVE_CHALLENGES = 50
MAX_COUNT_TARGET = 10_000
MAX_CHALLENGE_POINTS = 1_000_000
QUALIFIER_MAX = 64
MAX_ELIGIBLE_SEGMENTS = 20
SEGMENT_KEY_MAX = 64
# Windows start and end between these years (a mistyped year is refused, not stored).
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


@dataclass(frozen=True)
class ChallengeRecord:
    id: int
    program_id: int
    name: str
    description: str
    goal: ChallengeGoal
    target: int
    action: str | None
    action_qualifier: str
    recurrence: ChallengeRecurrence
    starts_at: datetime
    ends_at: datetime | None
    points: int
    badge_id: int | None
    status: ChallengeStatus
    archived_at: datetime | None
    # Segment keys, sorted; () for every member.
    eligible_segments: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    def open_to(self, segments: frozenset[str]) -> bool:
        """Whether a member in `segments` (of those the challenge names) may take part."""
        return not self.eligible_segments or not segments.isdisjoint(self.eligible_segments)


@dataclass(frozen=True)
class CreateChallengeInput:
    program_slug: str
    name: str
    goal: ChallengeGoal
    target: int
    starts_at: datetime
    ends_at: datetime | None = None
    recurrence: ChallengeRecurrence = ChallengeRecurrence.NONE
    action: ActionKind | None = None
    action_qualifier: str | None = None
    points: int = 0
    badge_id: int | None = None
    description: str = ""
    # Segment keys of the program; empty: every member.
    eligible_segments: tuple[str, ...] = ()
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdateChallengeInput:
    """Fields left None keep their value; `clear_ends_at` removes the end; `clear_badge` the
    badge."""

    challenge_id: int
    name: str | None = None
    description: str | None = None
    target: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    clear_ends_at: bool = False
    points: int | None = None
    badge_id: int | None = None
    clear_badge: bool = False
    # None: unchanged; () removes the restriction.
    eligible_segments: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MemberChallengeRecord:
    """A member's standing on one challenge in the period running now."""

    challenge: ChallengeRecord
    period: ChallengePeriod
    progress: int
    completed_at: datetime | None


challenge_row = RowMapper(ChallengeRecord)
_NEWEST_FIRST = Keyset(newest_first=True)


def _check_time(check: Checker, field: str, moment: datetime | None) -> None:
    if moment is None:
        return
    if moment.tzinfo is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} needs a time zone, e.g. 2026-10-01T00:00:00Z",
            ["input", field],
        )
    elif not EARLIEST_YEAR <= moment.year < LATEST_YEAR:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} must be between {EARLIEST_YEAR} and {LATEST_YEAR}",
            ["input", field],
        )


def _check_window(check: Checker, starts_at: datetime, ends_at: datetime | None) -> None:
    before = len(check.errors)
    _check_time(check, "startsAt", starts_at)
    _check_time(check, "endsAt", ends_at)
    if len(check.errors) == before and ends_at is not None and ends_at <= starts_at:
        check.add(ErrorCode.INVALID_VALUE, "endsAt must be after startsAt", ["input", "endsAt"])


def _check_target(check: Checker, goal: ChallengeGoal, target: int) -> None:
    high = MAX_AMOUNT_MINOR if goal is ChallengeGoal.SPEND else MAX_COUNT_TARGET
    code = ErrorCode.INVALID_AMOUNT if goal is ChallengeGoal.SPEND else ErrorCode.INVALID_QUANTITY
    check.int_range(["input", "target"], target, 1, high, code)


def _check_points(check: Checker, points: int) -> None:
    check.int_range(["input", "points"], points, 0, MAX_CHALLENGE_POINTS, ErrorCode.INVALID_POINTS)


def _check_action(
    check: Checker, goal: ChallengeGoal, action: ActionKind | None, qualifier: str | None
) -> str:
    """ACTION_COUNT names an action (and, for follows, shares and custom events, optionally
    its qualifier); other goals name none. The qualifier is stored lowercase, as actions are."""
    if goal is not ChallengeGoal.ACTION_COUNT:
        if action is not None:
            check.add(ErrorCode.INVALID_VALUE, f"{goal} takes no action", ["input", "action"])
        if qualifier is not None and qualifier.strip():
            check.add(
                ErrorCode.INVALID_VALUE, f"{goal} takes no qualifier", ["input", "actionQualifier"]
            )
        return ""
    if action is None:
        check.add(ErrorCode.REQUIRED, "ACTION_COUNT needs an action", ["input", "action"])
        return ""
    cleaned = check.text(["input", "actionQualifier"], qualifier, QUALIFIER_MAX, required=False)
    if cleaned and action not in QUALIFIED_ACTIONS:
        check.add(
            ErrorCode.INVALID_VALUE, f"{action} takes no qualifier", ["input", "actionQualifier"]
        )
    return (cleaned or "").lower()


def _check_segment_keys(check: Checker, keys: tuple[str, ...]) -> tuple[str, ...]:
    field = ["input", "eligibleSegments"]
    return tuple(sorted(check.text_list(field, keys, SEGMENT_KEY_MAX, MAX_ELIGIBLE_SEGMENTS)))


async def _require_segments(
    conn: BaseDBAsyncClient, program_id: int, keys: tuple[str, ...]
) -> None:
    """Every key names a segment of the program in use (SEGMENT_NOT_FOUND)."""
    unknown = await unknown_segment_keys(conn, program_id, keys)
    if unknown:
        raise DomainError(
            ErrorCode.SEGMENT_NOT_FOUND,
            f"no segment with key {unknown[0]!r} in the program",
            ["input", "eligibleSegments"],
        )


async def _active_count_check(conn: BaseDBAsyncClient, program_id: int) -> None:
    count = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM challenges WHERE program_id = ? AND status <> ?",
        (program_id, ChallengeStatus.ARCHIVED.value),
    )
    if count is not None and int(count["n"]) >= MAX_ACTIVE_CHALLENGES:
        raise DomainError(
            ErrorCode.TOO_MANY,
            f"a program has at most {MAX_ACTIVE_CHALLENGES} challenges not archived",
            ["input", "programSlug"],
        )


async def create_challenge(data: CreateChallengeInput) -> ChallengeRecord:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    _check_target(check, data.goal, data.target)
    _check_points(check, data.points)
    _check_window(check, data.starts_at, data.ends_at)
    qualifier = _check_action(check, data.goal, data.action, data.action_qualifier)
    segments = _check_segment_keys(check, data.eligible_segments)
    if data.points == 0 and data.badge_id is None:
        check.add(
            ErrorCode.REQUIRED,
            "a challenge gives points, a badge or both",
            ["input", "points"],
        )
    key = check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> ChallengeRecord:
            if data.badge_id is not None:
                await require_awardable_badge(conn, program.id, data.badge_id, ["input", "badgeId"])
            await _require_segments(conn, program.id, segments)
            await _active_count_check(conn, program.id)
            row = await fetch_one(
                conn,
                "INSERT INTO challenges (program_id, name, description, goal, target, action,"
                " action_qualifier, recurrence, starts_at, ends_at, points, badge_id, status,"
                " archived_at, eligible_segments, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)"
                f" RETURNING {challenge_row.columns}",
                (
                    program.id,
                    name,
                    description or "",
                    data.goal.value,
                    data.target,
                    None if data.action is None else data.action.value,
                    qualifier,
                    data.recurrence.value,
                    data.starts_at,
                    data.ends_at,
                    data.points,
                    data.badge_id,
                    ChallengeStatus.ACTIVE.value,
                    json.dumps(list(segments)),
                    now,
                    now,
                ),
            )
            assert row is not None
            challenge = challenge_row(row)
            await _announce(conn, challenge, "challenge.created", now)
            return challenge

        return await create_once_if_keyed(
            conn,
            **keyed_write(program.id, key, "createChallenge", data, now),
            create=perform,
            remember_id_as="challengeId",
            read=lambda challenge_id: read_in_scope(
                conn, challenge_row, "challenges", challenge_id, None
            ),
        )


async def _announce(
    conn: BaseDBAsyncClient, challenge: ChallengeRecord, event_type: str, now: datetime
) -> None:
    await append_event(
        conn,
        program_id=challenge.program_id,
        member_id=None,
        event_type=event_type,
        payload={
            "challengeId": encode_id("Challenge", challenge.id),
            "name": challenge.name,
            "goal": challenge.goal.value,
            "target": challenge.target,
            "status": challenge.status.value,
        },
        now=now,
    )


async def get_challenge(challenge_id: int, scope: ProgramScope) -> ChallengeRecord | None:
    return await read_in_scope(connection(), challenge_row, "challenges", challenge_id, scope)


async def _require_changeable(challenge_id: int, scope: ProgramScope) -> ChallengeRecord:
    challenge = await get_challenge(challenge_id, scope)
    if challenge is None:
        raise DomainError(ErrorCode.CHALLENGE_NOT_FOUND, "no such challenge", ["input", "id"])
    if challenge.status is ChallengeStatus.ARCHIVED:
        raise DomainError(
            ErrorCode.CHALLENGE_ARCHIVED, "the challenge is archived", ["input", "id"]
        )
    return challenge


async def update_challenge(data: UpdateChallengeInput, scope: ProgramScope) -> ChallengeRecord:
    check = Checker()
    name = check.changed_text(["input", "name"], data.name, NAME_MAX)
    description = check.changed_text(
        ["input", "description"], data.description, TEXT_MAX, required=False
    )
    if data.points is not None:
        _check_points(check, data.points)
    _check_time(check, "startsAt", data.starts_at)
    _check_time(check, "endsAt", data.ends_at)
    new_segments = (
        None
        if data.eligible_segments is None
        else _check_segment_keys(check, data.eligible_segments)
    )
    check.raise_if_any()
    challenge = await _require_changeable(data.challenge_id, scope)
    segments = challenge.eligible_segments if new_segments is None else new_segments
    target = challenge.target if data.target is None else data.target
    starts_at = data.starts_at or challenge.starts_at
    ends_at = None if data.clear_ends_at else (data.ends_at or challenge.ends_at)
    points = challenge.points if data.points is None else data.points
    badge_id = None if data.clear_badge else (data.badge_id or challenge.badge_id)
    _check_target(check, challenge.goal, target)
    _check_window(check, starts_at, ends_at)
    if points == 0 and badge_id is None:
        check.add(
            ErrorCode.REQUIRED, "a challenge gives points, a badge or both", ["input", "points"]
        )
    check.raise_if_any()
    now = utc_now()
    async with in_transaction() as conn:
        if data.badge_id is not None and not data.clear_badge:
            await require_awardable_badge(
                conn, challenge.program_id, data.badge_id, ["input", "badgeId"]
            )
        if new_segments is not None:
            await _require_segments(conn, challenge.program_id, new_segments)
        return await _change_unarchived(
            conn,
            challenge.id,
            "challenge.updated",
            now,
            name=name or challenge.name,
            description=challenge.description if data.description is None else (description or ""),
            target=target,
            starts_at=starts_at,
            ends_at=ends_at,
            points=points,
            badge_id=badge_id,
            eligible_segments=json.dumps(list(segments)),
        )


async def _change_unarchived(
    conn: BaseDBAsyncClient, challenge_id: int, event_type: str, now: datetime, **columns: Any
) -> ChallengeRecord:
    """Set `columns` of a challenge that is not archived (the update itself checks, so a
    concurrent archive wins) and announce the change; CHALLENGE_ARCHIVED when it is."""
    assignments = "".join(f"{column} = ?, " for column in columns)
    row = await fetch_one(
        conn,
        f"UPDATE challenges SET {assignments}updated_at = ?"
        f" WHERE id = ? AND status <> ? RETURNING {challenge_row.columns}",
        (*columns.values(), now, challenge_id, ChallengeStatus.ARCHIVED.value),
    )
    if row is None:
        raise DomainError(
            ErrorCode.CHALLENGE_ARCHIVED, "the challenge is archived", ["input", "id"]
        )
    changed = challenge_row(row)
    await _announce(conn, changed, event_type, now)
    return changed


async def _set_status(
    challenge_id: int,
    scope: ProgramScope,
    status: ChallengeStatus,
    event_type: str,
) -> ChallengeRecord:
    challenge = await _require_changeable(challenge_id, scope)
    if challenge.status is status:
        return challenge
    now = utc_now()
    async with in_transaction() as conn:
        changed = await _change_unarchived(
            conn,
            challenge.id,
            event_type,
            now,
            status=status.value,
            archived_at=now if status is ChallengeStatus.ARCHIVED else None,
        )
    return changed


async def set_challenge_paused(
    challenge_id: int, paused: bool, scope: ProgramScope
) -> ChallengeRecord:
    """A paused challenge counts nothing until resumed (what happens meanwhile is not counted
    later); progress made stays."""
    if paused:
        return await _set_status(challenge_id, scope, ChallengeStatus.PAUSED, "challenge.paused")
    return await _set_status(challenge_id, scope, ChallengeStatus.ACTIVE, "challenge.resumed")


async def archive_challenge(challenge_id: int, scope: ProgramScope) -> ChallengeRecord:
    """Final: counts nothing, members no longer see it; completions and their points stay."""
    return await _set_status(challenge_id, scope, ChallengeStatus.ARCHIVED, "challenge.archived")


async def list_challenges(
    program_id: int,
    *,
    statuses: Sequence[ChallengeStatus],
    before_id: int | None,
    limit: int,
) -> list[ChallengeRecord]:
    """The program's challenges in `statuses`, newest first, after a keyset position."""
    marks = ", ".join("?" for _ in statuses)
    rows = await fetch_all(
        connection(),
        f"SELECT {challenge_row.columns} FROM challenges WHERE program_id = ?"
        f" AND status IN ({marks})" + _NEWEST_FIRST.clause,
        (
            program_id,
            *(status.value for status in statuses),
            *_NEWEST_FIRST.params(before_id, limit),
        ),
    )
    return challenge_row.all(rows)


async def member_challenges(
    member_id: int, program_id: int, now: datetime | None = None
) -> list[MemberChallengeRecord]:
    """The program's ACTIVE challenges running now that are open to the member (no segments,
    or the member is in one of them at `now`), oldest first, each with the member's progress
    in the period holding `now` (0 before their first contribution)."""
    return (await member_challenges_of(program_id, [member_id], now)).get(member_id, [])


async def challenges_by_member(
    keys: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], list[MemberChallengeRecord]]:
    """`member_challenges` by (program, member): one `member_challenges_of` per program among
    the keys (the `challenges` loader; a page of members is of one program)."""
    by_program: dict[int, list[int]] = {}
    for program_id, member_id in keys:
        by_program.setdefault(program_id, []).append(member_id)
    found: dict[tuple[int, int], list[MemberChallengeRecord]] = {}
    for program_id, member_ids in by_program.items():
        for member_id, listed in (await member_challenges_of(program_id, member_ids)).items():
            found[program_id, member_id] = listed
    return found


async def member_challenges_of(
    program_id: int, member_ids: Sequence[int], now: datetime | None = None
) -> dict[int, list[MemberChallengeRecord]]:
    """`member_challenges` of many members of one program, by member id: the same statements
    for a page of members as for one."""
    members = list(dict.fromkeys(member_ids))
    if not members:
        return {}
    now = now or utc_now()
    zone_row = await fetch_one(
        connection(), "SELECT time_zone FROM programs WHERE id = ?", (program_id,)
    )
    zone = "UTC" if zone_row is None else str(zone_row["time_zone"])
    challenges = challenge_row.all(
        await fetch_all(
            connection(),
            f"SELECT {challenge_row.columns} FROM challenges WHERE program_id = ?"
            " AND status = ? AND starts_at <= ? AND (ends_at IS NULL OR ends_at > ?) ORDER BY id",
            (program_id, ChallengeStatus.ACTIVE.value, now, now),
        )
    )
    periods = {
        challenge.id: period
        for challenge in challenges
        if (
            period := period_of(
                challenge.recurrence, challenge.starts_at, challenge.ends_at, now, zone
            )
        )
        is not None
    }
    running = [challenge for challenge in challenges if challenge.id in periods]
    if not running:
        return {member_id: [] for member_id in members}
    wanted = sorted({key for challenge in running for key in challenge.eligible_segments})
    segments = (
        await segments_of_members_live(connection(), program_id, members, wanted, now)
        if wanted
        else {}
    )
    progress_rows = await fetch_all(
        connection(),
        "SELECT member_id, challenge_id, period_key, progress, completed_at"
        f" FROM challenge_progress WHERE member_id IN ({', '.join('?' for _ in members)})"
        " AND challenge_id IN (SELECT id FROM challenges WHERE program_id = ? AND status = ?)",
        (*members, program_id, ChallengeStatus.ACTIVE.value),
    )
    standing = {
        (int(row["member_id"]), int(row["challenge_id"]), row["period_key"]): row
        for row in progress_rows
    }
    shown: dict[int, list[MemberChallengeRecord]] = {}
    for member_id in members:
        open_to = segments.get(member_id, frozenset())
        listed = shown[member_id] = []
        for challenge in running:
            if not challenge.open_to(open_to):
                continue
            period = periods[challenge.id]
            row = standing.get((member_id, challenge.id, period.key))
            listed.append(
                MemberChallengeRecord(
                    challenge=challenge,
                    period=period,
                    progress=0 if row is None else int(row["progress"]),
                    completed_at=None
                    if row is None or row["completed_at"] is None
                    else as_datetime(row["completed_at"]),
                )
            )
    return shown
