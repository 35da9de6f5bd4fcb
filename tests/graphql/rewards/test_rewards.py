"""createReward, the reward catalogue and redeemReward: points and stock leave together."""

from __future__ import annotations

import re
from typing import Any

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    CREATE_REWARD,
    create_program,
    create_reward,
    enroll,
    grant_points,
    member_status,
    program_key,
    record_order,
)
from tests.graphql.helpers import (
    CODE_PATTERN,
    codes,
    count_rows,
    global_id,
    snapshot,
    top_level_codes,
)

REDEEM = """
mutation($input: RedeemRewardInput!) {
  redeemReward(input: $input) {
    redemption {
      id code pointsSpent status
      member { id points { available pending lifetimeEarned lifetimeRedeemed } }
      reward { id stock }
    }
    userErrors { field message code }
  }
}"""

REWARDS = """
query($slug: String!, $includeInactive: Boolean!) {
  rewards(programSlug: $slug, includeInactive: $includeInactive) { name costPoints active }
}"""

REWARD_STOCK = "query($id: ID!) { node(id: $id) { ... on Reward { stock } } }"


def reward_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "programSlug": "shop",
        "name": "Tote bag",
        "kind": "FREE_PRODUCT",
        "skus": ["TOTE-BAG"],
        "costPoints": 100,
    }
    values.update(overrides)
    if values["kind"] != "FREE_PRODUCT" and "skus" not in overrides:
        del values["skus"]
    return values


async def redeem(
    api: Api, member_id: str, reward_id: str, key: str = "redeem-1", *, api_key: str | None = None
) -> dict[str, Any]:
    data = await api.data(
        REDEEM,
        {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": key}},
        key=api_key,
    )
    payload: dict[str, Any] = data["redeemReward"]
    return payload


async def stock_of(api: Api, reward_id: str) -> int | None:
    stock: int | None = (await api.data(REWARD_STOCK, {"id": reward_id}))["node"]["stock"]
    return stock


async def test_an_admin_creates_a_reward(api: Api) -> None:
    await create_program(api)

    data = await api.data(
        """mutation($input: CreateRewardInput!) {
          createReward(input: $input) {
            reward { name description kind costPoints valueMinor stock active }
            userErrors { field message code }
          }
        }""",
        {
            "input": reward_input(
                name="  Five euros off  ",
                description="On any order",
                kind="FIXED_DISCOUNT",
                costPoints=500,
                valueMinor=500,
                stock=10,
            )
        },
    )

    assert data["createReward"] == {
        "reward": {
            "name": "Five euros off",
            "description": "On any order",
            "kind": "FIXED_DISCOUNT",
            "costPoints": 500,
            "valueMinor": 500,
            "stock": 10,
            "active": True,
        },
        "userErrors": [],
    }


async def test_only_an_admin_may_create_rewards(api: Api) -> None:
    await create_program(api)
    keys = [await program_key("shop", kind) for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE)]
    before = await snapshot()

    for key in keys:
        data = await api.data(CREATE_REWARD, {"input": reward_input()}, key=key)

        assert data["createReward"] == {
            "reward": None,
            "userErrors": [
                {"field": None, "message": "this needs an admin key", "code": "FORBIDDEN"}
            ],
        }
    assert await snapshot() == before


async def test_bad_rewards_are_refused_and_write_nothing(api: Api) -> None:
    await create_program(api)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"programSlug": "nope"}, "PROGRAM_NOT_FOUND", ["input", "programSlug"]),
        ({"name": "  "}, "REQUIRED", ["input", "name"]),
        ({"name": "n" * 201}, "TOO_LONG", ["input", "name"]),
        ({"description": "d" * 2001}, "TOO_LONG", ["input", "description"]),
        ({"costPoints": 0}, "INVALID_POINTS", ["input", "costPoints"]),
        ({"costPoints": -100}, "INVALID_POINTS", ["input", "costPoints"]),
        ({"costPoints": 1_000_000_001}, "INVALID_POINTS", ["input", "costPoints"]),
        ({"valueMinor": -1}, "INVALID_AMOUNT", ["input", "valueMinor"]),
        ({"stock": -1}, "INVALID_QUANTITY", ["input", "stock"]),
    ]
    before = await snapshot()
    for overrides, code, field in cases:
        data = await api.data(CREATE_REWARD, {"input": reward_input(**overrides)})

        assert data["createReward"]["reward"] is None, overrides
        errors = data["createReward"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], overrides
    assert await snapshot() == before


