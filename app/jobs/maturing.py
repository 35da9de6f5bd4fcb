"""Maturing: pending purchase points become spendable when the return window has passed."""

from __future__ import annotations

from datetime import datetime

from app.db import as_datetime, connection, fetch_all, fetch_one, in_transaction
from app.jobs.progress import Progress, SilentProgress
from app.services.ledger.service import mature_lot

DEFAULT_BATCH_SIZE = 500

# Pages walk the partial index on (pending_until, id) of pending lots: a run reads what is due
# and nothing else (a cursor on id alone let PostgreSQL's generic plan scan the primary key).
_DUE = (
    "SELECT id, pending_until FROM point_lots WHERE pending_until IS NOT NULL"
    " AND pending_until <= ?{after} ORDER BY pending_until, id LIMIT ?"
)
_FIRST_DUE = _DUE.format(after="")
_NEXT_DUE = _DUE.format(after=" AND (pending_until, id) > (?, ?)")


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
    progress = progress or SilentProgress()
    counted = await fetch_one(
        connection(),
        "SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NOT NULL"
        " AND pending_until <= ?",
        (now,),
    )
    progress.start(int(counted["n"]) if counted else 0)
    matured = 0
    due = await fetch_all(connection(), _FIRST_DUE, (now, batch_size))
    while due:
        for lot in due:
            async with in_transaction() as conn:
                if await mature_lot(conn, int(lot["id"]), now) is not None:
                    matured += 1
        progress.advance(len(due))
        last = due[-1]
        due = await fetch_all(
            connection(),
            _NEXT_DUE,
            (now, as_datetime(last["pending_until"]), last["id"], batch_size),
        )
    return matured
