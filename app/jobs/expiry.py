"""Expiry and its warnings (policies in app/domain/expiry.py).

Each member's expiry is one database transaction that locks the member, re-reads what is due and
posts one EXPIRE ledger transaction naming the lots it empties. Whoever runs it, twice, at once
or after a crash, a lot is emptied once: an emptied lot is no longer due, and the ledger's
guarded update refuses a lot that changed under it.

Due lots are read through a partial index of unspent, dated lots ordered by (expires_at, id),
so a run reads what is due and nothing else, however large the table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import (
    as_datetime,
    as_optional_datetime,
    connection,
    fetch_all,
    fetch_one,
    in_transaction,
)
from app.domain.expiry import ExpiryPolicy, ExpirySettings, local_date
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.jobs.due import DueRows, due_pages
from app.jobs.progress import Progress
from app.services.core.events import append_event
from app.services.ledger.service import Movement, expiry_settings, post_movement

DEFAULT_BATCH_SIZE = 500

_DUE_LOTS = DueRows(
    table="point_lots",
    columns="id, member_id, expires_at",
    condition="remaining > 0 AND pending_until IS NULL AND expires_at IS NOT NULL"
    " AND expires_at <= ?",
    due_column="expires_at",
)


async def _programs_with(policy: ExpiryPolicy) -> list[tuple[int, ExpirySettings]]:
    conn = connection()
    rows = await fetch_all(
        conn, "SELECT id FROM programs WHERE expiry_policy = ? ORDER BY id", (policy.value,)
    )
    return [(int(row["id"]), await expiry_settings(conn, int(row["id"]))) for row in rows]


async def _lock_member(conn: BaseDBAsyncClient, member_id: int) -> dict[str, Any] | None:
    return await fetch_one(
        conn,
        "UPDATE members SET points_available = points_available WHERE id = ?"
        " RETURNING program_id, points_available, last_activity_at",
        (member_id,),
    )


async def _expire(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    lots: list[dict[str, Any]],
    reason: str,
    now: datetime,
) -> int:
    total = sum(int(lot["remaining"]) for lot in lots)
    if total == 0:
        return 0
    await post_movement(
        conn,
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=TransactionKind.EXPIRE,
            points=-total,
            counter_account=Account.PROGRAM_EXPIRED,
            description=f"{total} points expired ({reason})",
            expiring_lots=tuple((int(lot["id"]), int(lot["remaining"])) for lot in lots),
            event_details={"reason": reason, "lots": len(lots)},
        ),
        now,
    )
    return total


async def expire_member_lots(member_id: int, now: datetime) -> int:
    """LOT_LIFETIME: empty the member's lots due at `now`, in one transaction."""
    async with in_transaction() as conn:
        member = await _lock_member(conn, member_id)
        if member is None:
            return 0
        program_id = int(member["program_id"])
        if (await expiry_settings(conn, program_id)).policy is not ExpiryPolicy.LOT_LIFETIME:
            return 0
        lots = await fetch_all(
            conn,
            "SELECT id, remaining FROM point_lots WHERE member_id = ? AND remaining > 0"
            " AND pending_until IS NULL AND expires_at IS NOT NULL AND expires_at <= ?"
            " ORDER BY expires_at, id",
            (member_id, now),
        )
        return await _expire(
            conn,
            program_id=program_id,
            member_id=member_id,
            lots=lots,
            reason="lot lifetime",
            now=now,
        )


