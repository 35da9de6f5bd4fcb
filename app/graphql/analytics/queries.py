"""programInsights: admin keys only."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from app.domain.analytics import Granularity
from app.domain.orders import OrderChannel
from app.graphql.analytics.types import InsightsPeriod, ProgramInsights
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.query_checks import admin_in_query
from app.services.analytics import insights as insights_service


@strawberry.field(
    description="Admin only: the program's KPIs for the days `from` to `to` (both included, in"
    " the program's time zone, at most 1099 days), by DAY, WEEK (from Monday) or MONTH, and"
    " their totals; with `channel`, the order figures of that channel only; with `segment` (a"
    " segment's key), the figures of the members in it now, recomputed from their own rows."
    " Null for an unknown program."
)
async def program_insights(
    info: Info,
    program_slug: str,
    from_: Annotated[date, strawberry.argument(name="from")],
    to: date,
    granularity: Granularity = Granularity.MONTH,
    channel: OrderChannel | None = None,
    segment: str | None = None,
) -> ProgramInsights | None:
    principal = admin_in_query(info)
    with as_query_errors():
        found = await insights_service.program_insights(
            insights_service.InsightsInput(
                program_slug=program_slug,
                first_day=from_,
                last_day=to,
                granularity=granularity,
                channel=channel,
                segment=segment,
            ),
            principal.program_scope,
        )
    if found is None:
        return None
    return ProgramInsights(
        currency=found.program.currency,
        time_zone=found.program.time_zone,
        granularity=granularity,
        channel=channel,
        series=[InsightsPeriod.of(period, channel) for period in found.series],
        totals=InsightsPeriod.of(found.totals, channel),
    )
