"""Members read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in
from app.services.members.service import MEMBER_COLUMNS, MemberRecord, member_row
from app.services.programs.service import ProgramScope, in_scope


async def members_by_id(member_ids: Sequence[int], scope: ProgramScope) -> dict[int, MemberRecord]:
    """`get_member` for many ids in one statement: those found in the scope, by id."""
    rows = await fetch_all_in(
        connection(), f"SELECT {MEMBER_COLUMNS} FROM members", "id", member_ids
    )
    records = (member_row(row) for row in rows)
    return {record.id: record for record in records if in_scope(record.program_id, scope)}