async def test_rewards_are_listed_cheapest_first_and_inactive_ones_only_on_request(
    api: Api,
) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    await create_reward(api, name="Mug", cost_points=300)
    await create_reward(api, name="Sticker", cost_points=50)
    await create_reward(api, name="Retired cap", cost_points=100, active=False)
    await create_reward(api, name="Pen", cost_points=50)
    await create_reward(api, program_slug="other", name="Elsewhere", cost_points=10)
    secret = await program_key("shop", KeyKind.SECRET)
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    active = await api.data(REWARDS, {"slug": "shop", "includeInactive": False})
    everything = await api.data(REWARDS, {"slug": "shop", "includeInactive": True})
    everything_secret = await api.data(
        REWARDS, {"slug": "shop", "includeInactive": True}, key=secret
    )
    active_publishable = await api.data(
        REWARDS, {"slug": "shop", "includeInactive": False}, key=publishable
    )
    inactive_publishable = await api.gql(
        REWARDS, {"slug": "shop", "includeInactive": True}, key=publishable
    )

    assert active["rewards"] == [
        {"name": "Sticker", "costPoints": 50, "active": True},
        {"name": "Pen", "costPoints": 50, "active": True},
        {"name": "Mug", "costPoints": 300, "active": True},
    ]
    assert everything["rewards"] == [
        {"name": "Sticker", "costPoints": 50, "active": True},
        {"name": "Pen", "costPoints": 50, "active": True},
        {"name": "Retired cap", "costPoints": 100, "active": False},
        {"name": "Mug", "costPoints": 300, "active": True},
    ]
    assert everything_secret == everything
    assert active_publishable == active
    assert top_level_codes(inactive_publishable) == ["FORBIDDEN"]
    assert inactive_publishable["data"] is None


async def test_rewards_of_an_unknown_program_are_an_empty_list(api: Api) -> None:
    await create_program(api)
    await create_reward(api)

    data = await api.data(REWARDS, {"slug": "nope", "includeInactive": False})

    assert data == {"rewards": []}


async def test_redeeming_spends_points_takes_stock_and_issues_a_code(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100, stock=5)
    await record_order(api, unit_price_minor=15000, quantity=1)  # 150 points

    payload = await redeem(api, member["id"], reward["id"])

    assert payload["userErrors"] == []
    redemption = payload["redemption"]
    assert re.fullmatch(CODE_PATTERN, redemption["code"]), redemption["code"]
    assert len(redemption["code"].replace("-", "")) == 16
    assert redemption["pointsSpent"] == 100
    assert redemption["status"] == "ISSUED"
    assert redemption["member"] == {
        "id": member["id"],
        "points": {"available": 50, "pending": 0, "lifetimeEarned": 150, "lifetimeRedeemed": 100},
    }
    assert redemption["reward"] == {"id": reward["id"], "stock": 4}
    assert await stock_of(api, reward["id"]) == 4
    status = await member_status(api, member["id"])
    assert status["points"] == redemption["member"]["points"]
    assert [edge["node"] for edge in status["activity"]["edges"]] == [
        {"kind": "REDEEM", "points": -100, "description": "Redeemed Tote bag", "orderId": None},
        {"kind": "EARN_ORDER", "points": 150, "description": "Order order-1", "orderId": "order-1"},
    ]


async def test_a_reward_without_stock_is_unlimited(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10, stock=None)
    await grant_points(api, member["id"], 30)

    for key in ("r-1", "r-2", "r-3"):
        assert (await redeem(api, member["id"], reward["id"], key))["userErrors"] == []

    assert await stock_of(api, reward["id"]) is None
    assert (await member_status(api, member["id"]))["points"]["available"] == 0


async def test_two_redemptions_issue_different_codes(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100, stock=5)
    await grant_points(api, member["id"], 250)

    first = await redeem(api, member["id"], reward["id"], "redeem-1")
    second = await redeem(api, member["id"], reward["id"], "redeem-2")

    assert first["userErrors"] == second["userErrors"] == []
    assert first["redemption"]["id"] != second["redemption"]["id"]
    assert first["redemption"]["code"] != second["redemption"]["code"]
    assert await stock_of(api, reward["id"]) == 3
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 50
    assert status["points"]["lifetimeRedeemed"] == 200


