"""Badges: admin set-up, awarding (once per member and badge), milestones, what members see.

`award_badge` runs inside the caller's transaction (a challenge's completion, an order's
milestone, the MEMBER_FOR_DAYS job): the unique (member, badge) index decides, with an
`INSERT ... ON CONFLICT DO NOTHING`, so a badge is awarded once and announced once however
many writers race for it. Archived or inactive badges are awarded no more; awarded ones stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, connection, fetch_all, fetch_one, in_transaction, utc_now
from app.domain.engagement import BadgeMilestone
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker
from app.rows import RowMapper
from app.services.core.config_cache import cached
from app.services.core.events import append_event
from app.services.core.idempotency import create_once_if_keyed, keyed_write
from app.services.programs.service import ProgramScope, read_in_scope, require_program

MAX_BADGES_PER_PROGRAM = 100
MAX_MILESTONE = 100_000
IMAGE_URL_MAX = 2000
# The source of a badge a milestone earned.
MILESTONE_SOURCE = "milestone"


@dataclass(frozen=True)
class BadgeRecord:
    id: int
    program_id: int
    name: str
    description: str
    image_url: str | None
    milestone: BadgeMilestone
    threshold: int
    active: bool
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MemberBadgeRecord:
    id: int
    badge: BadgeRecord
    awarded_at: datetime
    source: str


@dataclass(frozen=True)
class CreateBadgeInput:
    program_slug: str
    name: str
    milestone: BadgeMilestone = BadgeMilestone.NONE
    # The milestone's n: orders for ORDER_COUNT, days for MEMBER_FOR_DAYS.
    threshold: int | None = None
    description: str = ""
    image_url: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class UpdateBadgeInput:
    """Fields left None keep their value; the milestone is fixed at creation."""

    badge_id: int
    name: str | None = None
    description: str | None = None
    image_url: str | None = None
    threshold: int | None = None
    active: bool | None = None


badge_row = RowMapper(BadgeRecord)
_JOINED = ", ".join(f"b.{column}" for column in badge_row.column_names)


def _threshold(check: Checker, milestone: BadgeMilestone, threshold: int | None) -> int:
    """The milestone's n: 1 for FIRST_ORDER, 0 for NONE, else required and within range."""
    field = ["input", "threshold"]
    if milestone in (BadgeMilestone.NONE, BadgeMilestone.FIRST_ORDER):
        if threshold is not None:
            check.add(ErrorCode.INVALID_VALUE, f"{milestone} takes no threshold", field)
        return 1 if milestone is BadgeMilestone.FIRST_ORDER else 0
    if threshold is None:
        check.add(ErrorCode.REQUIRED, f"{milestone} needs a threshold", field)
        return 0
    check.int_range(field, threshold, 1, MAX_MILESTONE, ErrorCode.INVALID_VALUE)
    return threshold


def _image_url(check: Checker, value: str | None) -> str | None:
    url = check.text(["input", "imageUrl"], value, IMAGE_URL_MAX, required=False)
    if url is not None and not url.startswith(("https://", "http://")):
        check.add(ErrorCode.INVALID_VALUE, "imageUrl must be an http(s) URL", ["input", "imageUrl"])
    return url


async def create_badge(data: CreateBadgeInput) -> BadgeRecord:
    check = Checker()
    name = check.text(["input", "name"], data.name, NAME_MAX)
    description = check.text(["input", "description"], data.description, TEXT_MAX, required=False)
    image_url = _image_url(check, data.image_url)
    threshold = _threshold(check, data.milestone, data.threshold)
    key = check.idempotency_key(data.idempotency_key, required=False)
    check.raise_if_any()
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> BadgeRecord:
            count = await fetch_one(
                conn,
                "SELECT COUNT(*) AS n FROM badges WHERE program_id = ? AND archived_at IS NULL",
                (program.id,),
            )
            if count is not None and int(count["n"]) >= MAX_BADGES_PER_PROGRAM:
                raise DomainError(
                    ErrorCode.TOO_MANY,
                    f"a program has at most {MAX_BADGES_PER_PROGRAM} badges",
                    ["input", "programSlug"],
                )
            row = await fetch_one(
                conn,
                "INSERT INTO badges (program_id, name, description, image_url, milestone,"
                " threshold, active, archived_at, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) RETURNING {badge_row.columns}",
                (
                    program.id,
                    name,
                    description or "",
                    image_url,
                    data.milestone.value,
                    threshold,
                    True,
                    now,
                    now,
                ),
            )
            assert row is not None
            return badge_row(row)

        return await create_once_if_keyed(
            conn,
            **keyed_write(program.id, key, "createBadge", data, now),
            create=perform,
            remember_id_as="badgeId",
            read=lambda badge_id: read_in_scope(conn, badge_row, "badges", badge_id, None),
        )


