"""Store credit movements read by the batch, for the API's DataLoaders
(app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in
from app.services.programs.service import ProgramScope, in_scope
from app.services.store_credit.service import StoreCreditRecord, movement_row


async def movements_by_id(
    movement_ids: Sequence[int], scope: ProgramScope
) -> dict[int, StoreCreditRecord]:
    """`get_movement` for many ids in one statement: those found in the scope, by id."""
    rows = await fetch_all_in(
        connection(),
        f"SELECT {movement_row.columns} FROM store_credit_movements",
        "id",
        movement_ids,
    )
    records = (movement_row(row) for row in rows)
    return {record.id: record for record in records if in_scope(record.program_id, scope)}
