"""CSV exports (`laurel export`): an insights series, and the members with their KPIs.

Both stream: the insights rows come from one `program_insights` answer (a few hundred periods
at most); the members are read in pages of `PAGE` by id, each page's orders read by member (the
orders' member index) and converted to the program's currency, so memory is bounded by a page
whatever the number of members. The columns are fixed and named in the first row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

from app.db import as_datetime, connection, fetch_all, fetch_one
from app.domain.analytics import ORDER_FIELDS, PeriodFigures
from app.domain.ids import encode_id
from app.domain.money import points_in_money
from app.services.analytics import rollups
from app.services.analytics.insights import Insights
from app.services.programs.service import ProgramRecord

PAGE = 1000

INSIGHTS_COLUMNS = (
    "period",
    "start",
    "end",
    "enrolments",
    *ORDER_FIELDS,
    "member_aov_minor",
    "guest_aov_minor",
    "aov_lift_minor",
    "member_order_share",
    "points_earned",
    "points_reversed",
    "points_spent",
    "points_expired",
    "points_adjusted",
    "points_pending_credited",
    "redemption_rate",
    "outstanding_at_end",
    "pending_at_end",
    "outstanding_at_end_minor",
    "breakage_rate",
    "forecast_breakage",
    "forecast_redemptions",
    "rewards_value_minor",
    "adoption_rate",
    "active_member_share",
    "redeeming_member_share",
    "member_customers",
    "guest_customers",
    "member_purchase_frequency",
    "guest_purchase_frequency",
    "member_repeat_purchase_rate",
    "guest_repeat_purchase_rate",
    "member_retention_rate",
    "guest_retention_rate",
    "member_churned",
    "member_churn_rate",
    "member_churned_revenue_minor",
    "member_lifetime_value_minor",
    "guest_lifetime_value_minor",
    "incremental_revenue_minor",
    "return_on_investment",
    "referrals",
    "referral_conversion_rate",
    "referred_revenue_minor",
)

MEMBER_COLUMNS = (
    "member_id",
    "customer_id",
    "enrolled_at",
    "points_available",
    "points_pending",
    "lifetime_earned",
    "lifetime_redeemed",
    "orders",
    "revenue_minor",
    "average_order_value_minor",
    "first_order_at",
    "last_order_at",
)


def insights_rows(insights: Insights) -> Iterator[list[object]]:
    """The series' periods, then the totals (period `totals`), in INSIGHTS_COLUMNS' order; an
    empty cell for a figure that is null."""
    cost = insights.cost_per_point
    for label, period in [*(("period", p) for p in insights.series), ("totals", insights.totals)]:
        yield [label, *_period_cells(period, cost, insights.input.channel is not None)]


def _period_cells(period: PeriodFigures, cost: Decimal | None, channel: bool) -> list[object]:
    orders, points, customers = period.orders, period.points, period.customers
    referrals = period.referrals
    values: list[Any] = [
        period.period.start,
        period.period.end,
        None if channel else period.enrolments,
        *(getattr(orders, name) for name in ORDER_FIELDS),
        orders.member_aov,
        orders.guest_aov,
        orders.aov_lift,
        orders.member_order_share,
    ]
    values += (
        [None] * 14
        if channel
        else [
            points.earned,
            points.reversed,
            points.spent,
            points.expired,
            points.adjusted,
            points.pending_credited,
            points.redemption_rate,
            points.outstanding_at_end,
            points.pending_at_end,
            points_in_money(points.outstanding_at_end, cost),
            points.breakage_rate,
            points.forecast_breakage,
            points.forecast_redemptions,
            period.rewards_value_minor,
        ]
    )
    values += (
        [None] * 17
        if customers is None
        else [
            customers.adoption_rate,
            customers.active_member_share,
            customers.redeeming_member_share,
            customers.members.customers,
            customers.guests.customers,
            customers.members.purchase_frequency,
            customers.guests.purchase_frequency,
            customers.members.repeat_purchase_rate,
            customers.guests.repeat_purchase_rate,
            customers.members.retention_rate,
            customers.guests.retention_rate,
            customers.members.churned,
            customers.members.churn_rate,
            customers.members.churned_revenue_minor,
            customers.members.lifetime_value,
            customers.guests.lifetime_value,
            customers.incremental_revenue_minor,
        ]
    )
    values += [period.return_on_investment]
    values += (
        [None] * 3
        if referrals is None
        else [referrals.referred, referrals.conversion_rate, referrals.revenue_minor]
    )
    return values


async def member_count(program: ProgramRecord) -> int:
    row = await fetch_one(
        connection(), "SELECT COUNT(*) AS n FROM members WHERE program_id = ?", (program.id,)
    )
    assert row is not None
    return int(row["n"])


async def member_rows(program: ProgramRecord) -> AsyncIterator[list[list[object]]]:
    """Pages of members in id order, each row in MEMBER_COLUMNS' order: their balances and
    their orders (recorded for or credited to them), revenue in the program's currency."""
    conn = connection()
    after = 0
    while members := await fetch_all(
        conn,
        "SELECT id, customer_id, enrolled_at, points_available, points_pending,"
        " lifetime_earned, lifetime_redeemed FROM members WHERE program_id = ? AND id > ?"
        " ORDER BY id LIMIT ?",
        (program.id, after, PAGE),
    ):
        ids = [int(m["id"]) for m in members]
        orders: dict[int, list[Any]] = {}
        for row in await fetch_all(
            conn,
            "SELECT member_id, placed_at, total_minor, currency, exchange_rate FROM orders"
            f" WHERE member_id IN ({', '.join('?' for _ in ids)})",
            ids,
        ):
            mine = orders.setdefault(int(row["member_id"]), [0, 0, None, None])
            placed = as_datetime(row["placed_at"])
            mine[0] += 1
            mine[1] += rollups.in_program_currency(
                int(row["total_minor"]), row["currency"], program.currency, row["exchange_rate"]
            )
            mine[2] = placed if mine[2] is None else min(mine[2], placed)
            mine[3] = placed if mine[3] is None else max(mine[3], placed)
        page = []
        for member in members:
            count, revenue, first, last = orders.get(int(member["id"]), [0, 0, None, None])
            page.append(
                [
                    encode_id("Member", int(member["id"])),
                    member["customer_id"],
                    as_datetime(member["enrolled_at"]).isoformat(),
                    int(member["points_available"]),
                    int(member["points_pending"]),
                    int(member["lifetime_earned"]),
                    int(member["lifetime_redeemed"]),
                    count,
                    revenue,
                    revenue / count if count else None,
                    None if first is None else first.isoformat(),
                    None if last is None else last.isoformat(),
                ]
            )
        yield page
        after = ids[-1]
