"""The `analytics-summaries` job: every program's closed-period summaries kept ready
(app/services/analytics/summaries.py), so the first reader of a settled month pays nothing.

A run after the summaries are current reads them and recounts nothing, so the in-process
runner may call it every round; what it costs is counting what a late write made stale and,
once a month, the month that just settled."""

from __future__ import annotations

from datetime import datetime

from app.jobs.progress import Progress
from app.services.analytics import summaries
from app.services.programs.service import list_programs


async def summarise_analytics(now: datetime, progress: Progress) -> dict[str, int]:
    # `now` is not used: what is settled is decided by the process's clock (summaries.py), so
    # a run as of another time (`--as-of`) neither settles a month early nor leaves one open.
    del now
    programs = await list_programs(None)
    progress.start(len(programs))
    spans = cohorts = 0
    for program in programs:
        counted = await summaries.summarise(program.id)
        spans += counted.spans
        cohorts += counted.cohorts
        progress.advance(1)
    return {"programs": len(programs), "spans": spans, "cohorts": cohorts}
