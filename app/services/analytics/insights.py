"""programInsights: a program's KPIs over a range of its days, from the daily rollups.

Two reads whatever the range: the ledger rows before it (summed in SQL: the balances at its
start) and the rows of its days; never the ledger or the orders themselves. The KPIs and their
formulas are in docs/capabilities/analytics.md.

With a segment, the figures are those of the segment's members now, recomputed from their
own orders and ledger rows (`rebuild.compute`): the rollups are per program, so the cost grows
with the segment's history, not with the range (docs/capabilities/analytics.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_date, connection, fetch_all, fetch_one
from app.domain.analytics import (
    CUSTOMER_METRICS,
    CUSTOMER_ORDERS,
    CUSTOMER_REVENUE,
    DAY_METRICS,
    DEFAULT_INACTIVE_MONTHS,
    ENROLMENTS,
    LEDGER,
    MAX_COHORT_MONTHS,
    MAX_COHORTS,
    MAX_INACTIVE_MONTHS,
    MAX_RANGE_DAYS,
    ActivityByCustomer,
    Cohort,
    CustomerFigures,
    Granularity,
    Period,
    PeriodFigures,
    ReferralFigures,
    RollupRow,
    activity_of,
    add_months,
    cohorts,
    customer_figures,
    day_start,
    figures,
    is_whole_months,
    month_of,
    months_between,
    periods,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderChannel
from app.domain.referrals import ReferralState
from app.domain.validation import Checker
from app.services.analytics import summaries
from app.services.analytics.cohorts import cohort_cells
from app.services.analytics.rebuild import Rollup, compute
from app.services.programs.service import ProgramRecord, ProgramScope, get_program_by_slug
from app.services.segments.service import get_segment_by_key


@dataclass(frozen=True)
class InsightsInput:
    program_slug: str
    # Days of the program's time zone, both included.
    first_day: date
    last_day: date
    granularity: Granularity
    # Only the orders of this channel; the points and enrolment figures are then left out
    # (the ledger does not know channels).
    channel: OrderChannel | None = None
    # Only the members in this segment (its key) now; guests' orders are then left out.
    segment: str | None = None
    # Churn and retention: a customer without an order in this many months is lost.
    inactive_months: int = DEFAULT_INACTIVE_MONTHS
    # Whether to count the distinct-customer and referral figures: they read every customer's
    # months, which costs far more than the daily rollups, so a caller who does not show them
    # (the API, when the document does not select them) leaves them out.
    customer_figures: bool = True


@dataclass(frozen=True)
class Insights:
    program: ProgramRecord
    input: InsightsInput
    series: list[PeriodFigures]
    totals: PeriodFigures
    # When the customer figures of months not settled yet come from a lagged snapshot (a large
    # program, app/services/analytics/open_snapshots.py): its time; None when all are exact now.
    open_months_as_of: datetime | None = None

    @property
    def cost_per_point(self) -> Decimal | None:
        """The program's cost per point (minor units), which values points in money."""
        cost = self.program.cost_per_point_minor
        return None if cost is None else Decimal(cost)


async def _readable_program(
    slug: str, scope: ProgramScope, secret_key: bool
) -> ProgramRecord | None:
    """The program, None when unknown (or outside `scope`); a secret key reads it only when
    the program lets its secret keys read its analytics (FORBIDDEN otherwise)."""
    program = await get_program_by_slug(slug, scope)
    if program is not None and secret_key and not program.insights_for_secret_keys:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "this program's analytics need an admin key (or insightsForSecretKeys)",
        )
    return program