async def expire_lots(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """LOT_LIFETIME: empty every lot whose date has passed, one transaction per member."""
    members = points = 0
    async for due in due_pages(_DUE_LOTS, (now,), progress, batch_size):
        done: set[int] = set()
        for lot in due:
            member_id = int(lot["member_id"])
            if member_id in done:
                continue
            done.add(member_id)
            expired = await expire_member_lots(member_id, now)
            if expired:
                members += 1
                points += expired
    return {"members": members, "points": points}


async def _expire_idle_member(member_id: int, settings: ExpirySettings, now: datetime) -> int:
    async with in_transaction() as conn:
        member = await _lock_member(conn, member_id)
        if member is None or int(member["points_available"]) == 0:
            return 0
        deadline = settings.inactivity_deadline(as_optional_datetime(member["last_activity_at"]))
        if deadline is None or deadline > now:
            return 0
        lots = await fetch_all(
            conn,
            "SELECT id, remaining FROM point_lots WHERE member_id = ? AND remaining > 0"
            " AND pending_until IS NULL ORDER BY id",
            (member_id,),
        )
        return await _expire(
            conn,
            program_id=int(member["program_id"]),
            member_id=member_id,
            lots=lots,
            reason="inactivity",
            now=now,
        )


async def _idle_candidates(
    program_id: int, idle_before: datetime, after_id: int, batch_size: int
) -> list[dict[str, Any]]:
    """Members holding points whose last activity is before `idle_before` (never active
    counts as idle since expiry was turned on; callers check the exact deadline)."""
    return await fetch_all(
        connection(),
        "SELECT id, last_activity_at, points_available FROM members WHERE program_id = ?"
        " AND points_available > 0 AND (last_activity_at IS NULL OR last_activity_at < ?)"
        " AND id > ? ORDER BY id LIMIT ?",
        (program_id, idle_before, after_id, batch_size),
    )


async def expire_inactive(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """INACTIVITY: expire everything unspent of members idle past the program's limit."""
    members = points = 0
    programs = await _programs_with(ExpiryPolicy.INACTIVITY)
    progress.start(len(programs))
    for program_id, settings in programs:
        earliest = settings.inactivity_deadline(None)
        if earliest is None or earliest > now:
            progress.advance(1)
            continue
        after_id = 0
        idle_before = settings.idle_since_before(now)
        while True:
            batch = await _idle_candidates(program_id, idle_before, after_id, batch_size)
            if not batch:
                break
            for row in batch:
                expired = await _expire_idle_member(int(row["id"]), settings, now)
                if expired:
                    members += 1
                    points += expired
            after_id = int(batch[-1]["id"])
        progress.advance(1)
    return {"members": members, "points": points}


async def _warn(
    *,
    program_id: int,
    zone: str,
    upcoming: dict[tuple[int, date], tuple[datetime, int]],
    now: datetime,
) -> int:
    """Record and announce each (member, date) not warned before; returns how many were new."""
    sent = 0
    async with in_transaction() as conn:
        for (member_id, expires_on), (expires_at, points) in sorted(upcoming.items()):
            inserted = await fetch_one(
                conn,
                "INSERT INTO expiry_warnings (program_id, member_id, expires_on, expires_at,"
                " points, created_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (member_id, expires_on) DO NOTHING RETURNING id",
                (program_id, member_id, expires_on, expires_at, points, now),
            )
            if inserted is None:
                continue
            sent += 1
            await append_event(
                conn,
                program_id=program_id,
                member_id=member_id,
                event_type="points.expiring",
                payload={
                    "memberId": encode_id("Member", member_id),
                    "points": points,
                    "expiresAt": expires_at.isoformat(),
                    "expiresOn": expires_on.isoformat(),
                    "timeZone": zone,
                },
                now=now,
            )
    return sent


def _end_of_local_day(moment: datetime, zone: str) -> datetime:
    """The first instant of the next day in the zone: a warning covers whole days, so every
    point expiring on the warned date is in it."""
    day = local_date(moment, zone) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def _warn_lot_lifetime(
    program_id: int, settings: ExpirySettings, now: datetime, batch_size: int
) -> int:
    horizon = _end_of_local_day(now + timedelta(days=settings.warning_days), settings.zone)
    sent = 0
    after_member = 0
    while True:
        # A page of members, then all of each member's lots in the window, so a member's
        # total for a date is never split across pages.
        members = await fetch_all(
            connection(),
            "SELECT DISTINCT member_id FROM point_lots WHERE program_id = ? AND remaining > 0"
            " AND pending_until IS NULL AND expires_at > ? AND expires_at <= ?"
            " AND member_id > ? ORDER BY member_id LIMIT ?",
            (program_id, now, horizon, after_member, batch_size),
        )
        if not members:
            return sent
        ids = [int(row["member_id"]) for row in members]
        marks = ", ".join("?" for _ in ids)
        lots = await fetch_all(
            connection(),
            "SELECT member_id, expires_at, remaining FROM point_lots WHERE remaining > 0"
            " AND pending_until IS NULL AND expires_at > ? AND expires_at <= ?"
            f" AND member_id IN ({marks})",
            (now, horizon, *ids),
        )
        upcoming: dict[tuple[int, date], tuple[datetime, int]] = {}
        totals: defaultdict[tuple[int, date], int] = defaultdict(int)
        firsts: dict[tuple[int, date], datetime] = {}
        for lot in lots:
            expires_at = as_datetime(lot["expires_at"])
            key = (int(lot["member_id"]), local_date(expires_at, settings.zone))
            totals[key] += int(lot["remaining"])
            firsts[key] = min(firsts.get(key, expires_at), expires_at)
        for key, points in totals.items():
            upcoming[key] = (firsts[key], points)
        sent += await _warn(program_id=program_id, zone=settings.zone, upcoming=upcoming, now=now)
        after_member = ids[-1]


async def _warn_inactivity(
    program_id: int, settings: ExpirySettings, now: datetime, batch_size: int
) -> int:
    horizon = now + timedelta(days=settings.warning_days)
    idle_before = settings.idle_since_before(horizon)
    sent = 0
    after_id = 0
    while True:
        batch = await _idle_candidates(program_id, idle_before, after_id, batch_size)
        if not batch:
            return sent
        upcoming: dict[tuple[int, date], tuple[datetime, int]] = {}
        for row in batch:
            deadline = settings.inactivity_deadline(as_optional_datetime(row["last_activity_at"]))
            if deadline is not None and now < deadline <= horizon:
                key = (int(row["id"]), local_date(deadline, settings.zone))
                upcoming[key] = (deadline, int(row["points_available"]))
        sent += await _warn(program_id=program_id, zone=settings.zone, upcoming=upcoming, now=now)
        after_id = int(batch[-1]["id"])


async def send_expiry_warnings(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """One `points.expiring` event per member and expiry date, `warning_days` ahead."""
    programs = [
        (program_id, settings)
        for policy in (ExpiryPolicy.LOT_LIFETIME, ExpiryPolicy.INACTIVITY)
        for program_id, settings in await _programs_with(policy)
        if settings.warning_days > 0
    ]
    progress.start(len(programs))
    sent = 0
    for program_id, settings in programs:
        if settings.policy is ExpiryPolicy.LOT_LIFETIME:
            sent += await _warn_lot_lifetime(program_id, settings, now, batch_size)
        else:
            sent += await _warn_inactivity(program_id, settings, now, batch_size)
        progress.advance(1)
    return {"warnings": sent}
