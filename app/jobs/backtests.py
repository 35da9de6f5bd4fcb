"""Running queued backtests (`startBacktest`): the import runner's loop runs them after uploads,
and `laurel jobs run backtests` runs them from cron."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from app.domain.errors import DomainError
from app.jobs.progress import Progress, SilentProgress
from app.services.backtests import jobs as jobs_service
from app.services.backtests.service import BacktestResult, run_backtest

log = logging.getLogger("laurel.backtests")

# How often a running backtest writes how far it got (after a page of orders).
PROGRESS_SECONDS = 1.0


async def run_claimed(job: jobs_service.BacktestJobRecord) -> None:
    """One claimed backtest, its progress written as it goes, its figures at the end."""
    last = [time.monotonic()]

    async def played(orders: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            await jobs_service.save_progress(job.id, orders)

    result: BacktestResult | None = None
    failure: str | None = None
    try:
        prepared = await jobs_service.started(job)
        result = await run_backtest(prepared, on_page=played)
    except DomainError as error:
        failure = f"{error.code.value}: {error.message}"
    except Exception:
        log.exception("backtest job %s failed", job.id)
        failure = "the backtest stopped on an unexpected error; start it again"
    await jobs_service.finish_backtest(job.id, result, failure)


async def run_queued_backtests(now: datetime, progress: Progress | None = None) -> dict[str, int]:
    """Run every backtest queued through the API (startBacktest), one after the other."""
    progress = progress or SilentProgress()
    ran = 0
    while (job := await jobs_service.claim_queued_backtest()) is not None:
        await run_claimed(job)
        ran += 1
        progress.advance(1)
    return {"backtests": ran}