async def program_insights(
    data: InsightsInput, scope: ProgramScope, secret_key: bool = False
) -> Insights | None:
    """None when the program is unknown (or outside `scope`)."""
    check = Checker()
    if data.last_day < data.first_day:
        check.add(ErrorCode.INVALID_VALUE, "to is before from", ["to"])
    elif (data.last_day - data.first_day).days + 1 > MAX_RANGE_DAYS:
        check.add(ErrorCode.INVALID_VALUE, f"at most {MAX_RANGE_DAYS} days at once", ["to"])
    if not 1 <= data.inactive_months <= MAX_INACTIVE_MONTHS:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"inactiveMonths is from 1 to {MAX_INACTIVE_MONTHS}",
            ["inactiveMonths"],
        )
    check.raise_if_any()
    program = await _readable_program(data.program_slug, scope, secret_key)
    if program is None:
        return None
    conn = connection()
    spans = list(periods(data.first_day, data.last_day, data.granularity))
    whole = [
        span for span in [*spans, Period(data.first_day, data.last_day)] if is_whole_months(span)
    ]
    # The customer-activity months the whole-month periods need (with the threshold's before).
    months = (
        None
        if not data.customer_figures or not whole or data.channel is not None
        else (
            add_months(month_of(whole[0].start), -data.inactive_months),
            month_of(data.last_day),
        )
    )
    activity: ActivityByCustomer = {}
    # Kept path: each whole-month period's customer groups, counted in SQL.
    counted: dict[Period, summaries.CustomerCounts] = {}
    as_of: datetime | None = None
    segment_id: int | None = None
    if data.segment is not None:
        segment = await get_segment_by_key(program.id, data.segment.strip())
        if segment is None or segment.archived_at is not None:
            raise DomainError(
                ErrorCode.SEGMENT_NOT_FOUND, "no segment with this key in the program", ["segment"]
            )
        segment_id = segment.id
        recomputed = await compute(conn, program, segment.id)
        opening_rows, range_rows = _split(recomputed, data.first_day, data.last_day)
        if months is not None:
            activity = activity_of(
                [
                    (day, dimension, metric, value)
                    for (day, metric, dimension), value in recomputed.items()
                    if metric in CUSTOMER_METRICS and months[0] <= day <= months[1]
                ]
            )
    else:
        opening_rows, range_rows = await _kept_rows(conn, program.id, data)
        if months is not None:
            counted, as_of = await summaries.customer_counts_as_of(
                conn, program.id, whole, data.inactive_months
            )
    series, totals = figures(
        opening_rows,
        range_rows,
        data.first_day,
        data.last_day,
        data.granularity,
        None if data.channel is None else data.channel.value,
    )
    if months is not None:
        enrolled_before = sum(r.value for r in opening_rows if r.metric == ENROLMENTS)

        async def with_customers(period: PeriodFigures) -> PeriodFigures:
            if not is_whole_months(period.period):
                return period
            enrolled = enrolled_before + sum(
                r.value for r in range_rows if r.metric == ENROLMENTS and r.day <= period.period.end
            )
            found = counted.get(period.period)
            return replace(
                period,
                customers=customer_figures(activity, period.period, data.inactive_months, enrolled)
                if found is None
                else CustomerFigures(
                    inactive_months=data.inactive_months,
                    members_enrolled=enrolled,
                    active_members=found.active_members,
                    redeeming_members=found.redeeming_members,
                    members=found.members,
                    guests=found.guests,
                ),
                referrals=await _referral_figures(conn, program, period.period, segment_id),
            )

        series = [await with_customers(period) for period in series]
        totals = await with_customers(totals)
    return Insights(
        program=program, input=data, series=series, totals=totals, open_months_as_of=as_of
    )


async def _referral_figures(
    conn: BaseDBAsyncClient, program: ProgramRecord, period: Period, segment_id: int | None
) -> ReferralFigures:
    """Referred friends of a period of whole months: the referrals (not rejected) recorded in
    it, and the customer-activity rows of the friends (never the orders)."""
    start = day_start(period.start, program.time_zone)
    end = (
        datetime.max.replace(tzinfo=UTC)
        if period.end == date.max
        else day_start(period.end + timedelta(days=1), program.time_zone)
    )
    first, last = month_of(period.start), month_of(period.end)
    among = ""
    params: tuple[object, ...] = ()
    if segment_id is not None:
        among = " AND r.friend_id IN (SELECT member_id FROM segment_members WHERE segment_id = ?)"
        params = (segment_id,)
    friends = (
        "SELECT DISTINCT 'm:' || CAST(r.friend_id AS TEXT) AS customer FROM referrals r"
        " WHERE r.program_id = ? AND r.friend_id IS NOT NULL AND r.state <> ?" + among
    )
    # From each friend's own activity rows (the (program_id, dimension, day) index): the cost
    # follows the referrals, not every customer of the months.
    ordered = (
        "SELECT SUM(a.value) FROM analytics_days a WHERE a.program_id = ?"
        " AND a.dimension = f.customer AND a.metric = ? AND a.day >= ? AND a.day <= ?"
    )
    row = await fetch_one(
        conn,
        f"SELECT COUNT(*) AS referred, SUM(CASE WHEN ({ordered}) > 0 THEN 1 ELSE 0 END)"
        f" AS converted FROM ({friends} AND r.created_at >= ? AND r.created_at < ?) AS f",
        (
            program.id,
            CUSTOMER_ORDERS,
            first,
            last,
            program.id,
            ReferralState.REJECTED.value,
            *params,
            start,
            end,
        ),
    )
    revenue = await fetch_one(
        conn,
        f"SELECT SUM(a.value) AS revenue FROM ({friends} AND r.created_at < ?) AS f"
        " JOIN analytics_days a ON a.program_id = ? AND a.dimension = f.customer"
        " AND a.metric = ? AND a.day >= ? AND a.day <= ?",
        (
            program.id,
            ReferralState.REJECTED.value,
            *params,
            end,
            program.id,
            CUSTOMER_REVENUE,
            first,
            last,
        ),
    )
    assert row is not None and revenue is not None
    return ReferralFigures(
        referred=int(row["referred"] or 0),
        converted=int(row["converted"] or 0),
        revenue_minor=int(revenue["revenue"] or 0),
    )


