"""Tiers over the API: configuration, moving up with orders and down with refunds, entry rewards
once, the tier multiplier, what a member sees, reward terms, and many orders at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tortoise.connection import connections

from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.db import fetch_all
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    RECORD_ORDER,
    create_program,
    create_reward,
    enroll,
    member_status,
    member_token,
    order_input,
    post_as,
    program_key,
    record_order,
)
from tests.graphql.helpers import codes, pk_of, snapshot
from tests.graphql.referrals.test_referrals import enroll_with
from tests.graphql.referrals.test_referrals import setup as referral_program
from tests.graphql.test_query_counts import statements_of
from tests.jobs import helpers as job_helpers
from tests.jobs.helpers import T0

CONFIGURE = """
mutation($input: ConfigureTiersInput!) {
  configureTiers(input: $input) {
    tierProgram {
      metric period downgrade graceDays recalculationPending
      tiers {
        id name rank threshold earnMultiplier rewardDiscountPercent entryPoints entryReward { id }
      }
    }
    userErrors { field message code }
  }
}"""

STATUS_FIELDS = """
tierStatus {
  tier { name } since holdsUntil metric period currency value periodStart periodEnd
  nextTier { name threshold } neededForNext neededToKeep
  history { fromTier toTier reason at }
}"""

STATUS = f"query($id: ID!) {{ member(id: $id) {{ {STATUS_FIELDS} }} }}"
ME_STATUS = f"query {{ me {{ customerId {STATUS_FIELDS} }} }}"

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) {
    order { status }
    userErrors { field message code }
  }
}"""

EVENTS = """
query($slug: String!) {
  events(programSlug: $slug, type: "tier.changed", first: 100) {
    edges { node { payload } }
  }
}"""

GOLD_TIERS = [
    {"name": "Silver", "threshold": 10_000},
    {"name": "Gold", "threshold": 50_000, "earnMultiplier": "1.5", "entryPoints": 200},
]


# The API client and the manual clock of the job tests: services, jobs and these tests share
# one clock, standing at T0 until a test moves it.
clock = job_helpers.clock
api = job_helpers.api


async def configure(
    api: Api,
    tiers: list[dict[str, Any]] | None = None,
    *,
    metric: str = "MONEY_SPENT",
    period: str = "CALENDAR_YEAR",
    downgrade: str = "PERIOD_END",
    **fields: Any,
) -> dict[str, Any]:
    data = await api.data(
        CONFIGURE,
        {
            "input": {
                "programSlug": "shop",
                "metric": metric,
                "period": period,
                "downgrade": downgrade,
                "tiers": GOLD_TIERS if tiers is None else tiers,
                **fields,
            }
        },
    )
    payload: dict[str, Any] = data["configureTiers"]
    return payload


async def order(
    api: Api, clock: ManualClock, order_id: str, total_minor: int, customer_id: str = "cust-1"
) -> dict[str, Any]:
    result = await record_order(
        api,
        order_id=order_id,
        customer_id=customer_id,
        unit_price_minor=total_minor,
        quantity=1,
        placedAt=clock.now().isoformat(),
    )
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def status(api: Api, member_id: str) -> dict[str, Any]:
    data = await api.data(STATUS, {"id": member_id})
    result: dict[str, Any] = data["member"]["tierStatus"]
    return result


async def refund(api: Api, order_id: str, key: str) -> None:
    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": order_id, "idempotencyKey": key}},
    )
    assert data["refundOrder"]["userErrors"] == []


async def tier_rewards(member_id: str) -> list[int]:
    rows = await fetch_all(
        connections.get("default"),
        "SELECT points FROM ledger_transactions WHERE member_id = ? AND kind = 'TIER_REWARD'"
        " ORDER BY id",
        (pk_of(member_id),),
    )
    return [int(row["points"]) for row in rows]


async def test_configuring_tiers_returns_them_lowest_first_with_nothing_pending_on_an_empty_program(
    api: Api,
) -> None:
    await create_program(api)
    reward = await create_reward(api, cost_points=100)
    tiers = [
        {"name": "Member", "threshold": 0},
        {
            "name": "Gold",
            "threshold": 500,
            "entryRewardId": reward["id"],
            "rewardDiscountPercent": 10,
        },
    ]

    payload = await configure(api, tiers)

    assert payload["userErrors"] == []
    program = payload["tierProgram"]
    assert [(t["name"], t["rank"], t["threshold"]) for t in program["tiers"]] == [
        ("Member", 0, 0),
        ("Gold", 1, 500),
    ]
    assert program["tiers"][1]["entryReward"] == {"id": reward["id"]}
    assert program["tiers"][1]["rewardDiscountPercent"] == 10
    assert program["recalculationPending"] is True


