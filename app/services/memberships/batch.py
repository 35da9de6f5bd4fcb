"""Memberships and plans read by the batch, for the API's DataLoaders
(app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in
from app.rows import grouped
from app.services.memberships.service import (
    PLAN_COLUMNS,
    PLAN_FROM,
    MembershipRecord,
    PlanRecord,
    membership_row,
    plan_row,
)
from app.services.programs.service import ProgramScope, read_many_in_scope


async def plans_by_id(plan_ids: Sequence[int], scope: ProgramScope) -> dict[int, PlanRecord]:
    """`get_plan` for many ids in one statement: those found in the scope, by id."""
    return await read_many_in_scope(
        f"SELECT {PLAN_COLUMNS}{PLAN_FROM}", plan_ids, plan_row, scope, id_column="p.id"
    )


async def memberships_by_member(member_ids: Sequence[int]) -> dict[int, list[MembershipRecord]]:
    """`memberships_of` for many members in one statement, newest first, by member id."""
    rows = await fetch_all_in(
        connection(),
        f"SELECT {membership_row.columns} FROM memberships",
        "member_id",
        member_ids,
        "id DESC",
    )
    return grouped(map(membership_row, rows), lambda membership: membership.member_id)