def _split(
    rollup: Rollup, first_day: date, last_day: date
) -> tuple[list[RollupRow], list[RollupRow]]:
    """Recomputed rollups as the kept ones are read: the ledger and enrolments before the
    range, summed (the balances at its start), and every day row of the range's days."""
    opening: defaultdict[tuple[str, str], int] = defaultdict(int)
    rows = []
    for (day, metric, dimension), value in rollup.items():
        if metric not in DAY_METRICS:
            continue
        if day < first_day and metric in (LEDGER, ENROLMENTS):
            opening[(metric, dimension)] += value
        elif first_day <= day <= last_day:
            rows.append(RollupRow(day, metric, dimension, value))
    return [RollupRow(first_day, m, d, v) for (m, d), v in sorted(opening.items())], rows


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


async def _kept_rows(
    conn: BaseDBAsyncClient, program_id: int, data: InsightsInput
) -> tuple[list[RollupRow], list[RollupRow]]:
    opening = await fetch_all(
        conn,
        "SELECT metric, dimension, SUM(value) AS value FROM analytics_days"
        " WHERE program_id = ? AND metric IN (?, ?) AND day < ? GROUP BY metric, dimension",
        (program_id, LEDGER, ENROLMENTS, data.first_day),
    )
    rows = await fetch_all(
        conn,
        "SELECT day, metric, dimension, SUM(value) AS value FROM analytics_days"
        f" WHERE program_id = ? AND day >= ? AND day <= ? AND metric IN {_in(DAY_METRICS)}"
        " GROUP BY day, metric, dimension",
        (program_id, data.first_day, data.last_day, *DAY_METRICS),
    )
    return (
        [RollupRow(data.first_day, r["metric"], r["dimension"], int(r["value"])) for r in opening],
        [_row(r) for r in rows],
    )


def _row(row: dict[str, Any]) -> RollupRow:
    day = as_date(row["day"])
    assert day is not None
    # PostgreSQL's SUM of a bigint is a numeric: asyncpg may give Decimal('2.8E+5'), which
    # int() takes (int(str()) would not).
    return RollupRow(day, str(row["metric"]), str(row["dimension"]), int(row["value"]))


# --- Cohorts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortsInput:
    program_slug: str
    # Any days of the first and last enrolment months.
    first_month: date
    last_month: date
    # Months followed from each enrolment month (0: the month itself).
    months: int = 12


@dataclass(frozen=True)
class Cohorts:
    program: ProgramRecord
    cohorts: list[Cohort]
    # As `Insights.open_months_as_of`, for the cells of months not settled yet.
    open_months_as_of: datetime | None = None


async def program_cohorts(
    data: CohortsInput, scope: ProgramScope, secret_key: bool = False
) -> Cohorts | None:
    """Members by enrolment month against the share who ordered N months later and their
    cumulative revenue, from the cells' closed-period summaries (app/services/analytics/
    summaries.py); None when the program is unknown (or outside `scope`)."""
    check = Checker()
    first, last = month_of(data.first_month), month_of(data.last_month)
    if last < first:
        check.add(ErrorCode.INVALID_VALUE, "to is before from", ["to"])
    elif months_between(first, last) + 1 > MAX_COHORTS:
        check.add(ErrorCode.INVALID_VALUE, f"at most {MAX_COHORTS} cohorts at once", ["to"])
    if not 1 <= data.months <= MAX_COHORT_MONTHS:
        check.add(ErrorCode.INVALID_VALUE, f"months is from 1 to {MAX_COHORT_MONTHS}", ["months"])
    check.raise_if_any()
    program = await _readable_program(data.program_slug, scope, secret_key)
    if program is None:
        return None
    found = await cohort_cells(connection(), program.id, first, last, data.months)
    table = cohorts(found.sizes, found.cells, first, last, data.months)
    return Cohorts(program=program, cohorts=table, open_months_as_of=found.open_months_as_of)
