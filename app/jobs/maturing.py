"""Maturing: pending purchase points become spendable when the return window has passed."""

from __future__ import annotations

from datetime import datetime

from app.db import in_transaction
from app.jobs.due import DueRows, due_pages
from app.jobs.progress import Progress, SilentProgress
from app.services.ledger.service import mature_lot

DEFAULT_BATCH_SIZE = 500

# Pages walk the partial index on (pending_until, id) of pending lots: a run reads what is due
# and nothing else (a cursor on id alone let PostgreSQL's generic plan scan the primary key).
_DUE = DueRows(
    table="point_lots",
    columns="id, pending_until",
    condition="pending_until IS NOT NULL AND pending_until <= ?",
    due_column="pending_until",
)


async def mature_due_points(
    now: datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> int:
    """Mature every lot due at `now`, one transaction per lot; returns how many matured.

    Lots are read in batches, so memory stays bounded however many are due. Running it twice,
    concurrently, or again after it was killed matures each lot once: `mature_lot` claims the
    lot with a guarded update.
    """
    matured = 0
    async for due in due_pages(_DUE, (now,), progress or SilentProgress(), batch_size):
        for lot in due:
            async with in_transaction() as conn:
                if await mature_lot(conn, int(lot["id"]), now) is not None:
                    matured += 1
    return matured
