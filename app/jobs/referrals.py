"""Referral rewards whose return window has passed become final; the referral becomes REWARDED.

Runs after `mature`. Each reward is claimed by a guarded update in the transaction that settles
it (and matures its points if `mature` has not), so reruns and concurrent runners settle each
reward once.
"""

from __future__ import annotations

from datetime import datetime

from app.db import connection, fetch_all, fetch_one, in_transaction
from app.jobs.progress import Progress, SilentProgress
from app.services.referrals.payouts import settle_reward

DEFAULT_BATCH_SIZE = 500


async def settle_referral_rewards(
    now: datetime, progress: Progress | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    progress = progress or SilentProgress()
    due_filter = "status = 'PENDING' AND available_at <= ?"
    counted = await fetch_one(
        connection(), f"SELECT COUNT(*) AS n FROM referral_rewards WHERE {due_filter}", (now,)
    )
    progress.start(int(counted["n"]) if counted else 0)
    settled = 0
    last_id = 0
    while True:
        due = await fetch_all(
            connection(),
            f"SELECT id FROM referral_rewards WHERE {due_filter} AND id > ? ORDER BY id LIMIT ?",
            (now, last_id, batch_size),
        )
        if not due:
            return {"rewards": settled}
        for reward in due:
            async with in_transaction() as conn:
                if await settle_reward(conn, int(reward["id"]), now):
                    settled += 1
        progress.advance(len(due))
        last_id = int(due[-1]["id"])
