"""The program's numbers: a period's KPIs (formulas: docs/capabilities/analytics.md)."""

from __future__ import annotations

from datetime import date

import strawberry

from app.domain.analytics import Granularity, PeriodFigures
from app.domain.orders import OrderChannel

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

    @classmethod
    def of(cls, figures: PeriodFigures, channel: OrderChannel | None) -> InsightsPeriod:
        orders = figures.orders
        points = figures.points
        return cls(
            start=figures.period.start,
            end=figures.period.end,
            orders=OrderInsights(
                member_orders=orders.member_orders,
                guest_orders=orders.guest_orders,
                member_revenue_minor=orders.member_revenue_minor,
                guest_revenue_minor=orders.guest_revenue_minor,
                member_refunded_minor=orders.member_refunded_minor,
                guest_refunded_minor=orders.guest_refunded_minor,
                member_average_order_value_minor=orders.member_aov,
                guest_average_order_value_minor=orders.guest_aov,
                average_order_value_lift_minor=orders.aov_lift,
                member_order_share=orders.member_order_share,
            ),
            points=None
            if channel is not None
            else PointsInsights(
                earned=points.earned,
                reversed=points.reversed,
                spent=points.spent,
                expired=points.expired,
                adjusted=points.adjusted,
                pending_credited=points.pending_credited,
                redemption_rate=points.redemption_rate,
                outstanding_at_end=points.outstanding_at_end,
                pending_at_end=points.pending_at_end,
                breakage_rate=points.breakage_rate,
            ),
            enrolments=None if channel is not None else figures.enrolments,
        )


@strawberry.type(
    description="A program's KPIs over a range of days of its time zone: a series of periods"
    " and the totals (docs/capabilities/analytics.md)."
)
class ProgramInsights:
    currency: str
    time_zone: str
    granularity: InsightsGranularity  # type: ignore[valid-type]
    channel: OrderChannel | None
    series: list[InsightsPeriod]
    totals: InsightsPeriod
