"""The program's numbers: a period's KPIs (formulas: docs/capabilities/analytics.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from app.domain.analytics import Cohort, CustomerFigures, Granularity, GroupFigures, PeriodFigures
from app.domain.money import points_in_money
from app.domain.orders import OrderChannel
from app.graphql.core.records import from_record

InsightsGranularity = strawberry.enum(
    Granularity, name="InsightsGranularity", description="The length of a series' periods."
)


@strawberry.type(
    description="Orders placed in the period: members' (orders recorded for a member or credited"
    " at enrolment) against guests' (customers who were not members). Money is in the"
    " program's currency, minor units; an order in another currency at its own rate."
)
class OrderInsights:
    member_orders: int
    guest_orders: int
    member_revenue_minor: int = strawberry.field(description="Sum of the members' order totals.")
    guest_revenue_minor: int
    member_refunded_minor: int = strawberry.field(
        description="Money refunded so far of the members' orders placed in the period."
    )
    guest_refunded_minor: int
    member_average_order_value_minor: float | None = strawberry.field(
        description="memberRevenueMinor / memberOrders; null without orders."
    )
    guest_average_order_value_minor: float | None
    average_order_value_lift_minor: float | None = strawberry.field(
        description="Member lift: memberAverageOrderValueMinor - guestAverageOrderValueMinor,"
        " both over this same period."
    )
    member_order_share: float | None = strawberry.field(
        description="memberOrders / (memberOrders + guestOrders)."
    )


@strawberry.type(description="Points moved in the period, and the balances at its end.")
class PointsInsights:
    earned: int = strawberry.field(
        description="Points credited to members, pending or available, whatever earned them"
        " (orders, actions, referrals, tier and membership rewards, punch cards)."
    )
    reversed: int = strawberry.field(description="Points taken back by refunds.")
    spent: int = strawberry.field(description="Points redeemed, net of cancelled redemptions.")
    expired: int
    adjusted: int = strawberry.field(description="Net of admins' adjustments (signed).")
    pending_credited: int = strawberry.field(description="Of `earned`, points credited pending.")
    redemption_rate: float | None = strawberry.field(description="spent / earned.")
    outstanding_at_end: int = strawberry.field(
        description="The points liability at the period's end: members' available plus pending."
    )
    pending_at_end: int
    breakage_rate: float | None = strawberry.field(
        description="Points expired / points earned, from the program's start to the period's end."
    )
    outstanding_at_end_minor: int | None = strawberry.field(
        description="The liability in money: outstandingAtEnd x the program's cost per point"
        " (minor units, rounded half to even); null until a cost per point is configured."
    )
    pending_at_end_minor: int | None = strawberry.field(
        description="pendingAtEnd x the cost per point."
    )
    settled_breakage_rate: float | None = strawberry.field(
        description="Of the points expired or spent from the program's start to the period's"
        " end, the share that expired (the forecasts' rate)."
    )
    forecast_breakage: float | None = strawberry.field(
        description="Outstanding points expected to expire: outstandingAtEnd x settledBreakageRate."
    )
    forecast_redemptions: float | None = strawberry.field(
        description="Outstanding points expected to be spent: outstandingAtEnd - forecastBreakage."
    )
    forecast_breakage_minor: int | None = strawberry.field(
        description="forecastBreakage x the cost per point."
    )
    forecast_redemptions_minor: int | None = strawberry.field(
        description="forecastRedemptions x the cost per point: the expected cost of the"
        " outstanding points."
    )


@strawberry.type(
    description="Members' or guests' figures over distinct customers in a period of whole"
    " months (a customer is a member by member id, a guest by customer id)."
)
class CustomerGroupInsights:
    customers: int = strawberry.field(description="Distinct customers who ordered in the period.")
    orders: int
    revenue_minor: int = strawberry.field(description="Their orders' totals, gross of refunds.")
    purchase_frequency: float | None = strawberry.field(description="orders / customers.")
    repeat_customers: int = strawberry.field(description="Customers with 2 orders or more.")
    repeat_purchase_rate: float | None = strawberry.field(
        description="repeatCustomers / customers."
    )
    average_order_value_minor: float | None = strawberry.field(description="revenue / orders.")
    customers_at_start: int = strawberry.field(
        description="S: customers who ordered in the `inactiveMonths` months before the period."
    )
    customers_at_end: int = strawberry.field(
        description="E: customers who ordered in the last `inactiveMonths` months up to the"
        " period's end."
    )
    new_customers: int = strawberry.field(
        description="N: customers in E and not in S (first orders, or back after a lapse)."
    )
    retention_rate: float | None = strawberry.field(
        description="CRR = ((E - N) / S) x 100; null when S is 0."
    )
    churned_customers: int = strawberry.field(description="Customers in S and not in E.")
    churn_rate: float | None = strawberry.field(description="churnedCustomers / S.")
    churned_revenue_minor: int = strawberry.field(
        description="What the churned customers spent in the months that put them in S."
    )
    expected_lifespan_periods: float | None = strawberry.field(
        description="1 / churnRate, in periods of this length; null without churn."
    )
    lifetime_value_minor: float | None = strawberry.field(
        description="CLV = averageOrderValueMinor x purchaseFrequency x expectedLifespanPeriods."
    )

    @classmethod
    def of(cls, group: GroupFigures) -> CustomerGroupInsights:
        return from_record(
            cls,
            group,
            average_order_value_minor=group.average_order_value,
            customers_at_start=group.at_start,
            customers_at_end=group.at_end,
            new_customers=group.new,
            churned_customers=group.churned,
            expected_lifespan_periods=group.expected_lifespan,
            lifetime_value_minor=group.lifetime_value,
        )


@strawberry.type(
    description="KPIs over distinct customers, for a period of whole calendar months"
    " (docs/capabilities/analytics.md)."
)
class CustomerInsights:
    inactive_months: int = strawberry.field(
        description="The threshold of S, E and churn: months without an order after which a"
        " customer counts as lost."
    )
    members_enrolled: int = strawberry.field(description="Members enrolled by the period's end.")
    adoption_rate: float | None = strawberry.field(
        description="Ordering customers who are members / ordering customers."
    )
    active_members: int = strawberry.field(
        description="Members who ordered or earned points in the period."
    )
    active_member_share: float | None = strawberry.field(
        description="activeMembers / membersEnrolled."
    )
    redeeming_members: int = strawberry.field(description="Members who redeemed in the period.")
    redeeming_member_share: float | None = strawberry.field(
        description="redeemingMembers / membersEnrolled."
    )
    members: CustomerGroupInsights
    guests: CustomerGroupInsights
    incremental_revenue_minor: float | None = strawberry.field(
        description="Incremental revenue from member lift: members.customers x"
        " (members.revenueMinor / members.customers - guests.revenueMinor / guests.customers);"
        " null without ordering members and guests."
    )

    @classmethod
    def of(cls, figures: CustomerFigures) -> CustomerInsights:
        return from_record(
            cls,
            figures,
            members=CustomerGroupInsights.of(figures.members),
            guests=CustomerGroupInsights.of(figures.guests),
        )


@strawberry.type(description="Rewards of one kind redeemed in the period (bought or given).")
class RewardKindInsights:
    kind: str = strawberry.field(description="The reward's kind (RewardKind).")
    redeemed: int = strawberry.field(
        description="Rewards redeemed, whatever happened to them since."
    )
    value_minor: int = strawberry.field(
        description="Their value in the program's currency (a value in another currency, or"
        " none, counts 0)."
    )


@strawberry.type(description="Referred friends in a period of whole months.")
class ReferralInsights:
    referred: int = strawberry.field(
        description="Friends whose referral (not rejected) was recorded in the period."
    )
    converted: int = strawberry.field(description="Of them, those who ordered in the period.")
    conversion_rate: float | None = strawberry.field(description="converted / referred.")
    revenue_minor: int = strawberry.field(
        description="Orders' totals in the period of every friend referred by its end."
    )


@strawberry.type(description="One period of a series (or the whole range, for the totals).")
class InsightsPeriod:
    start: date
    end: date = strawberry.field(description="The period's last day (included).")
    orders: OrderInsights
    points: PointsInsights | None = strawberry.field(
        description="Null when the query names a channel (the ledger does not know channels)."
    )
    enrolments: int | None = strawberry.field(
        description="Members enrolled; null when the query names a channel."
    )
    customers: CustomerInsights | None = strawberry.field(
        description="KPIs over distinct customers; null unless the period is made of whole"
        " calendar months, and when the query names a channel."
    )
    referrals: ReferralInsights | None = strawberry.field(
        description="Referral conversion and revenue; null like `customers`."
    )
    rewards: list[RewardKindInsights] | None = strawberry.field(
        description="Rewards redeemed by kind; null when the query names a channel."
    )
    rewards_value_minor: int | None = strawberry.field(
        description="The program's cost in rewards: the value of the rewards redeemed."
    )
    return_on_investment: float | None = strawberry.field(
        description="(customers.incrementalRevenueMinor - rewardsValueMinor) /"
        " rewardsValueMinor; null without either."
    )

    @classmethod
    def of(
        cls, figures: PeriodFigures, channel: OrderChannel | None, cost: Decimal | None
    ) -> InsightsPeriod:
        orders = figures.orders
        points = figures.points
        return cls(
            start=figures.period.start,
            end=figures.period.end,
            orders=from_record(
                OrderInsights,
                orders,
                member_average_order_value_minor=orders.member_aov,
                guest_average_order_value_minor=orders.guest_aov,
                average_order_value_lift_minor=orders.aov_lift,
            ),
            points=None
            if channel is not None
            else from_record(
                PointsInsights,
                points,
                outstanding_at_end_minor=points_in_money(points.outstanding_at_end, cost),
                pending_at_end_minor=points_in_money(points.pending_at_end, cost),
                forecast_breakage_minor=None
                if points.forecast_breakage is None
                else points_in_money(points.forecast_breakage, cost),
                forecast_redemptions_minor=None
                if points.forecast_redemptions is None
                else points_in_money(points.forecast_redemptions, cost),
            ),
            enrolments=None if channel is not None else figures.enrolments,
            customers=None if figures.customers is None else CustomerInsights.of(figures.customers),
            referrals=None
            if figures.referrals is None
            else from_record(ReferralInsights, figures.referrals),
            rewards=None
            if channel is not None
            else [
                RewardKindInsights(kind=kind, redeemed=count, value_minor=value)
                for kind, count, value in figures.rewards
            ],
            rewards_value_minor=None if channel is not None else figures.rewards_value_minor,
            return_on_investment=figures.return_on_investment,
        )


@strawberry.type(
    description="A program's KPIs over a range of days of its time zone: a series of periods"
    " and the totals (docs/capabilities/analytics.md)."
)
class ProgramInsights:
    currency: str
    time_zone: str
    cost_per_point_minor: str | None = strawberry.field(
        description="The program's cost per point (minor units, decimal text) the money"
        " figures use; null until configured."
    )
    granularity: InsightsGranularity  # type: ignore[valid-type]
    channel: OrderChannel | None
    series: list[InsightsPeriod]
    totals: InsightsPeriod
    open_months_as_of: datetime | None = strawberry.field(
        description="Null when every figure is exact now. Else the time of the lagged snapshot"
        " the customer figures of months not settled yet were read from: a large program's"
        " figures of the open month are counted in the background, at most a few minutes old"
        " (docs/capabilities/analytics.md)."
    )


@strawberry.type(description="A cohort's figures in one month after its enrolment month.")
class CohortMonthInsights:
    offset: int = strawberry.field(description="Months after the enrolment month (0: itself).")
    month: date = strawberry.field(description="The month's first day.")
    active_members: int = strawberry.field(description="Members of the cohort who ordered.")
    retention: float | None = strawberry.field(description="activeMembers / the cohort's members.")
    revenue_minor: int = strawberry.field(description="Their orders' totals that month.")
    cumulative_revenue_minor: int = strawberry.field(
        description="The cohort's revenue from its enrolment month to this one."
    )
    cumulative_revenue_per_member_minor: float | None = strawberry.field(
        description="Observed lifetime value: cumulativeRevenueMinor / the cohort's members."
    )


@strawberry.type(description="Members who enrolled in one month, followed month by month.")
class CohortInsights:
    month: date = strawberry.field(description="The enrolment month's first day.")
    members: int
    months: list[CohortMonthInsights]

    @classmethod
    def of(cls, cohort: Cohort) -> CohortInsights:
        return cls(
            month=cohort.month,
            members=cohort.members,
            months=[
                from_record(
                    CohortMonthInsights,
                    m,
                    retention=cohort.retention(m),
                    cumulative_revenue_per_member_minor=cohort.revenue_per_member(m),
                )
                for m in cohort.months
            ],
        )


@strawberry.type(description="A cohort table: retention and revenue by enrolment month.")
class ProgramCohorts:
    currency: str
    time_zone: str
    cohorts: list[CohortInsights]
    open_months_as_of: datetime | None = strawberry.field(
        description="Null when every cell is exact now. Else the time of the lagged snapshot"
        " the cells of months not settled yet were read from (a large program's; see"
        " ProgramInsights.openMonthsAsOf)."
    )
