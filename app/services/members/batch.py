"""Members read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_first_in
from app.rows import grouped
from app.services.members.service import (
    ACTIVITY_COLUMNS,
    MEMBER_COLUMNS,
    POINTS_ONLY,
    ActivityRecord,
    MemberRecord,
    activity_row,
    member_row,
)
from app.services.programs.service import ProgramScope, read_many_in_scope


async def members_by_id(member_ids: Sequence[int], scope: ProgramScope) -> dict[int, MemberRecord]:
    """`get_member` for many ids in one statement: those found in the scope, by id."""
    return await read_many_in_scope(
        f"SELECT {MEMBER_COLUMNS} FROM members", member_ids, member_row, scope
    )


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
    return grouped(map(activity_row, rows), lambda activity: activity.member_id)
