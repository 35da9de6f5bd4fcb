"""Codes past their reward's validity become EXPIRED (`laurel jobs run expire-codes`).

Each code is its own transaction with a guarded ISSUED -> EXPIRED update
(app/services/rewards/codes.py `expire_redemption`): a code used, cancelled or expired by
another run meanwhile is skipped, so the job can run twice, at once, or after a crash, and each
code expires once. Due codes are read through the partial index `ix_redemptions_expiring`
in (expires_at, id) pages, so a run reads what is due and nothing else.
"""

from __future__ import annotations

from datetime import datetime

from app.domain.rewards import RedemptionStatus
from app.jobs.due import DueRows, due_pages
from app.jobs.progress import Progress
from app.services.rewards.codes import expire_redemption

DEFAULT_BATCH_SIZE = 500

_DUE = DueRows(
    table="redemptions",
    columns="id, expires_at",
    condition="status = ? AND expires_at IS NOT NULL AND expires_at <= ?",
    due_column="expires_at",
)


async def expire_codes(
    now: datetime, progress: Progress, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    """Expire every issued code whose time has come; the points go back only where the
    program says so (a redemption setting)."""
    codes = points = 0
    async for due in due_pages(_DUE, (RedemptionStatus.ISSUED.value, now), progress, batch_size):
        for row in due:
            returned = await expire_redemption(int(row["id"]), now)
            if returned is not None:
                codes += 1
                points += returned
    return {"codes": codes, "points": points}
