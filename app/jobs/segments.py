"""Segment memberships the clock moves: every run re-evaluates each segment whose conditions
depend on time ("no order for 90 days", "spent 500 in the last year", "member for a year"),
and any segment not evaluated in full since it was saved.

Safe to re-run and to kill midway: each chunk of members is its own transaction that writes
only differences (a member who is already in is not added again, nor announced again).
"""

from __future__ import annotations

from datetime import datetime

from app.jobs.progress import Progress
from app.services.segments.membership import refresh_segment, segments_due_for_refresh


async def refresh_segments(now: datetime, progress: Progress) -> dict[str, int]:
    due = await segments_due_for_refresh()
    progress.start(len(due))
    entered = left = 0
    for segment_id in due:
        result = await refresh_segment(segment_id, now)
        entered += result.entered
        left += result.left
        progress.advance(1)
    return {"segments": len(due), "entered": entered, "left": left}
