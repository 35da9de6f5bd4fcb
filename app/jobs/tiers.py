"""Tier jobs: what time does to tiers, and bringing everyone to a changed configuration.

`tiers` re-evaluates the members whose tier can change with no activity of theirs (a period
ended, a grace period ended, activity left a rolling window, a membership floor ended): each
stored tier carries that instant (`member_tiers.review_at`). `tiers-recalculate` re-evaluates
every member of a program whose configuration changed, paged by member id with the position
saved after each page, so a killed run resumes where it stopped and a newer change restarts it.

Both are safe to re-run and to run twice at once: each member is evaluated in a transaction of
its own with the member row locked, evaluation is idempotent (it compares the history's answer
with the stored tier and writes only a difference), and entry rewards are claimed by a unique
(member, tier) row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from app.db import utc_now
from app.domain.tiers import TierChangeReason
from app.jobs.progress import Progress, SilentProgress
from app.services.tiers import service as tiers_service

DEFAULT_BATCH_SIZE = 500
logger = logging.getLogger("laurel.jobs")


async def review_tiers(
    now: datetime, progress: Progress | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    progress = progress or SilentProgress()
    progress.start(await tiers_service.count_due_for_review(now))
    reviewed = changed = 0
    last_member = 0
    while True:
        due = await tiers_service.due_for_review(now, last_member, batch_size)
        if not due:
            return {"members": reviewed, "changed": changed}
        for program_id, member_id in due:
            if await tiers_service.review_member(
                program_id, member_id, TierChangeReason.PERIOD_END, now
            ):
                changed += 1
            reviewed += 1
        progress.advance(len(due))
        last_member = due[-1][1]


async def recalculate_tiers(
    now: datetime, progress: Progress | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, int]:
    progress = progress or SilentProgress()
    programs = await tiers_service.programs_to_recalculate()
    total = 0
    for program_id, _, cursor in programs:
        total += await tiers_service.count_members(program_id, cursor or 0)
    progress.start(total)
    reviewed = changed = 0
    for program_id, version, cursor in programs:
        last_member = cursor or 0
        while True:
            members = await tiers_service.members_after(program_id, last_member, batch_size)
            if not members:
                await tiers_service.save_recalculation_cursor(program_id, version, None, done=True)
                break
            for member_id in members:
                if await tiers_service.review_member(
                    program_id, member_id, TierChangeReason.RECALCULATION, now
                ):
                    changed += 1
                reviewed += 1
            last_member = members[-1]
            await tiers_service.save_recalculation_cursor(
                program_id, version, last_member, done=False
            )
            progress.advance(len(members))
    return {"programs": len(programs), "members": reviewed, "changed": changed}


async def recalculate_after_changes() -> dict[str, int] | None:
    """`tiers-recalculate` when some program's tier configuration changed since its members
    were last evaluated (one small read otherwise); None when there was nothing to do."""
    if not await tiers_service.programs_to_recalculate():
        return None
    return await recalculate_tiers(utc_now())


async def recalculate_after_changes_forever(interval_seconds: float) -> None:
    """The server's watch for `configureTiers`: members are brought to a new configuration
    within about `interval_seconds`, without waiting for cron (tierStatus answers from the new
    configuration meanwhile)."""
    while True:
        try:
            done = await recalculate_after_changes()
            if done is not None:
                logger.info("tiers recalculated after a configuration change: %s", done)
        except Exception:
            logger.exception("tier recalculation failed; trying again in %s s", interval_seconds)
        await asyncio.sleep(interval_seconds)
