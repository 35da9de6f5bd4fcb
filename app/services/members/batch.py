"""Members read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in, fetch_first_in
from app.services.members.service import (
    ACTIVITY_COLUMNS,
    MEMBER_COLUMNS,
    POINTS_ONLY,
    ActivityRecord,
    MemberRecord,
    activity_row,
    member_row,
)
from app.services.programs.service import ProgramScope, in_scope


async def members_by_id(member_ids: Sequence[int], scope: ProgramScope) -> dict[int, MemberRecord]:
    """`get_member` for many ids in one statement: those found in the scope, by id."""
    rows = await fetch_all_in(
        connection(), f"SELECT {MEMBER_COLUMNS} FROM members", "id", member_ids
    )
    records = (member_row(row) for row in rows)
    return {record.id: record for record in records if in_scope(record.program_id, scope)}


async def first_activities_by_member(
    member_ids: Sequence[int], limit: int
) -> dict[int, list[ActivityRecord]]:
    """`list_activity`'s first page (up to `limit`, newest first) of many members in one
    statement, by member id."""
    rows = await fetch_first_in(
        connection(),
        ", ".join(ACTIVITY_COLUMNS),
        "ledger_transactions",
        "member_id",
        member_ids,
        order_by="id DESC",
        limit=limit,
        also=POINTS_ONLY,
    )
    activities: dict[int, list[ActivityRecord]] = {}
    for record in map(activity_row, rows):
        activities.setdefault(record.member_id, []).append(record)
    return activities
