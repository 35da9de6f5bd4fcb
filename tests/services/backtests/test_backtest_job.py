"""Backtest jobs: queued, run by the import runner's job, progress written page by page, the
result equal to the synchronous backtest's, and nothing written but the job's own row (a
snapshot of the program's tables before and after). Both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import ManualClock
from app.db import connection, fetch_one
from app.domain.earning import RuleKind
from app.domain.errors import DomainError, ErrorCode
from app.jobs import backtests as backtest_runner
from app.jobs.runner import JobName, run_job
from app.services.backtests import jobs as jobs_service
from app.services.backtests import service as backtests
from app.services.backtests.service import Proposal, ProposedRule
from tests.services.backtests.test_backtest import PROPOSAL, START, shop, snapshot

PERIOD_END = START + timedelta(days=366)
FULL_PROPOSAL = Proposal(
    points_per_currency_unit=PROPOSAL.points_per_currency_unit,
    rules=(
        ProposedRule(
            name="Double SKU-1",
            kind=RuleKind.MULTIPLIER,
            multiplier="2",
            starts_at=START,
            ends_at=START + timedelta(days=100),
            include_skus=("SKU-1",),
        ),
    ),
    tier_metric=PROPOSAL.tier_metric,
    tiers=PROPOSAL.tiers,
    expiry_days=90,
)


async def test_a_backtest_job_plays_the_orders_with_progress_and_writes_only_its_own_row(
    db: None, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await shop("shop", 1, tiers=False)
    data = backtests.BacktestInput("shop", START, PERIOD_END, FULL_PROPOSAL)
    expected = await backtests.backtest_program(data, None)
    # Pages of 5 orders, progress written after each one: 24 orders, 5 pages.
    monkeypatch.setattr(backtests, "PAGE_SIZE", 5)
    monkeypatch.setattr(backtest_runner, "PROGRESS_SECONDS", 0.0)
    seen: list[tuple[str, int, int]] = []
    save = jobs_service.save_progress

    async def watched(job_id: int, orders_done: int) -> None:
        await save(job_id, orders_done)
        row = await fetch_one(
            connection(),
            "SELECT status, orders_total, orders_done FROM backtest_jobs WHERE id = ?",
            (job_id,),
        )
        assert row is not None
        seen.append((str(row["status"]), int(row["orders_total"]), int(row["orders_done"])))

    monkeypatch.setattr(jobs_service, "save_progress", watched)
    before = await snapshot()

    queued = await jobs_service.queue_backtest(data, None)
    assert (queued.status, queued.result, queued.input) == ("QUEUED", None, data)
    ran = await run_job(JobName.BACKTESTS, clock.now())

    assert ran.summary == {"backtests": 1}
    assert seen == [("RUNNING", 24, n) for n in (5, 10, 15, 20, 24)]
    job = await jobs_service.get_backtest_job(queued.id, None)
    assert job is not None
    assert (job.status, job.failure, job.orders_total, job.orders_done) == ("DONE", None, 24, 24)
    assert job.finished_at is not None
    assert job.result == expected
    assert expected.proposed != expected.current
    # Nothing of the program's data moved (import_jobs included: the runner is shared).
    assert await snapshot() == before
    assert (await run_job(JobName.BACKTESTS, clock.now())).summary == {"backtests": 0}


async def test_a_backtest_job_is_checked_when_queued_and_fails_with_its_reason_when_run(
    db: None, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await shop("shop", 1, tiers=False)
    with pytest.raises(DomainError) as backwards:
        await jobs_service.queue_backtest(backtests.BacktestInput("shop", PERIOD_END, START), None)
    assert backwards.value.code is ErrorCode.INVALID_VALUE
    with pytest.raises(DomainError) as unknown:
        await jobs_service.queue_backtest(backtests.BacktestInput("nope", START, PERIOD_END), None)
    assert unknown.value.code is ErrorCode.PROGRAM_NOT_FOUND
    count = await fetch_one(connection(), "SELECT COUNT(*) AS n FROM backtest_jobs", ())
    assert count is not None and int(count["n"]) == 0

    # What breaks while it runs fails the job with a reason, and the runner goes on.
    queued = await jobs_service.queue_backtest(
        backtests.BacktestInput("shop", START, PERIOD_END, FULL_PROPOSAL), None
    )
    second = await jobs_service.queue_backtest(
        backtests.BacktestInput("shop", START, PERIOD_END), None
    )
    run = backtests.run_backtest
    calls = [0]

    async def breaks_once(*args: Any, **kwargs: Any) -> backtests.BacktestResult:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("disk on fire")
        return await run(*args, **kwargs)

    monkeypatch.setattr(backtest_runner, "run_backtest", breaks_once)
    assert (await run_job(JobName.BACKTESTS, clock.now())).summary == {"backtests": 2}
    failed = await jobs_service.get_backtest_job(queued.id, None)
    done = await jobs_service.get_backtest_job(second.id, None)
    assert failed is not None and done is not None
    assert (failed.status, failed.result) == ("FAILED", None)
    assert failed.failure == "the backtest stopped on an unexpected error; start it again"
    assert (done.status, done.failure) == ("DONE", None)
    assert done.result is not None and done.result.orders == 24
    # Another program's key cannot read it.
    assert await jobs_service.get_backtest_job(queued.id, failed.program_id + 1) is None
