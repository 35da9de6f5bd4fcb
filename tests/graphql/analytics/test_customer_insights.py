"""programInsights' customer KPIs and programCohorts over HTTP: whole months only, the
threshold argument, a segment, the cohort table, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app import clock as app_clock
from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.services.analytics import open_snapshots
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    program_key,
    record_order,
    update_program_settings,
)
from tests.graphql.helpers import top_level_codes
from tests.graphql.test_query_counts import statements_of

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

CUSTOMERS = """
query($slug: String!, $from: Date!, $to: Date!, $granularity: InsightsGranularity!,
      $segment: String, $inactiveMonths: Int! = 3) {
  programInsights(programSlug: $slug, from: $from, to: $to, granularity: $granularity,
                  segment: $segment, inactiveMonths: $inactiveMonths) {
    series { start end customers { ...customers } }
    totals { start end customers { ...customers } }
  }
}
fragment group on CustomerGroupInsights {
  customers orders revenueMinor purchaseFrequency repeatCustomers repeatPurchaseRate
  averageOrderValueMinor customersAtStart customersAtEnd newCustomers retentionRate
  churnedCustomers churnRate churnedRevenueMinor expectedLifespanPeriods lifetimeValueMinor
}
fragment customers on CustomerInsights {
  inactiveMonths membersEnrolled adoptionRate activeMembers activeMemberShare
  redeemingMembers redeemingMemberShare
  members { ...group }
  guests { ...group }
}"""

COHORTS = """
query($slug: String!, $from: Date!, $to: Date!, $months: Int! = 12) {
  programCohorts(programSlug: $slug, from: $from, to: $to, months: $months) {
    currency timeZone
    cohorts {
      month members
      months { offset month activeMembers retention revenueMinor cumulativeRevenueMinor
               cumulativeRevenuePerMemberMinor }
    }
  }
}"""


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


async def history(api: Api) -> None:
    """In Tokyo: a member enrolled in November who ordered twice (October and November), a
    guest who ordered in September and in November, another guest in September only."""
    await create_program(api, timeZone="Asia/Tokyo")
    await enroll(api, customer_id="member-1", tags=["vip"])
    for order_id, placed_at in (
        ("m-1", "2026-10-05T00:00:00+00:00"),
        ("m-2", "2026-11-20T16:00:00+00:00"),
    ):
        await record_order(api, order_id=order_id, customer_id="member-1", placedAt=placed_at)
    for order_id, customer, placed_at in (
        ("g-1", "guest-1", "2026-09-10T00:00:00+00:00"),
        ("g-2", "guest-1", "2026-11-02T00:00:00+00:00"),
        ("g-3", "guest-2", "2026-09-12T00:00:00+00:00"),
    ):
        await record_order(
            api, order_id=order_id, customer_id=customer, unit_price_minor=500, placedAt=placed_at
        )


async def test_a_month_counts_distinct_customers(api: Api, clock: ManualClock) -> None:
    await history(api)

    data = await api.data(
        CUSTOMERS,
        {
            "slug": "shop",
            "from": "2026-11-01",
            "to": "2026-11-30",
            "granularity": "MONTH",
            "inactiveMonths": 2,
        },
    )

    november = data["programInsights"]["totals"]["customers"]
    assert data["programInsights"]["series"][0]["customers"] == november
    assert (november["inactiveMonths"], november["membersEnrolled"]) == (2, 1)
    assert (november["adoptionRate"], november["activeMembers"]) == (0.5, 1)
    assert (november["activeMemberShare"], november["redeemingMemberShare"]) == (1.0, 0.0)
    members, guests = november["members"], november["guests"]
    # The member ordered in October (S) and in November (E): retained.
    assert (members["customers"], members["orders"], members["revenueMinor"]) == (1, 1, 2500)
    assert (members["customersAtStart"], members["customersAtEnd"]) == (1, 1)
    assert (members["newCustomers"], members["retentionRate"], members["churnRate"]) == (
        0,
        100.0,
        0.0,
    )
    assert members["lifetimeValueMinor"] is None  # no churn, no expected lifespan
    # S is September and October, E October and November: both guests ordered in September
    # (S); guest-1 came back in November, guest-2 churned.
    assert (guests["customers"], guests["customersAtStart"], guests["customersAtEnd"]) == (1, 2, 1)
    assert (guests["churnedCustomers"], guests["churnRate"], guests["retentionRate"]) == (
        1,
        0.5,
        50.0,
    )
    assert guests["churnedRevenueMinor"] == 1000
    assert (guests["expectedLifespanPeriods"], guests["lifetimeValueMinor"]) == (2.0, 2000.0)


async def test_the_threshold_moves_s_and_e(api: Api, clock: ManualClock) -> None:
    await history(api)
    month = {"slug": "shop", "from": "2026-11-01", "to": "2026-11-30", "granularity": "MONTH"}

    one = await api.data(CUSTOMERS, {**month, "inactiveMonths": 1})

    guests = one["programInsights"]["totals"]["customers"]["guests"]
    # With one month, only October's orders make S: no guest ordered then.
    assert (guests["customersAtStart"], guests["customersAtEnd"], guests["newCustomers"]) == (
        0,
        1,
        1,
    )
    assert guests["retentionRate"] is None
    for refused in (0, 37):
        body = await api.gql(CUSTOMERS, {**month, "inactiveMonths": refused})
        assert top_level_codes(body) == ["INVALID_VALUE"]


async def test_periods_that_are_not_whole_months_have_no_customer_kpis(
    api: Api, clock: ManualClock
) -> None:
    await history(api)

    weeks = await api.data(
        CUSTOMERS, {"slug": "shop", "from": "2026-11-01", "to": "2026-11-30", "granularity": "WEEK"}
    )
    cut = await api.data(
        CUSTOMERS,
        {"slug": "shop", "from": "2026-10-02", "to": "2026-11-30", "granularity": "MONTH"},
    )

    assert all(p["customers"] is None for p in weeks["programInsights"]["series"])
    assert weeks["programInsights"]["totals"]["customers"] is not None
    assert [p["customers"] is None for p in cut["programInsights"]["series"]] == [True, False]
    assert cut["programInsights"]["totals"]["customers"] is None


async def test_a_segment_has_its_members_customer_kpis(api: Api, clock: ManualClock) -> None:
    await history(api)
    created = await api.data(
        "mutation($input: CreateSegmentInput!) {"
        " createSegment(input: $input) { userErrors { code } } }",
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

    vip = await api.data(
        CUSTOMERS,
        {
            "slug": "shop",
            "from": "2026-11-01",
            "to": "2026-11-30",
            "granularity": "MONTH",
            "segment": "vip",
        },
    )

    customers = vip["programInsights"]["totals"]["customers"]
    assert (customers["adoptionRate"], customers["membersEnrolled"]) == (1.0, 1)
    assert customers["members"]["customersAtStart"] == 1
    assert customers["guests"]["customers"] == customers["guests"]["customersAtStart"] == 0


async def test_cohorts_follow_members_from_their_enrolment_month(
    api: Api, clock: ManualClock
) -> None:
    await history(api)
    await enroll(api, customer_id="member-2")
    clock.advance(datetime(2027, 1, 10, tzinfo=UTC) - clock.now())
    await record_order(
        api, order_id="m2-1", customer_id="member-2", placedAt="2027-01-09T00:00:00+00:00"
    )

    data = await api.data(
        COHORTS, {"slug": "shop", "from": "2026-10-15", "to": "2026-11-30", "months": 3}
    )

    table = data["programCohorts"]
    assert (table["currency"], table["timeZone"]) == ("EUR", "Asia/Tokyo")
    october, november = table["cohorts"]
    assert (october["month"], october["members"]) == ("2026-10-01", 0)
    assert [m["retention"] for m in october["months"]] == [None, None, None]
    assert (november["month"], november["members"]) == ("2026-11-01", 2)
    assert [
        (m["offset"], m["month"], m["activeMembers"], m["retention"], m["cumulativeRevenueMinor"])
        for m in november["months"]
    ] == [
        (0, "2026-11-01", 1, 0.5, 2500),
        (1, "2026-12-01", 0, 0.0, 2500),
        (2, "2027-01-01", 1, 0.5, 5000),
    ]
    assert november["months"][2]["cumulativeRevenuePerMemberMinor"] == 2500.0


async def test_cohort_tables_refuse_bad_arguments_and_non_admins(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    base = {"slug": "shop", "from": "2026-01-01", "to": "2026-06-30"}

    for variables in (
        {**base, "to": "2025-12-31"},
        {**base, "from": "2023-01-01"},
        {**base, "months": 0},
        {**base, "months": 37},
    ):
        assert top_level_codes(await api.gql(COHORTS, variables)) == ["INVALID_VALUE"]
    unknown = await api.data(COHORTS, {**base, "slug": "nope"})
    assert unknown["programCohorts"] is None
    secret = await api.gql(COHORTS, base, key=await program_key("shop", KeyKind.SECRET))
    assert top_level_codes(secret) == ["FORBIDDEN"]


async def test_a_program_can_let_its_secret_keys_read_its_analytics(
    api: Api, clock: ManualClock
) -> None:
    await history(api)
    await create_program(api, slug="other")
    month = {"slug": "shop", "from": "2026-11-01", "to": "2026-11-30", "granularity": "MONTH"}
    secret = await program_key("shop", KeyKind.SECRET)
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    other_secret = await program_key("other", KeyKind.SECRET)

    before = await api.gql(CUSTOMERS, month, key=secret)
    program = await update_program_settings(api, insightsForSecretKeys=True)
    insights = await api.data(CUSTOMERS, month, key=secret)
    cohorts = await api.data(COHORTS, {**month, "months": 1}, key=secret)
    elsewhere = await api.data(CUSTOMERS, month, key=other_secret)
    public = await api.gql(CUSTOMERS, month, key=publishable)

    assert top_level_codes(before) == ["FORBIDDEN"]
    assert program["slug"] == "shop"
    admin = await api.data(CUSTOMERS, month)
    assert insights == admin
    assert cohorts["programCohorts"]["cohorts"][0]["members"] == 1
    assert elsewhere["programInsights"] is None
    assert top_level_codes(public) == ["FORBIDDEN"]


ORDERS_ONLY = """
query($slug: String!, $from: Date!, $to: Date!) {
  programInsights(programSlug: $slug, from: $from, to: $to, granularity: MONTH) {
    series { start orders { memberOrders guestOrders } }
    totals { orders { memberOrders guestOrders } }
  }
}"""


async def test_customer_figures_are_read_only_when_the_document_asks_for_them(
    api: Api, clock: ManualClock
) -> None:
    # (each document once: with plans checked, every query would also run through its plan)
    api.check_plans = False
    await history(api)
    months = {"slug": "shop", "from": "2026-09-01", "to": "2026-11-30"}

    orders_only = await statements_of(api, ORDERS_ONLY, months)
    with_customers = await statements_of(api, CUSTOMERS, {**months, "granularity": "MONTH"})
    answered = await api.data(ORDERS_ONLY, months)

    # The customers' months (and the referral figures) cost statements of their own; a
    # document without them does not pay for them, and its figures are unchanged.
    assert orders_only[0] < with_customers[0], (orders_only, with_customers)
    assert answered["programInsights"]["totals"]["orders"] == {"memberOrders": 2, "guestOrders": 3}


AS_OF = """
query($slug: String!) {
  programInsights(programSlug: $slug, from: "2026-11-01", to: "2026-11-30", granularity: MONTH) {
    openMonthsAsOf
    totals { customers { guests { customers } } }
  }
  programCohorts(programSlug: $slug, from: "2026-11-01", to: "2026-11-30", months: 2) {
    openMonthsAsOf
    cohorts { months { activeMembers revenueMinor } }
  }
}"""


async def test_answers_say_when_their_open_months_figures_were_counted(
    api: Api, clock: ManualClock
) -> None:
    # November is open on the 30th. A small program is counted on every read.
    await history(api)
    exact = await api.data(AS_OF, {"slug": "shop"})
    assert exact["programInsights"]["openMonthsAsOf"] is None
    assert exact["programCohorts"]["openMonthsAsOf"] is None

    # Keeping every count (budget and minimum 0), the next read answers from this one's. A
    # read now depends on the reads before it: no second app answering the same queries.
    api.check_plans = False
    previous = open_snapshots.configure(open_snapshots.SnapshotPolicy(budget_ms=0, min_customers=0))
    try:
        counted = await api.data(AS_OF, {"slug": "shop"})
        assert counted["programInsights"]["openMonthsAsOf"] is None
        clock.advance(timedelta(seconds=30))
        await record_order(
            api, order_id="g-4", customer_id="guest-3", placedAt=clock.now().isoformat()
        )
        await record_order(
            api, order_id="m-3", customer_id="member-1", placedAt=clock.now().isoformat()
        )
        lagged = await api.data(AS_OF, {"slug": "shop"})
    finally:
        open_snapshots.configure(previous)
    for query in ("programInsights", "programCohorts"):
        assert datetime.fromisoformat(lagged[query]["openMonthsAsOf"]) == NOW
        assert lagged[query] != exact[query]
        assert {**lagged[query], "openMonthsAsOf": None} == exact[query]