async def test_the_last_unit_of_stock_can_be_redeemed_then_none_is_left(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10, stock=1)
    await grant_points(api, member["id"], 100)

    first = await redeem(api, member["id"], reward["id"], "redeem-1")
    before = await snapshot()
    second = await redeem(api, member["id"], reward["id"], "redeem-2")

    assert first["userErrors"] == []
    assert first["redemption"]["reward"]["stock"] == 0
    assert second["redemption"] is None
    assert codes(second["userErrors"]) == ["REWARD_OUT_OF_STOCK"]
    assert await snapshot() == before


async def test_bad_redemptions_are_refused_with_precise_codes_and_write_nothing(
    api: Api,
) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    member = await enroll(api)
    poor = await enroll(api, customer_id="cust-poor")
    reward = await create_reward(api, cost_points=100, stock=5)
    inactive = await create_reward(api, name="Old", cost_points=10, active=False)
    sold_out = await create_reward(api, name="Gone", cost_points=10, stock=0)
    foreign = await create_reward(api, program_slug="other", name="Elsewhere", cost_points=10)
    await grant_points(api, member["id"], 500)
    await grant_points(api, poor["id"], 99, key="grant-poor")
    cases: list[tuple[str, str, str, str, list[str] | None]] = [
        (poor["id"], reward["id"], "k", "INSUFFICIENT_POINTS", ["input", "rewardId"]),
        (member["id"], inactive["id"], "k", "REWARD_INACTIVE", ["input", "rewardId"]),
        (member["id"], sold_out["id"], "k", "REWARD_OUT_OF_STOCK", ["input", "rewardId"]),
        (member["id"], foreign["id"], "k", "REWARD_NOT_FOUND", ["input", "rewardId"]),
        (
            member["id"],
            global_id("Reward", 999_999),
            "k",
            "REWARD_NOT_FOUND",
            ["input", "rewardId"],
        ),
        (
            global_id("Member", 999_999),
            reward["id"],
            "k",
            "MEMBER_NOT_FOUND",
            ["input", "memberId"],
        ),
        ("!!!", reward["id"], "k", "INVALID_ID", ["input", "memberId"]),
        ("", reward["id"], "k", "INVALID_ID", ["input", "memberId"]),
        (reward["id"], reward["id"], "k", "INVALID_ID", ["input", "memberId"]),
        (member["id"], member["id"], "k", "INVALID_ID", ["input", "rewardId"]),
        (member["id"], reward["id"], "", "REQUIRED", ["input", "idempotencyKey"]),
        (member["id"], reward["id"], "k" * 256, "TOO_LONG", ["input", "idempotencyKey"]),
    ]
    before = await snapshot()
    for member_id, reward_id, key, code, field in cases:
        payload = await redeem(api, member_id, reward_id, key)

        assert payload["redemption"] is None, (code, payload)
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await snapshot() == before
    assert await stock_of(api, reward["id"]) == 5
    assert (await member_status(api, poor["id"]))["points"]["available"] == 99


async def test_the_same_idempotency_key_replays_the_same_redemption(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100, stock=5)
    await grant_points(api, member["id"], 250)
    first = await redeem(api, member["id"], reward["id"], "redeem-1")
    after_first = await snapshot()

    replay = await redeem(api, member["id"], reward["id"], "redeem-1")

    assert replay["userErrors"] == []
    assert replay["redemption"]["id"] == first["redemption"]["id"]
    assert replay["redemption"]["code"] == first["redemption"]["code"]
    assert replay["redemption"]["pointsSpent"] == 100
    assert await snapshot() == after_first
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 150
    assert status["points"]["lifetimeRedeemed"] == 100
    assert [edge["node"]["kind"] for edge in status["activity"]["edges"]] == ["REDEEM", "ADJUST"]
    assert await stock_of(api, reward["id"]) == 4


