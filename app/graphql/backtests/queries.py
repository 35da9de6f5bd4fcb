"""backtestProgram, backtestJob and memberWhatIf: admin keys only; all three write nothing."""

from __future__ import annotations

import strawberry

from app.graphql.backtests.types import (
    BacktestJob,
    BacktestProgramInput,
    BacktestResult,
    MemberWhatIf,
    MemberWhatIfStep,
    WhatIfOrderInput,
)
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.jobs import find_job
from app.graphql.core.query_checks import admin_in_query, decoded_in_query
from app.services.backtests import jobs as jobs_service
from app.services.backtests import service as backtests
from app.services.orders.cart import OrderLineInput


@strawberry.field(
    description="Admin only: run a proposed program (rules, campaigns, tiers, expiry) over the"
    " member orders placed in [from, to), beside the program as it is, writing nothing."
)
async def backtest_program(info: Info, input: BacktestProgramInput) -> BacktestResult:
    principal = admin_in_query(info)
    with as_query_errors():
        result = await backtests.backtest_program(input.to_service(), principal.program_scope)
    return BacktestResult.of(result)


@strawberry.field(
    description="Admin only: a backtest started with startBacktest, with its progress and, once"
    " DONE, its figures; null when not found."
)
async def backtest_job(info: Info, id: strawberry.ID) -> BacktestJob | None:
    return await find_job(info, id, BacktestJob, jobs_service.get_backtest_job)


@strawberry.field(
    description="Admin only: what these future orders would earn the member, one by one, under"
    " the program as it is, the tier moving as they add up. Writes nothing."
)
async def member_what_if(
    info: Info, member_id: strawberry.ID, orders: list[WhatIfOrderInput]
) -> MemberWhatIf:
    principal = admin_in_query(info)
    pk = decoded_in_query(member_id, "Member")
    with as_query_errors():
        result = await backtests.member_what_if(
            pk,
            [
                backtests.WhatIfOrder(
                    placed_at=order.placed_at,
                    currency=order.currency,
                    lines=tuple(
                        OrderLineInput(
                            sku=line.sku,
                            quantity=line.quantity,
                            unit_price_minor=line.unit_price_minor,
                            category=line.category,
                        )
                        for line in order.lines
                    ),
                    shipping_minor=order.shipping_minor,
                    tax_minor=order.tax_minor,
                    discount_minor=order.discount_minor,
                )
                for order in orders
            ],
            principal.program_scope,
        )
    return MemberWhatIf(
        points=result.points,
        steps=[
            MemberWhatIfStep(
                placed_at=step.placed_at,
                points=step.points,
                tier=step.tier,
                balance_after=step.balance_after,
                points_expired=step.points_expired,
            )
            for step in result.steps
        ],
    )