async def test_bad_configurations_are_refused_with_precise_codes_and_write_nothing(
    api: Api,
) -> None:
    await create_program(api)
    before = await snapshot()

    falling = await configure(api, [{"name": "A", "threshold": 10}, {"name": "B", "threshold": 5}])
    twice = await configure(api, [{"name": "A", "threshold": 1}, {"name": "A", "threshold": 5}])
    multiplier = await configure(api, [{"name": "A", "threshold": 1, "earnMultiplier": "0.5"}])
    discount = await configure(api, [{"name": "A", "threshold": 1, "rewardDiscountPercent": 95}])
    rolling_one_level = await configure(api, period="ROLLING_12_MONTHS", downgrade="ONE_LEVEL")
    grace_without_policy = await configure(api, graceDays=10)
    free_entry = await configure(api, [{"name": "A", "threshold": 0, "entryPoints": 10}])
    none = await configure(api, [])
    unknown_reward = await configure(
        api, [{"name": "A", "threshold": 1, "entryRewardId": "UmV3YXJkOjk5OTk="}]
    )

    assert codes(falling["userErrors"]) == ["INVALID_VALUE"]
    assert falling["userErrors"][0]["field"] == ["input", "tiers"]
    assert codes(twice["userErrors"]) == ["INVALID_VALUE"]
    assert codes(multiplier["userErrors"]) == ["INVALID_VALUE"]
    assert codes(discount["userErrors"]) == ["INVALID_VALUE"]
    assert codes(rolling_one_level["userErrors"]) == ["INVALID_VALUE"]
    assert codes(grace_without_policy["userErrors"]) == ["INVALID_VALUE"]
    assert codes(free_entry["userErrors"]) == ["INVALID_VALUE"]
    assert codes(none["userErrors"]) == ["TOO_MANY"]
    assert codes(unknown_reward["userErrors"]) == ["REWARD_NOT_FOUND"]
    assert await snapshot() == before


async def test_orders_move_a_member_up_at_once_with_history_event_and_one_entry_reward(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)

    await order(api, clock, "o-1", 20_000)
    silver = await status(api, member["id"])
    clock.advance(timedelta(hours=1))
    await order(api, clock, "o-2", 35_000)
    gold = await status(api, member["id"])

    assert silver["tier"] == {"name": "Silver"}
    assert silver["value"] == 20_000
    assert silver["currency"] == "EUR"
    assert silver["nextTier"] == {"name": "Gold", "threshold": 50_000}
    assert silver["neededForNext"] == 30_000
    assert silver["neededToKeep"] == 0
    assert gold["tier"] == {"name": "Gold"}
    assert gold["since"] == (T0 + timedelta(hours=1)).isoformat()
    assert gold["nextTier"] is None and gold["neededForNext"] is None
    assert gold["periodStart"] == "2030-01-01T00:00:00+00:00"
    assert gold["periodEnd"] == "2031-01-01T00:00:00+00:00"
    assert gold["holdsUntil"] == "2032-01-01T00:00:00+00:00"
    assert [(h["fromTier"], h["toTier"], h["reason"]) for h in gold["history"]] == [
        ("Silver", "Gold", "ORDER"),
        (None, "Silver", "ORDER"),
    ]
    assert await tier_rewards(member["id"]) == [200]
    events = (await api.data(EVENTS, {"slug": "shop"}))["events"]["edges"]
    moves = [e["node"]["payload"] for e in events]
    assert [(m["fromTier"], m["toTier"], m["direction"]) for m in moves] == [
        (None, "Silver", "UP"),
        ("Silver", "Gold", "UP"),
    ]
    # Gold's entry points count as earned, but not towards the tier itself (MONEY_SPENT here).
    assert (await member_status(api, member["id"]))["points"]["lifetimeEarned"] == 550 + 200
    assert await verify_ledger() == []


