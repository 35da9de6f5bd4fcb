"""Forgetting old idempotency records: a key is honoured for the retention period, then freed.

Orders and action references keep their own uniqueness forever; only the replay of a stored
response expires with its record.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db import connection, execute, fetch_one
from app.jobs.progress import Progress

DEFAULT_BATCH_SIZE = 1000


async def purge_idempotency_records(
    now: datetime,
    progress: Progress,
    *,
    retention_days: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, int]:
    cutoff = now - timedelta(days=retention_days)
    conn = connection()
    counted = await fetch_one(
        conn, "SELECT COUNT(*) AS n FROM idempotency_records WHERE created_at < ?", (cutoff,)
    )
    progress.start(int(counted["n"]) if counted else 0)
    purged = 0
    while True:
        # Small batches keep each delete's locks short next to live traffic.
        deleted = await execute(
            conn,
            "DELETE FROM idempotency_records WHERE id IN (SELECT id FROM idempotency_records"
            " WHERE created_at < ? ORDER BY id LIMIT ?)",
            (cutoff, batch_size),
        )
        if deleted == 0:
            return {"records": purged}
        purged += deleted
        progress.advance(deleted)
