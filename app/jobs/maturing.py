"""Maturing: pending purchase points become spendable when the return window has passed."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from app.db import connection, fetch_all, fetch_one
from app.jobs.progress import Progress, SilentProgress
from app.services.ledger import mature_lot

DEFAULT_BATCH_SIZE = 500


async def mature_due_points(
    now: datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> int:
    """Mature every lot due at `now`, one transaction per lot; returns how many matured.

    Lots are read in id batches, so memory stays bounded however many are due. Running it twice,
    concurrently, or again after it was killed matures each lot once: `mature_lot` claims the
    lot with a guarded update.
    """
    progress = progress or SilentProgress()
    counted = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NOT NULL"
        " AND pending_until <= ?",
        (now,),
    )
    progress.start(int(counted["n"]) if counted else 0)
    matured = 0
    last_id = 0
    while True:
        due = await fetch_all(
            connection(),
            "SELECT id FROM point_lots WHERE pending_until IS NOT NULL AND pending_until <= ?"
            " AND id > ? ORDER BY id LIMIT ?",
            (now, last_id, batch_size),
        )
        if not due:
            return matured
        for lot in due:
            async with in_transaction() as conn:
                if await mature_lot(conn, int(lot["id"]), now) is not None:
                    matured += 1
        progress.advance(len(due))
        last_id = int(due[-1]["id"])
