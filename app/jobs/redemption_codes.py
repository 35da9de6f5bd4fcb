"""Codes past their reward's validity become EXPIRED (`laurel jobs run expire-codes`).

Each code is its own transaction with a guarded ISSUED -> EXPIRED update
(app/services/rewards/codes.py `expire_redemption`): a code used, cancelled or expired by
another run meanwhile is skipped, so the job can run twice, at once, or after a crash, and each
code expires once. Due codes are read through the partial index `ix_redemptions_expiring`
in (expires_at, id) pages, so a run reads what is due and nothing else.
"""

from __future__ import annotations

from datetime import datetime

from app.db import as_datetime, connection, fetch_all, fetch_one
from app.domain.rewards import RedemptionStatus
from app.jobs.progress import Progress
from app.services.rewards.codes import expire_redemption

DEFAULT_BATCH_SIZE = 500

_DUE = (
    "SELECT id, expires_at FROM redemptions WHERE status = ? AND expires_at IS NOT NULL"
    " AND expires_at <= ?{after} ORDER BY expires_at, id LIMIT ?"
)
_FIRST_DUE = _DUE.format(after="")
_NEXT_DUE = _DUE.format(after=" AND (expires_at, id) > (?, ?)")


async def expire_codes(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """Expire every issued code whose time has come; the points go back only where the
    program says so (a redemption setting)."""
    conn = connection()
    issued = RedemptionStatus.ISSUED.value
    counted = await fetch_one(
        conn,
        "SELECT COUNT(*) AS n FROM redemptions WHERE status = ? AND expires_at IS NOT NULL"
        " AND expires_at <= ?",
        (issued, now),
    )
    progress.start(int(counted["n"]) if counted else 0)
    codes = points = 0
    due = await fetch_all(conn, _FIRST_DUE, (issued, now, batch_size))
    while due:
        for row in due:
            returned = await expire_redemption(int(row["id"]), now)
            if returned is not None:
                codes += 1
                points += returned
        progress.advance(len(due))
        last_at, last_id = as_datetime(due[-1]["expires_at"]), int(due[-1]["id"])
        due = await fetch_all(conn, _NEXT_DUE, (issued, now, last_at, last_id, batch_size))
    return {"codes": codes, "points": points}
