"""What a member will lose, and when: the next expiry dates of their points."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.db import as_datetime, as_optional_datetime, connection, fetch_all, fetch_one
from app.domain.expiry import ExpiryPolicy, ExpirySettings, local_date
from app.services.ledger.service import expiry_settings

# Rows read per member at most: one per distinct expiry moment.
MOMENTS_READ = 1000
# The point lots whose points will expire.
EXPIRING_LOTS = "remaining > 0 AND pending_until IS NULL AND expires_at IS NOT NULL"


@dataclass(frozen=True)
class UpcomingExpiry:
    points: int
    expires_at: datetime
    # The date in the program's time zone; lots expiring the same day are summed.
    expires_on: date


async def next_expiries(member_id: int, program_id: int, limit: int) -> list[UpcomingExpiry]:
    conn = connection()
    settings = await expiry_settings(conn, program_id)
    if settings.policy is ExpiryPolicy.INACTIVITY:
        member = await fetch_one(
            conn,
            "SELECT points_available, last_activity_at FROM members WHERE id = ?",
            (member_id,),
        )
        return [] if member is None else inactivity_expiry(member, settings)
    if settings.policy is ExpiryPolicy.NONE:
        return []
    rows = await fetch_all(
        conn,
        "SELECT expires_at, SUM(remaining) AS points FROM point_lots WHERE member_id = ?"
        f" AND {EXPIRING_LOTS} GROUP BY expires_at ORDER BY expires_at LIMIT ?",
        (member_id, MOMENTS_READ),
    )
    return expiries_by_day(rows, settings)[:limit]


def inactivity_expiry(member: Mapping[str, Any], settings: ExpirySettings) -> list[UpcomingExpiry]:
    """Under INACTIVITY: all of the member's available points, when their inactivity ends.
    `member` has the member's points_available and last_activity_at."""
    if int(member["points_available"]) == 0:
        return []
    deadline = settings.inactivity_deadline(as_optional_datetime(member["last_activity_at"]))
    assert deadline is not None
    return [
        UpcomingExpiry(
            points=int(member["points_available"]),
            expires_at=deadline,
            expires_on=local_date(deadline, settings.zone),
        )
    ]


def expiries_by_day(
    rows: Iterable[Mapping[str, Any]], settings: ExpirySettings
) -> list[UpcomingExpiry]:
    """The member's expiring points (rows of expires_at and points, soonest first) summed by
    day in the program's time zone."""
    by_day: dict[date, UpcomingExpiry] = {}
    for row in rows:
        expires_at = as_datetime(row["expires_at"])
        day = local_date(expires_at, settings.zone)
        earlier = by_day.get(day)
        by_day[day] = UpcomingExpiry(
            points=int(row["points"]) + (earlier.points if earlier else 0),
            expires_at=earlier.expires_at if earlier else expires_at,
            expires_on=day,
        )
    return list(by_day.values())