async def test_the_same_idempotency_key_with_other_input_is_refused(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    other_member = await enroll(api, customer_id="cust-2")
    reward = await create_reward(api, cost_points=100, stock=5)
    other_reward = await create_reward(api, name="Mug", cost_points=50, stock=5)
    await grant_points(api, member["id"], 250)
    await grant_points(api, other_member["id"], 250, key="grant-2")
    await redeem(api, member["id"], reward["id"], "redeem-1")
    before = await snapshot()

    other_reward_payload = await redeem(api, member["id"], other_reward["id"], "redeem-1")
    other_member_payload = await redeem(api, other_member["id"], reward["id"], "redeem-1")

    for payload in (other_reward_payload, other_member_payload):
        assert payload["redemption"] is None
        assert payload["userErrors"] == [
            {
                "field": ["input", "idempotencyKey"],
                "message": "this idempotencyKey was already used with different input",
                "code": "IDEMPOTENCY_KEY_REUSED",
            }
        ]
    assert await snapshot() == before


async def test_a_refused_redemption_does_not_burn_its_idempotency_key(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100)
    await grant_points(api, member["id"], 60, key="grant-1")
    refused = await redeem(api, member["id"], reward["id"], "redeem-1")
    await grant_points(api, member["id"], 60, key="grant-2")

    retried = await redeem(api, member["id"], reward["id"], "redeem-1")

    assert codes(refused["userErrors"]) == ["INSUFFICIENT_POINTS"]
    assert retried["userErrors"] == []
    assert retried["redemption"]["pointsSpent"] == 100
    assert retried["redemption"]["member"]["points"]["available"] == 20
    assert await count_rows("redemptions") == 1


async def test_an_out_of_stock_refusal_does_not_burn_the_idempotency_key(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    sold_out = await create_reward(api, name="Gone", cost_points=10, stock=0)
    other = await create_reward(api, name="Mug", cost_points=10)
    await grant_points(api, member["id"], 100)
    refused = await redeem(api, member["id"], sold_out["id"], "redeem-1")

    retried = await redeem(api, member["id"], other["id"], "redeem-1")

    assert codes(refused["userErrors"]) == ["REWARD_OUT_OF_STOCK"]
    assert retried["userErrors"] == []
    assert retried["redemption"]["member"]["points"]["available"] == 90


async def test_a_program_secret_key_may_redeem_for_its_members(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100)
    await grant_points(api, member["id"], 100)
    secret = await program_key("shop", KeyKind.SECRET)

    payload = await redeem(api, member["id"], reward["id"], api_key=secret)

    assert payload["userErrors"] == []
    assert payload["redemption"]["member"]["points"]["available"] == 0


async def test_a_storefront_cannot_fetch_an_inactive_reward_by_id(api: Api) -> None:
    await create_program(api)
    hidden = await create_reward(api, name="Black Friday tote", active=False)
    shown = await create_reward(api, name="Tote bag")
    storefront = await program_key("shop", KeyKind.PUBLISHABLE)
    query = "query($id: ID!) { node(id: $id) { ... on Reward { name active } } }"

    as_storefront = await api.data(query, {"id": hidden["id"]}, key=storefront)
    active_for_storefront = await api.data(query, {"id": shown["id"]}, key=storefront)
    as_admin = await api.data(query, {"id": hidden["id"]})

    assert as_storefront == {"node": None}
    assert active_for_storefront == {"node": {"name": "Tote bag", "active": True}}
    assert as_admin == {"node": {"name": "Black Friday tote", "active": False}}


RECOMMENDED = """
query($id: ID!, $first: Int) {
  member(id: $id) {
    recommendedRewards(first: $first) { reward { name } costPoints pointsNeeded redeemableNow }
  }
}"""


async def test_recommended_rewards_show_what_points_buy_now_then_what_is_within_reach(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    for name, cost in (("Sticker", 50), ("Mug", 200), ("Tote", 300), ("Hoodie", 900)):
        await create_reward(api, cost_points=cost, name=name)
    await create_reward(api, cost_points=100, name="Sold out", stock=0)
    await create_reward(api, cost_points=10, name="Paused", active=False)
    await grant_points(api, member["id"], 250)

    data = await api.data(RECOMMENDED, {"id": member["id"], "first": 10})
    top = await api.data(RECOMMENDED, {"id": member["id"], "first": 2})
    too_many = await api.gql(RECOMMENDED, {"id": member["id"], "first": 1000})

    shown = [
        (r["reward"]["name"], r["costPoints"], r["pointsNeeded"], r["redeemableNow"])
        for r in data["member"]["recommendedRewards"]
    ]
    # Affordable now, dearest first; then nearest first; never the sold-out or paused ones.
    assert shown == [
        ("Mug", 200, 0, True),
        ("Sticker", 50, 0, True),
        ("Tote", 300, 50, False),
        ("Hoodie", 900, 650, False),
    ]
    assert [r["reward"]["name"] for r in top["member"]["recommendedRewards"]] == ["Mug", "Sticker"]
    assert [e["extensions"]["code"] for e in too_many["errors"]] == ["INVALID_VALUE"]