async def get_badge(badge_id: int, scope: ProgramScope) -> BadgeRecord | None:
    return await read_in_scope(connection(), badge_row, "badges", badge_id, scope)


async def _require_badge(badge_id: int, scope: ProgramScope) -> BadgeRecord:
    badge = await get_badge(badge_id, scope)
    if badge is None:
        raise DomainError(ErrorCode.BADGE_NOT_FOUND, "no such badge", ["input", "id"])
    if badge.archived_at is not None:
        raise DomainError(ErrorCode.BADGE_ARCHIVED, "the badge is archived", ["input", "id"])
    return badge


async def update_badge(data: UpdateBadgeInput, scope: ProgramScope) -> BadgeRecord:
    """Change a badge. A new threshold applies from the members' next order or job run;
    badges already awarded stay."""
    check = Checker()
    name = check.changed_text(["input", "name"], data.name, NAME_MAX)
    description = check.changed_text(
        ["input", "description"], data.description, TEXT_MAX, required=False
    )
    image_url = None if data.image_url is None else _image_url(check, data.image_url)
    check.raise_if_any()
    badge = await _require_badge(data.badge_id, scope)
    threshold = badge.threshold
    if data.threshold is not None:
        threshold = _threshold(check, badge.milestone, data.threshold)
        check.raise_if_any()
    async with in_transaction() as conn:
        row = await fetch_one(
            conn,
            "UPDATE badges SET name = ?, description = ?, image_url = ?, threshold = ?,"
            f" active = ?, updated_at = ? WHERE id = ? RETURNING {badge_row.columns}",
            (
                name or badge.name,
                badge.description if data.description is None else (description or ""),
                badge.image_url if data.image_url is None else image_url,
                threshold,
                badge.active if data.active is None else data.active,
                utc_now(),
                badge.id,
            ),
        )
        assert row is not None
    return badge_row(row)


async def archive_badge(badge_id: int, scope: ProgramScope) -> BadgeRecord:
    """Final: the badge is awarded no more and challenges can no longer name it; members keep
    it. Archiving twice changes nothing."""
    badge = await get_badge(badge_id, scope)
    if badge is None:
        raise DomainError(ErrorCode.BADGE_NOT_FOUND, "no such badge", ["input", "id"])
    if badge.archived_at is not None:
        return badge
    now = utc_now()
    async with in_transaction() as conn:
        row = await fetch_one(
            conn,
            "UPDATE badges SET active = ?, archived_at = ?, updated_at = ?"
            f" WHERE id = ? AND archived_at IS NULL RETURNING {badge_row.columns}",
            (False, now, now, badge.id),
        )
    return badge if row is None else badge_row(row)


async def list_badges(program_id: int, *, include_archived: bool) -> list[BadgeRecord]:
    select = f"SELECT {badge_row.columns} FROM badges WHERE program_id = ?"
    if not include_archived:
        select += " AND archived_at IS NULL"
    rows = await fetch_all(connection(), select + " ORDER BY id", (program_id,))
    return badge_row.all(rows)


async def require_awardable_badge(
    conn: BaseDBAsyncClient, program_id: int, badge_id: int, field: list[str]
) -> None:
    """For a challenge naming a badge: one of the program's, not archived."""
    row = await fetch_one(
        conn, "SELECT program_id, archived_at FROM badges WHERE id = ?", (badge_id,)
    )
    if row is None or int(row["program_id"]) != program_id:
        raise DomainError(ErrorCode.BADGE_NOT_FOUND, "no such badge in the program", field)
    if row["archived_at"] is not None:
        raise DomainError(ErrorCode.BADGE_ARCHIVED, "the badge is archived", field)


# --- Awarding -------------------------------------------------------------------------------


