"""startBacktest (admin): a backtest run in the background, followed with backtestJob."""

from __future__ import annotations

import strawberry

from app.graphql.backtests.types import BacktestJob, BacktestProgramInput
from app.graphql.core.context import Info
from app.graphql.core.errors import UserError
from app.graphql.core.jobs import admin_job
from app.graphql.core.mutations import mutation
from app.services.backtests import jobs as jobs_service


@strawberry.type
class StartBacktestPayload:
    backtest_job: BacktestJob | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(
    description="Admin only: run a backtest (as backtestProgram) in the background, for periods"
    " too long to wait on; follow it with `backtestJob` (or `node`). Checked at once; it writes"
    " nothing but the job's own progress and result."
)
async def start_backtest(info: Info, input: BacktestProgramInput) -> StartBacktestPayload:
    job = await admin_job(
        info,
        BacktestJob,
        lambda principal: jobs_service.queue_backtest(input.to_service(), principal.program_scope),
    )
    return StartBacktestPayload(backtest_job=job)
