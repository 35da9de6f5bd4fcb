"""Programs read by the batch, for the API's DataLoaders (app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in
from app.services.programs.service import (
    PROGRAM_COLUMNS,
    ProgramRecord,
    ProgramScope,
    in_scope,
    program_row,
)


async def programs_by_id(
    program_ids: Sequence[int], scope: ProgramScope
) -> dict[int, ProgramRecord]:
    """`get_program` for many ids in one statement: those found in the scope, by id."""
    wanted = [program_id for program_id in program_ids if in_scope(program_id, scope)]
    rows = await fetch_all_in(connection(), f"SELECT {PROGRAM_COLUMNS} FROM programs", "id", wanted)
    return {record.id: record for record in map(program_row, rows)}
