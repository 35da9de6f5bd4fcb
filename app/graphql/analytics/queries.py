"""programInsights and programCohorts: admin keys, and secret keys of a program that lets them
(insightsForSecretKeys)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from app.domain.analytics import DEFAULT_INACTIVE_MONTHS, Granularity
from app.domain.orders import OrderChannel
from app.graphql.analytics.types import (
    CohortInsights,
    InsightsPeriod,
    ProgramCohorts,
    ProgramInsights,
)
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.query_checks import member_reader_in_query
from app.services.analytics import insights as insights_service

# The figures counted over distinct customers' months: computed only when the document asks.
CUSTOMER_FIELDS = frozenset({"customers", "referrals"})


def selects_any(selections: Iterable[Selection], names: frozenset[str]) -> bool:
    """Whether any field named in `names` is selected at any depth (through fragments too)."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name in names:
            return True
        if selects_any(selection.selections, names):
            return True
    return False


@strawberry.field(
    description="Admin keys, and secret keys of a program with insightsForSecretKeys: the"
    " program's KPIs for the days `from` to `to` (both included, in"
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
    inactive_months: Annotated[
        int,
        strawberry.argument(
            description="Churn and retention: months without an order after which a customer"
            " counts as lost (1 to 36)."
        ),
    ] = DEFAULT_INACTIVE_MONTHS,
) -> ProgramInsights | None:
    # Admin and secret keys; the service checks a secret key's program lets it read.
    principal = member_reader_in_query(info)
    with as_query_errors():
        found = await insights_service.program_insights(
            insights_service.InsightsInput(
                program_slug=program_slug,
                first_day=from_,
                last_day=to,
                granularity=granularity,
                channel=channel,
                segment=segment,
                inactive_months=inactive_months,
                customer_figures=selects_any(info.selected_fields, CUSTOMER_FIELDS),
            ),
            principal.program_scope,
            secret_key=not principal.is_admin,
        )
    if found is None:
        return None
    return ProgramInsights(
        currency=found.program.currency,
        time_zone=found.program.time_zone,
        granularity=granularity,
        channel=channel,
        cost_per_point_minor=found.program.cost_per_point_minor,
        series=[
            InsightsPeriod.of(period, channel, found.cost_per_point) for period in found.series
        ],
        totals=InsightsPeriod.of(found.totals, channel, found.cost_per_point),
        open_months_as_of=found.open_months_as_of,
    )


@strawberry.field(
    description="Admin keys, and secret keys of a program with insightsForSecretKeys: members"
    " by enrolment month (the months of `from` to `to`, at most"
    " 36) against the share who ordered in each of the `months` months from it (1 to 36), and"
    " the cohort's cumulative revenue. Null for an unknown program."
)
async def program_cohorts(
    info: Info,
    program_slug: str,
    from_: Annotated[date, strawberry.argument(name="from")],
    to: date,
    months: int = 12,
) -> ProgramCohorts | None:
    # Admin and secret keys; the service checks a secret key's program lets it read.
    principal = member_reader_in_query(info)
    with as_query_errors():
        found = await insights_service.program_cohorts(
            insights_service.CohortsInput(
                program_slug=program_slug, first_month=from_, last_month=to, months=months
            ),
            principal.program_scope,
            secret_key=not principal.is_admin,
        )
    if found is None:
        return None
    return ProgramCohorts(
        currency=found.program.currency,
        time_zone=found.program.time_zone,
        cohorts=[CohortInsights.of(cohort) for cohort in found.cohorts],
        open_months_as_of=found.open_months_as_of,
    )