async def test_a_refund_takes_the_tier_back_and_entering_again_gives_no_second_reward(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await order(api, clock, "o-1", 60_000)

    await refund(api, "o-1", "refund-1")
    after_refund = await status(api, member["id"])
    await order(api, clock, "o-2", 55_000)
    again = await status(api, member["id"])

    assert after_refund["tier"] is None
    assert after_refund["value"] == 0
    assert [(h["fromTier"], h["toTier"], h["reason"]) for h in after_refund["history"]] == [
        ("Gold", None, "REFUND"),
        (None, "Gold", "ORDER"),
    ]
    assert again["tier"] == {"name": "Gold"}
    assert await tier_rewards(member["id"]) == [200]


async def test_a_member_in_a_multiplier_tier_earns_it_from_their_next_order(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    await enroll(api)

    reaching = await order(api, clock, "o-1", 50_000)
    next_one = await order(api, clock, "o-2", 10_000)

    # The order that reaches Gold earns at the old rate; the next one at 1.5x.
    assert reaching["order"]["pointsEarned"] == 500
    assert next_one["order"]["pointsEarned"] == 150


async def test_points_earned_counts_order_points_and_not_adjustments_or_tier_rewards(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(
        api,
        [
            {"name": "Silver", "threshold": 100, "entryPoints": 1000},
            {"name": "Gold", "threshold": 1000},
        ],
        metric="POINTS_EARNED",
    )
    member = await enroll(api)
    adjust = """
    mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { userErrors { code } } }"""
    await api.data(
        adjust,
        {
            "input": {
                "memberId": member["id"],
                "points": 5000,
                "reason": "goodwill",
                "idempotencyKey": "adj-1",
            }
        },
    )
    untouched = await status(api, member["id"])

    await order(api, clock, "o-1", 15_000)
    silver = await status(api, member["id"])

    assert untouched["tier"] is None
    assert silver["tier"] == {"name": "Silver"}
    assert silver["value"] == 150
    assert silver["neededForNext"] == 850


async def test_a_member_token_reads_its_own_tier_status(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await configure(api)
    await enroll(api, customer_id="cust-a")
    await order(api, clock, "o-1", 12_000, customer_id="cust-a")
    token = await member_token(api, "cust-a")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    response = await post_as(api, ME_STATUS, key=publishable, token=token)

    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["me"]["customerId"] == "cust-a"
    assert body["data"]["me"]["tierStatus"]["tier"] == {"name": "Silver"}
    assert body["data"]["me"]["tierStatus"]["neededForNext"] == 38_000


async def test_tier_status_is_null_without_tiers(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    assert await status(api, member["id"]) is None


async def test_many_parallel_orders_cross_each_threshold_once_with_one_entry_reward(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)

    responses = await asyncio.gather(
        *(
            api.post(
                RECORD_ORDER,
                {
                    "input": order_input(
                        order_id=f"o-{i}",
                        unit_price_minor=5_000,
                        quantity=1,
                        placedAt=clock.now().isoformat(),
                    )
                },
            )
            for i in range(30)
        )
    )

    assert {r.status_code for r in responses} == {200}
    assert [r.json() for r in responses if "errors" in r.json()] == []
    final = await status(api, member["id"])
    assert final["value"] == 150_000
    assert final["tier"] == {"name": "Gold"}
    assert [(h["fromTier"], h["toTier"]) for h in final["history"]] == [
        ("Silver", "Gold"),
        (None, "Silver"),
    ]
    assert await tier_rewards(member["id"]) == [200]
    assert await verify_ledger() == []


async def test_a_rewarded_referral_counts_for_the_referrers_tier_at_once(
    api: Api, clock: ManualClock
) -> None:
    referrer, code = await referral_program(api, referrer={"points": 300, "trigger": "SIGNUP"})
    await configure(api, [{"name": "Advocate", "threshold": 1}], metric="REFERRALS")

    joined = await enroll_with(api, "friend", referralCode=code)
    advocate = await status(api, referrer["id"])

    assert joined["referral"]["state"] == "REWARDED"
    assert advocate["tier"] == {"name": "Advocate"}
    assert advocate["value"] == 1
    assert [(h["toTier"], h["reason"]) for h in advocate["history"]] == [("Advocate", "REFERRAL")]


async def test_only_admins_configure_tiers_and_any_key_of_the_program_reads_them(
    api: Api,
) -> None:
    await create_program(api)
    await create_program(api, "other")
    secret = await program_key("shop")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    other_publishable = await program_key("other", KeyKind.PUBLISHABLE)
    tiers = (await configure(api))["tierProgram"]["tiers"]
    before = await snapshot()
    document = {
        "input": {
            "programSlug": "shop",
            "metric": "ORDERS",
            "period": "LIFETIME",
            "downgrade": "NEVER",
            "tiers": [{"name": "Silver", "threshold": 1}],
        }
    }

    by_secret = await api.data(CONFIGURE, document, key=secret)
    node = "query($id: ID!) { node(id: $id) { id ... on Tier { name threshold } } }"
    seen = await api.data(node, {"id": tiers[1]["id"]}, key=publishable)
    unseen = await api.data(node, {"id": tiers[1]["id"]}, key=other_publishable)
    listing = 'query { tierProgram(programSlug: "shop") { tiers { name } } }'
    listed = await api.data(listing, key=publishable)
    not_listed = await api.data(listing, key=other_publishable)

    assert codes(by_secret["configureTiers"]["userErrors"]) == ["FORBIDDEN"]
    assert await snapshot() == before
    assert seen["node"] == {"id": tiers[1]["id"], "name": "Gold", "threshold": 50_000}
    assert unseen["node"] is None
    assert listed["tierProgram"]["tiers"] == [{"name": "Silver"}, {"name": "Gold"}]
    assert not_listed["tierProgram"] is None


async def test_a_member_previewing_a_cart_sees_their_tier_multiplier(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    await enroll(api, customer_id="cust-a")
    await order(api, clock, "o-1", 50_000, customer_id="cust-a")
    token = await member_token(api, "cust-a")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    preview = """
    query($input: PreviewOrderInput!) {
      previewOrderPoints(input: $input) { points lines { components { source points } } }
    }"""
    cart = {
        "programSlug": "shop",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unitPriceMinor": 10_000}],
    }

    as_member = await post_as(api, preview, {"input": cart}, key=publishable, token=token)
    anonymous = await post_as(api, preview, {"input": cart}, key=publishable)

    member_view = as_member.json()["data"]["previewOrderPoints"]
    assert member_view["points"] == 150
    assert member_view["lines"][0]["components"] == [
        {"source": "BASE", "points": 100},
        {"source": "TIER", "points": 50},
    ]
    assert anonymous.json()["data"]["previewOrderPoints"]["points"] == 100


MEMBER_PAGE = f"""
query($first: Int!) {{
  members(programSlug: "shop", first: $first, orderBy: OLDEST_FIRST) {{
    edges {{ node {{ id customerId {STATUS_FIELDS} }} }}
  }}
}}"""


async def test_a_page_of_members_reads_their_tier_status_in_a_fixed_number_of_statements(
    api: Api, clock: ManualClock
) -> None:
    # (each document once: with plans checked, every query would also run through its plan)
    api.check_plans = False
    await create_program(api)
    await configure(api, metric="MONEY_SPENT", period="ROLLING_12_MONTHS")
    spent = {1: 20_000, 2: 60_000, 3: 0, 4: 12_000, 5: 55_000, 6: 9_000}
    for number, total in spent.items():
        await enroll(api, customer_id=f"cust-{number}")
        if total:
            await order(api, clock, f"o-{number}", total, customer_id=f"cust-{number}")
            clock.advance(timedelta(hours=1))
    await refund(api, "o-5", "refund-5")

    two = await statements_of(api, MEMBER_PAGE, {"first": 2})
    six = await statements_of(api, MEMBER_PAGE, {"first": 6})
    page = (await api.data(MEMBER_PAGE, {"first": 6}))["members"]["edges"]

    assert two == six, (two, six)
    # Each member's status in the page is what reading that member alone answers.
    for edge in page:
        assert edge["node"]["tierStatus"] == await status(api, edge["node"]["id"])
    assert [edge["node"]["tierStatus"]["tier"] for edge in page] == [
        {"name": "Silver"},
        {"name": "Gold"},
        None,
        {"name": "Silver"},
        None,
        None,
    ]
    assert [edge["node"]["tierStatus"]["value"] for edge in page] == [
        20_000,
        60_000,
        0,
        12_000,
        0,
        9_000,
    ]
