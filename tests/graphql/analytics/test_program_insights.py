"""programInsights: series and totals in the program's days, admin keys only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from app import clock as app_clock
from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, program_key, record_order
from tests.graphql.helpers import top_level_codes

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

INSIGHTS = """
query($slug: String!, $from: Date!, $to: Date!, $granularity: InsightsGranularity!,
      $channel: OrderChannel, $segment: String) {
  programInsights(programSlug: $slug, from: $from, to: $to, granularity: $granularity,
                  channel: $channel, segment: $segment) {
    currency timeZone granularity channel
    series { start end ...figures }
    totals { start end ...figures }
  }
}
fragment figures on InsightsPeriod {
  enrolments
  orders {
    memberOrders guestOrders memberRevenueMinor guestRevenueMinor memberRefundedMinor
    guestRefundedMinor memberAverageOrderValueMinor guestAverageOrderValueMinor
    averageOrderValueLiftMinor memberOrderShare
  }
  points {
    earned reversed spent expired adjusted pendingCredited redemptionRate outstandingAtEnd
    pendingAtEnd breakageRate
  }
}"""


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


def orders(member: int, guest: int, member_revenue: int, guest_revenue: int) -> dict[str, Any]:
    return {
        "memberOrders": member,
        "guestOrders": guest,
        "memberRevenueMinor": member_revenue,
        "guestRevenueMinor": guest_revenue,
        "memberRefundedMinor": 0,
        "guestRefundedMinor": 0,
        "memberAverageOrderValueMinor": member_revenue / member if member else None,
        "guestAverageOrderValueMinor": guest_revenue / guest if guest else None,
        "averageOrderValueLiftMinor": member_revenue / member - guest_revenue / guest
        if member and guest
        else None,
        "memberOrderShare": member / (member + guest) if member + guest else None,
    }


def points(earned: int, outstanding: int) -> dict[str, Any]:
    return {
        "earned": earned,
        "reversed": 0,
        "spent": 0,
        "expired": 0,
        "adjusted": 0,
        "pendingCredited": 0,
        "redemptionRate": 0.0 if earned else None,
        "outstandingAtEnd": outstanding,
        "pendingAtEnd": 0,
        "breakageRate": 0.0 if outstanding else None,
    }


async def history(api: Api) -> None:
    """A guest's order late on 20 November in Tokyo, a member's early on the 21st (both on
    the 20th in UTC); the member enrolled, and earned, on 30 November."""
    await create_program(api, timeZone="Asia/Tokyo")
    await enroll(api, customer_id="member-1")
    await record_order(
        api, order_id="m-1", customer_id="member-1", placedAt="2026-11-20T16:00:00+00:00"
    )
    await record_order(
        api,
        order_id="g-1",
        customer_id="guest-1",
        unit_price_minor=500,
        placedAt="2026-11-20T14:00:00+00:00",
        channel="STORE",
    )


async def test_weekly_series_and_totals_in_the_programs_days(api: Api, clock: ManualClock) -> None:
    await history(api)

    data = await api.data(
        INSIGHTS,
        {"slug": "shop", "from": "2026-11-18", "to": "2026-11-30", "granularity": "WEEK"},
    )

    insights = data["programInsights"]
    assert (insights["currency"], insights["timeZone"]) == ("EUR", "Asia/Tokyo")
    assert (insights["granularity"], insights["channel"]) == ("WEEK", None)
    assert insights["series"] == [
        {
            "start": "2026-11-18",
            "end": "2026-11-22",
            "enrolments": 0,
            "orders": orders(1, 1, 2500, 1000),
            "points": points(0, 0),
        },
        {
            "start": "2026-11-23",
            "end": "2026-11-29",
            "enrolments": 0,
            "orders": orders(0, 0, 0, 0),
            "points": points(0, 0),
        },
        {
            "start": "2026-11-30",
            "end": "2026-11-30",
            "enrolments": 1,
            "orders": orders(0, 0, 0, 0),
            "points": points(25, 25),
        },
    ]
    assert insights["totals"] == {
        "start": "2026-11-18",
        "end": "2026-11-30",
        "enrolments": 1,
        "orders": orders(1, 1, 2500, 1000),
        "points": points(25, 25),
    }


async def test_days_are_the_programs_not_utcs(api: Api, clock: ManualClock) -> None:
    await history(api)

    data = await api.data(
        INSIGHTS,
        {"slug": "shop", "from": "2026-11-20", "to": "2026-11-21", "granularity": "DAY"},
    )

    series = data["programInsights"]["series"]
    assert [
        (p["start"], p["orders"]["memberOrders"], p["orders"]["guestOrders"]) for p in series
    ] == [
        ("2026-11-20", 0, 1),
        ("2026-11-21", 1, 0),
    ]


async def test_a_channel_keeps_its_orders_and_leaves_points_out(
    api: Api, clock: ManualClock
) -> None:
    await history(api)

    data = await api.data(
        INSIGHTS,
        {
            "slug": "shop",
            "from": "2026-11-01",
            "to": "2026-11-30",
            "granularity": "MONTH",
            "channel": "STORE",
        },
    )

    totals = data["programInsights"]["totals"]
    assert totals["orders"] == orders(0, 1, 0, 1000)
    assert (totals["points"], totals["enrolments"]) == (None, None)


async def test_a_range_ending_before_it_starts_is_refused(api: Api, clock: ManualClock) -> None:
    await create_program(api)

    body = await api.gql(
        INSIGHTS, {"slug": "shop", "from": "2026-11-02", "to": "2026-11-01", "granularity": "DAY"}
    )
    too_long = await api.gql(
        INSIGHTS, {"slug": "shop", "from": "2020-01-01", "to": "2026-11-01", "granularity": "DAY"}
    )

    assert top_level_codes(body) == ["INVALID_VALUE"]
    assert top_level_codes(too_long) == ["INVALID_VALUE"]


async def test_an_unknown_program_has_no_insights(api: Api, clock: ManualClock) -> None:
    data = await api.data(
        INSIGHTS, {"slug": "nope", "from": "2026-11-01", "to": "2026-11-30", "granularity": "DAY"}
    )

    assert data["programInsights"] is None


async def test_only_admin_keys_read_insights(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    variables = {"slug": "shop", "from": "2026-11-01", "to": "2026-11-30", "granularity": "DAY"}

    for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE):
        body = await api.gql(INSIGHTS, variables, key=await program_key("shop", kind))

        assert top_level_codes(body) == ["FORBIDDEN"]


async def test_the_calendars_edges_answer(api: Api, clock: ManualClock) -> None:
    await create_program(api)

    data = await api.data(
        INSIGHTS, {"slug": "shop", "from": "9999-12-01", "to": "9999-12-31", "granularity": "WEEK"}
    )
    first = await api.data(
        INSIGHTS, {"slug": "shop", "from": "0001-01-01", "to": "0001-01-02", "granularity": "MONTH"}
    )

    assert [p["start"] for p in data["programInsights"]["series"]][-1] == "9999-12-27"
    assert data["programInsights"]["series"][-1]["end"] == "9999-12-31"
    assert first["programInsights"]["totals"]["orders"] == orders(0, 0, 0, 0)


SEGMENT = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { userErrors { code } }
}"""


