"""Paid memberships whose time is up end, on time and once (lifecycle in
app/domain/memberships.py).

Each membership is ended in a transaction of its own that locks the member, re-reads the
membership and ends it only if it is still due, recording `ends_at` as the end (not the time the
job ran), then re-evaluates the member's tier (the plan's tier floor is gone). Reruns and
concurrent runners end each membership once: an ended one is no longer due.
"""

from __future__ import annotations

from datetime import datetime

from app.jobs.progress import Progress, SilentProgress
from app.services.memberships import service as memberships_service

DEFAULT_BATCH_SIZE = 500


async def end_memberships(
    now: datetime, progress: Progress | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    progress = progress or SilentProgress()
    progress.start(await memberships_service.count_due_to_end(now))
    ended = 0
    last_id = 0
    while True:
        due = await memberships_service.due_to_end(now, last_id, batch_size)
        if not due:
            return {"memberships": ended}
        for membership_id in due:
            if await memberships_service.end_membership(membership_id, now):
                ended += 1
        progress.advance(len(due))
        last_id = due[-1]
