"""The next expiries of members' points read by the batch, for the API's DataLoaders
(app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all, fetch_all_in
from app.domain.expiry import ExpiryPolicy
from app.rows import grouped
from app.services.ledger.service import expiry_settings
from app.services.lifecycle.expiries import (
    EXPIRING_LOTS,
    MOMENTS_READ,
    UpcomingExpiry,
    expiries_by_day,
    inactivity_expiry,
)


async def next_expiries_by_member(
    members: Sequence[tuple[int, int]],
) -> dict[tuple[int, int], list[UpcomingExpiry]]:
    """`next_expiries` (all of them, soonest first) of many (member id, program id) pairs: the
    settings of each program, then one statement for the members of each expiry policy."""
    conn = connection()
    programs = {
        program_id: await expiry_settings(conn, program_id)
        for program_id in dict.fromkeys(program_id for _, program_id in members)
    }
    by_policy = grouped(members, lambda member: programs[member[1]].policy)
    expiries: dict[tuple[int, int], list[UpcomingExpiry]] = {}
    inactive = by_policy.get(ExpiryPolicy.INACTIVITY, [])
    for row in await fetch_all_in(
        conn,
        "SELECT id, program_id, points_available, last_activity_at FROM members",
        "id",
        [member_id for member_id, _ in inactive],
    ):
        key = (int(row["id"]), int(row["program_id"]))
        expiries[key] = inactivity_expiry(row, programs[key[1]])
    lots = [
        member
        for policy, policy_members in by_policy.items()
        if policy not in (ExpiryPolicy.INACTIVITY, ExpiryPolicy.NONE)
        for member in policy_members
    ]
    if lots:
        program_of = dict(lots)
        placeholders = ", ".join("?" * len(program_of))
        rows = await fetch_all(
            conn,
            "SELECT member_id, expires_at, points FROM (SELECT member_id, expires_at,"
            " SUM(remaining) AS points, ROW_NUMBER() OVER"
            " (PARTITION BY member_id ORDER BY expires_at) AS row_in_key FROM point_lots"
            f" WHERE member_id IN ({placeholders}) AND {EXPIRING_LOTS}"
            " GROUP BY member_id, expires_at) AS moments"
            " WHERE row_in_key <= ? ORDER BY member_id, expires_at",
            [*program_of, MOMENTS_READ],
        )
        moments = grouped(rows, lambda row: int(row["member_id"]))
        for member_id, program_id in program_of.items():
            expiries[(member_id, program_id)] = expiries_by_day(
                moments.get(member_id, []), programs[program_id]
            )
    return expiries
