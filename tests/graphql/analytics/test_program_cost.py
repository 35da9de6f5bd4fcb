"""Program cost and ROI over HTTP: rewards redeemed by kind and their value, incremental revenue
from member lift, the return on the rewards, referral conversion and referred revenue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app import clock as app_clock
from app.clock import ManualClock
from tests.graphql.conftest import Api
from tests.graphql.factories import CREATE_REWARD, REDEEM, grant_points, record_order
from tests.graphql.referrals.test_referrals import enroll_with
from tests.graphql.referrals.test_referrals import setup as referral_program

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

COST = """
query($from: Date!, $to: Date!, $granularity: InsightsGranularity!, $channel: OrderChannel) {
  programInsights(programSlug: "shop", from: $from, to: $to, granularity: $granularity,
                  channel: $channel) {
    totals {
      rewards { kind redeemed valueMinor }
      rewardsValueMinor returnOnInvestment
      customers { incrementalRevenueMinor members { customers revenueMinor }
                  guests { customers revenueMinor } }
      referrals { referred converted conversionRate revenueMinor }
    }
  }
}"""


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


async def reward(api: Api, kind: str, value_minor: int | None) -> str:
    data = await api.data(
        CREATE_REWARD,
        {
            "input": {
                "programSlug": "shop",
                "name": kind,
                "kind": kind,
                "costPoints": 10,
                "valueMinor": value_minor,
                **({"skus": ["SKU-9"]} if kind == "FREE_PRODUCT" else {}),
            }
        },
    )
    assert data["createReward"]["userErrors"] == [], data
    reward_id: str = data["createReward"]["reward"]["id"]
    return reward_id


async def redeem(api: Api, member_id: str, reward_id: str, key: str) -> None:
    data = await api.data(
        REDEEM, {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": key}}
    )
    assert data["redeemReward"]["userErrors"] == [], data


async def test_rewards_roi_and_referrals_of_a_month(api: Api, clock: ManualClock) -> None:
    # Alice refers Bob (who orders) and Carol (who does not); Dave orders as a guest.
    alice, code = await referral_program(api)
    bob = (await enroll_with(api, "bob", referralCode=code))["member"]
    await enroll_with(api, "carol", referralCode=code)
    await record_order(api, order_id="a-1", customer_id="alice", unit_price_minor=3000)
    await record_order(api, order_id="b-1", customer_id="bob", unit_price_minor=2000)
    await record_order(api, order_id="d-1", customer_id="dave", unit_price_minor=1000)
    discount = await reward(api, "FIXED_DISCOUNT", 500)
    product = await reward(api, "FREE_PRODUCT", None)
    await grant_points(api, alice["id"], 100)
    await grant_points(api, bob["id"], 100)
    await redeem(api, alice["id"], discount, "r-1")
    await redeem(api, bob["id"], discount, "r-2")
    await redeem(api, alice["id"], product, "r-3")

    data = await api.data(COST, {"from": "2026-11-01", "to": "2026-11-30", "granularity": "MONTH"})
    store = await api.data(
        COST,
        {"from": "2026-11-01", "to": "2026-11-30", "granularity": "MONTH", "channel": "WEB"},
    )
    days = await api.data(COST, {"from": "2026-11-02", "to": "2026-11-30", "granularity": "DAY"})

    totals = data["programInsights"]["totals"]
    assert totals["rewards"] == [
        {"kind": "FIXED_DISCOUNT", "redeemed": 2, "valueMinor": 1000},
        {"kind": "FREE_PRODUCT", "redeemed": 1, "valueMinor": 0},
    ]
    assert totals["rewardsValueMinor"] == 1000
    customers = totals["customers"]
    assert customers["members"] == {"customers": 2, "revenueMinor": 10000}
    assert customers["guests"] == {"customers": 1, "revenueMinor": 2000}
    # 2 x (10000 / 2 - 2000 / 1) = 6000; (6000 - 1000) / 1000 = 5.
    assert customers["incrementalRevenueMinor"] == 6000.0
    assert totals["returnOnInvestment"] == 5.0
    assert totals["referrals"] == {
        "referred": 2,
        "converted": 1,
        "conversionRate": 0.5,
        "revenueMinor": 4000,
    }
    # A channel has no rewards (they are not orders); days are not whole months.
    assert store["programInsights"]["totals"]["rewards"] is None
    day_totals = days["programInsights"]["totals"]
    assert (day_totals["referrals"], day_totals["returnOnInvestment"]) == (None, None)
    assert day_totals["rewardsValueMinor"] == 1000