async def test_a_segment_counts_its_members_only(api: Api, clock: ManualClock) -> None:
    await history(api)
    await enroll(api, customer_id="vip-1", tags=["vip"])
    await record_order(
        api,
        order_id="v-1",
        customer_id="vip-1",
        unit_price_minor=1000,
        placedAt="2026-11-25T10:00:00+00:00",
    )
    created = await api.data(
        SEGMENT,
        {
            "input": {
                "programSlug": "shop",
                "key": "vip",
                "name": "VIP",
                "condition": {"field": "TAG", "operator": "IN", "value": ["vip"]},
            }
        },
    )
    assert created["createSegment"]["userErrors"] == []
    month = {"slug": "shop", "from": "2026-11-01", "to": "2026-11-30", "granularity": "MONTH"}

    everyone = await api.data(INSIGHTS, month)
    vip = await api.data(INSIGHTS, {**month, "segment": "vip"})
    unknown = await api.gql(INSIGHTS, {**month, "segment": "nope"})

    assert everyone["programInsights"]["totals"]["orders"] == orders(2, 1, 4500, 1000)
    assert everyone["programInsights"]["totals"]["enrolments"] == 2
    totals = vip["programInsights"]["totals"]
    assert totals["orders"] == orders(1, 0, 2000, 0)
    assert (totals["enrolments"], totals["points"]) == (1, points(20, 20))
    assert top_level_codes(unknown) == ["SEGMENT_NOT_FOUND"]