async def award_badge(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    badge_id: int,
    source: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> bool:
    """Award the badge unless the member has it (or it is inactive); True when awarded now.
    The event `badge.awarded` is written with the award, once."""
    badge = await fetch_one(conn, "SELECT name, active FROM badges WHERE id = ?", (badge_id,))
    if badge is None or not badge["active"]:
        return False
    row = await fetch_one(
        conn,
        "INSERT INTO member_badges (program_id, member_id, badge_id, source, awarded_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id, badge_id) DO NOTHING RETURNING id",
        (program_id, member_id, badge_id, source, now),
    )
    if row is None:
        return False
    await append_event(
        conn,
        program_id=program_id,
        member_id=member_id,
        event_type="badge.awarded",
        payload={
            "badgeId": encode_id("Badge", badge_id),
            "memberId": encode_id("Member", member_id),
            "badgeName": badge["name"],
            "source": source,
            "awardedAt": now.isoformat(),
            **(details or {}),
        },
        now=now,
    )
    return True


async def has_order_milestones(conn: BaseDBAsyncClient, program_id: int) -> bool:
    """Whether the program has an active badge that orders earn (cached while the program's
    configuration is)."""

    async def load() -> bool:
        row = await fetch_one(
            conn,
            "SELECT id FROM badges WHERE program_id = ? AND milestone IN (?, ?) AND active = ?"
            " LIMIT 1",
            (
                program_id,
                BadgeMilestone.FIRST_ORDER.value,
                BadgeMilestone.ORDER_COUNT.value,
                True,
            ),
        )
        return row is not None

    return await cached("badges.order_milestones", program_id, load)


async def on_order_counted(
    conn: BaseDBAsyncClient, *, program_id: int, member_id: int, now: datetime
) -> None:
    """An order was recorded: badges of order milestones the member now reaches. Orders that
    count: every recorded order not cancelled or wholly refunded (a badge, once awarded,
    stays)."""
    badges = await fetch_all(
        conn,
        "SELECT id, threshold FROM badges WHERE program_id = ? AND active = ?"
        " AND milestone IN (?, ?) AND NOT EXISTS (SELECT 1 FROM member_badges m"
        " WHERE m.badge_id = badges.id AND m.member_id = ?) ORDER BY id",
        (
            program_id,
            True,
            BadgeMilestone.FIRST_ORDER.value,
            BadgeMilestone.ORDER_COUNT.value,
            member_id,
        ),
    )
    if not badges:
        return
    counted = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM orders WHERE member_id = ? AND status NOT IN (?, ?)",
        (member_id, "CANCELLED", "REFUNDED"),
    )
    assert counted is not None
    orders = int(counted["n"])
    for badge in badges:
        if orders >= int(badge["threshold"]):
            await award_badge(
                conn,
                program_id=program_id,
                member_id=member_id,
                badge_id=int(badge["id"]),
                source=MILESTONE_SOURCE,
                now=now,
            )


async def award_member_for_days(now: datetime, *, batch_size: int = 500) -> int:
    """The MEMBER_FOR_DAYS badges due at `now`: members enrolled at least `threshold` days ago
    (and not erased) who lack them, one short transaction per member; returns how many were
    awarded. Safe to re-run and to run concurrently: awarded members drop out of the query,
    and the unique index refuses a second award."""
    awarded = 0
    badges = await fetch_all(
        connection(),
        "SELECT id, program_id, threshold FROM badges WHERE milestone = ? AND active = ?"
        " ORDER BY id",
        (BadgeMilestone.MEMBER_FOR_DAYS.value, True),
    )
    for badge in badges:
        badge_id, program_id = int(badge["id"]), int(badge["program_id"])
        enrolled_by = now - timedelta(days=int(badge["threshold"]))
        after = 0
        while True:
            members = await fetch_all(
                connection(),
                "SELECT id FROM members WHERE program_id = ? AND enrolled_at <= ? AND id > ?"
                " AND erased_at IS NULL AND NOT EXISTS (SELECT 1 FROM member_badges m"
                " WHERE m.badge_id = ? AND m.member_id = members.id) ORDER BY id LIMIT ?",
                (program_id, enrolled_by, after, badge_id, batch_size),
            )
            if not members:
                break
            for member in members:
                async with in_transaction() as conn:
                    if await award_badge(
                        conn,
                        program_id=program_id,
                        member_id=int(member["id"]),
                        badge_id=badge_id,
                        source=MILESTONE_SOURCE,
                        now=now,
                    ):
                        awarded += 1
            after = int(members[-1]["id"])
    return awarded


async def member_badges(member_id: int) -> list[MemberBadgeRecord]:
    """The badges the member earned, in the order they were awarded."""
    return (await badges_by_member([member_id]))[member_id]


async def badges_by_member(member_ids: list[int]) -> dict[int, list[MemberBadgeRecord]]:
    """The badges each member earned, in the order they were awarded: one statement for a
    page of members (the `badges` loader)."""
    found: dict[int, list[MemberBadgeRecord]] = {member_id: [] for member_id in member_ids}
    if not member_ids:
        return found
    marks = ", ".join("?" for _ in member_ids)
    rows = await fetch_all(
        connection(),
        f"SELECT {_JOINED}, m.member_id AS award_member, m.id AS award_id,"
        " m.awarded_at AS award_at, m.source AS award_source"
        f" FROM member_badges m JOIN badges b ON b.id = m.badge_id WHERE m.member_id IN ({marks})"
        " ORDER BY m.awarded_at, m.id",
        tuple(member_ids),
    )
    for row in rows:
        found[int(row["award_member"])].append(
            MemberBadgeRecord(
                id=int(row["award_id"]),
                badge=badge_row(row),
                awarded_at=as_datetime(row["award_at"]),
                source=row["award_source"],
            )
        )
    return found
