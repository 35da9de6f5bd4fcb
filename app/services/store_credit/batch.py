"""Store credit movements read by the batch, for the API's DataLoaders
(app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.db import connection, fetch_all_in, fetch_first_in
from app.rows import grouped
from app.services.programs.service import ProgramScope, read_many_in_scope
from app.services.store_credit.service import (
    StoreCreditBalance,
    StoreCreditRecord,
    movement_row,
)


async def movements_by_id(
    movement_ids: Sequence[int], scope: ProgramScope
) -> dict[int, StoreCreditRecord]:
    """`get_movement` for many ids in one statement: those found in the scope, by id."""
    return await read_many_in_scope(
        f"SELECT {movement_row.columns} FROM store_credit_movements",
        movement_ids,
        movement_row,
        scope,
    )


async def balances_by_member(member_ids: Sequence[int]) -> dict[int, StoreCreditBalance]:
    """`balance_of` for many members in one statement, by member id."""
    rows = await fetch_all_in(
        connection(),
        "SELECT m.id, m.store_credit_minor, p.currency FROM members m"
        " JOIN programs p ON p.id = m.program_id",
        "m.id",
        member_ids,
    )
    return {
        int(row["id"]): StoreCreditBalance(
            balance_minor=int(row["store_credit_minor"]), currency=str(row["currency"])
        )
        for row in rows
    }


async def first_movements_by_member(
    member_ids: Sequence[int], limit: int
) -> dict[int, list[StoreCreditRecord]]:
    """`list_movements`' first page (up to `limit`, newest first) of many members in one
    statement, by member id."""
    rows = await fetch_first_in(
        connection(),
        movement_row.columns,
        "store_credit_movements",
        "member_id",
        member_ids,
        order_by="id DESC",
        limit=limit,
    )
    return grouped(map(movement_row, rows), lambda movement: movement.member_id)
