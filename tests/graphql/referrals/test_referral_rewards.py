"""Referral rewards from the catalogue: credited and redeemed at once, stock-limited, given to
the referrer only once the friend's order is past its return window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app import clock
from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.graphql.core.ids import decode_id
from app.jobs.runner import JobName, run_job
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    member_status,
    member_token,
    post_as,
    program_key,
    record_order,
)
from tests.graphql.helpers import rows
from tests.graphql.referrals.test_referrals import SETTINGS, code_of, event_types, now_iso

CREATE_REWARD = """
mutation($input: CreateRewardInput!) {
  createReward(input: $input) {
    reward { id name costPoints valueMinor stock active }
    userErrors { field message code }
  }
}"""

SETTINGS_REWARDS = """
query($slug: String!) {
  referralSettings(programSlug: $slug) {
    referrer { points reward { id name } }
    friend { points reward { id name } }
  }
}"""

REWARD_FIELDS = """
  side points status orderId catalogueStatus catalogueFailure valueMinor
  reward { id name stock }
  redemption { code pointsSpent status member { customerId } }
"""

ENROLL = f"""
mutation($input: EnrollMemberInput!) {{
  enrollMember(input: $input) {{
    member {{ id customerId }}
    referral {{ id state rewards {{ {REWARD_FIELDS} }} }}
    userErrors {{ field message code }}
  }}
}}"""

NODE = f"""
query($id: ID!) {{
  node(id: $id) {{ ... on Referral {{ id state rewards {{ {REWARD_FIELDS} }} }} }}
}}"""

REFERRED_BY = f"""
query($id: ID!) {{
  member(id: $id) {{ referredBy {{ state rewards {{ {REWARD_FIELDS} }} }} }}
}}"""

STATS = """
query($slug: String!, $from: DateTime!, $to: DateTime!) {
  referralStats(programSlug: $slug, from: $from, to: $to) {
    pointsPaid pointsPending moneyPaidMinor currency catalogueRewards { reason count }
  }
}"""

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { order { status } userErrors { code } }
}"""


async def create_reward(
    api: Api,
    *,
    slug: str = "shop",
    name: str = "Tote bag",
    cost: int = 300,
    value_minor: int | None = 1500,
    stock: int | None = None,
    active: bool = True,
) -> dict[str, Any]:
    data = await api.data(
        CREATE_REWARD,
        {
            "input": {
                "programSlug": slug,
                "name": name,
                "kind": "FREE_PRODUCT",
                "skus": ["TOTE-BAG"],
                "costPoints": cost,
                "valueMinor": value_minor,
                "stock": stock,
                "active": active,
            }
        },
    )
    assert data["createReward"]["userErrors"] == []
    reward: dict[str, Any] = data["createReward"]["reward"]
    return reward


async def configure(api: Api, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "programSlug": "shop",
        "enabled": True,
        "urlTemplate": "https://shop.test/invite/{code}",
        "referrer": {"points": 0, "trigger": "FIRST_ORDER", "minimumOrderMinor": 2000},
        "friend": {"points": 0, "trigger": "SIGNUP"},
        **overrides,
    }
    data = await api.data(SETTINGS, {"input": values})
    payload: dict[str, Any] = data["updateReferralSettings"]
    return payload


async def setup(
    api: Api, *, pending_days: int = 0, stock: int | None = None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """A program with referrals on and a catalogue reward (not yet in the settings); returns
    the referrer, their code and the reward."""
    await create_program(api, pendingDays=pending_days)
    reward = await create_reward(api, stock=stock)
    configured = await configure(api)
    assert configured["userErrors"] == [], configured
    referrer = await enroll(api, customer_id="alice", email="alice@example.org")
    return referrer, await code_of(api, referrer["id"]), reward


async def enroll_with(api: Api, customer_id: str, code: str) -> dict[str, Any]:
    data = await api.data(
        ENROLL,
        {"input": {"programSlug": "shop", "customerId": customer_id, "referralCode": code}},
    )
    payload: dict[str, Any] = data["enrollMember"]
    assert payload["userErrors"] == [], payload
    return payload


async def referral(api: Api, referral_id: str) -> dict[str, Any]:
    node: dict[str, Any] = (await api.data(NODE, {"id": referral_id}))["node"]
    return node


async def balances(api: Api, member_id: str) -> dict[str, int]:
    points: dict[str, int] = (await member_status(api, member_id))["points"]
    return points


async def stock_of(reward_id: str) -> int | None:
    found = await rows(f"SELECT stock FROM rewards WHERE id = {decode_id(reward_id, 'Reward')}")
    stock = found[0]["stock"]
    return None if stock is None else int(stock)


async def run_jobs(days: float) -> None:
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=days))):
        for name in (JobName.MATURE, JobName.REFERRALS):
            result = await run_job(name, clock.current().now())
            assert result.ran


def side_with(reward: dict[str, Any], **rule: Any) -> dict[str, Any]:
    return {**rule, "rewardId": reward["id"]}


# --- the friend's reward at sign-up -----------------------------------------------------------


async def test_a_friend_gets_a_catalogue_reward_on_sign_up_balance_unchanged(api: Api) -> None:
    await create_program(api)
    reward = await create_reward(api, stock=5)
    configured = await configure(api, friend=side_with(reward, points=100, trigger="SIGNUP"))
    settings = await api.data(SETTINGS_REWARDS, {"slug": "shop"})
    referrer = await enroll(api, customer_id="alice")
    code = await code_of(api, referrer["id"])

    joined = await enroll_with(api, "friend", code)
    friend_id = joined["member"]["id"]
    own = await api.data(REFERRED_BY, {"id": friend_id})

    assert configured["userErrors"] == []
    assert settings["referralSettings"]["friend"] == {
        "points": 100,
        "reward": {"id": reward["id"], "name": "Tote bag"},
    }
    assert settings["referralSettings"]["referrer"]["reward"] is None
    [given] = joined["referral"]["rewards"]
    assert given["side"] == "FRIEND"
    assert (given["points"], given["status"]) == (100, "PAID")
    assert (given["catalogueStatus"], given["catalogueFailure"]) == ("GIVEN", None)
    assert given["valueMinor"] == 1500
    assert given["reward"] == {"id": reward["id"], "name": "Tote bag", "stock": 4}
    redemption = given["redemption"]
    assert redemption["pointsSpent"] == 300
    assert redemption["status"] == "ISSUED"
    assert redemption["member"] == {"customerId": "friend"}
    assert len(redemption["code"]) >= 8
    assert own["member"]["referredBy"]["rewards"][0]["redemption"]["code"] == redemption["code"]
    assert await stock_of(reward["id"]) == 4
    # The points side is spendable; the reward's cost was credited and spent at once.
    assert await balances(api, friend_id) == {
        "available": 100,
        "pending": 0,
        "lifetimeEarned": 400,
        "lifetimeRedeemed": 300,
    }
    ledger = await rows(
        "SELECT t.kind, t.points FROM ledger_transactions t JOIN members m ON m.id = t.member_id"
        " WHERE m.customer_id = 'friend' ORDER BY t.id"
    )
    assert [(row["kind"], int(row["points"])) for row in ledger] == [
        ("REFERRAL", 100),
        ("REFERRAL", 300),
        ("REDEEM", -300),
    ]
    redemptions = await rows("SELECT code, transaction_id FROM redemptions")
    assert [row["code"] for row in redemptions] == [redemption["code"]]
    assert await rows("SELECT id FROM point_lots WHERE pending_until IS NOT NULL") == []
    assert await verify_ledger() == []


async def test_a_catalogue_reward_alone_leaves_the_balance_untouched(api: Api) -> None:
    _, code, reward = await setup(api)
    await configure(api, friend=side_with(reward, points=0, trigger="SIGNUP"))

    joined = await enroll_with(api, "friend", code)

    [given] = joined["referral"]["rewards"]
    assert (given["points"], given["catalogueStatus"]) == (0, "GIVEN")
    assert given["redemption"]["code"]
    assert await balances(api, joined["member"]["id"]) == {
        "available": 0,
        "pending": 0,
        "lifetimeEarned": 300,
        "lifetimeRedeemed": 300,
    }
    assert await verify_ledger() == []


async def test_a_member_token_never_sees_the_other_sides_redemption_code(api: Api) -> None:
    _, code, reward = await setup(api)
    await configure(
        api,
        friend=side_with(reward, points=0, trigger="SIGNUP"),
        referrer=side_with(reward, points=0, trigger="SIGNUP"),
    )
    joined = await enroll_with(api, "friend", code)
    codes = {r["side"]: r["redemption"]["code"] for r in joined["referral"]["rewards"]}
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    token = await member_token(api, "alice")

    response = await post_as(
        api,
        f"{{ me {{ referrals(first: 5) {{ edges {{ node {{ rewards {{ {REWARD_FIELDS} }} }} }} }}"
        " } }",
        key=publishable,
        token=token,
    )

    body = response.json()
    assert "errors" not in body, body
    [edge] = body["data"]["me"]["referrals"]["edges"]
    seen = {r["side"]: r["redemption"] for r in edge["node"]["rewards"]}
    assert seen["FRIEND"] is None
    assert seen["REFERRER"] is not None and seen["REFERRER"]["code"] == codes["REFERRER"]
    assert codes["FRIEND"] not in response.text


# --- the referrer's reward after the return window --------------------------------------------


async def test_the_referrers_catalogue_reward_is_given_only_when_the_reward_matures(
    api: Api,
) -> None:
    referrer, code, reward = await setup(api, pending_days=14, stock=3)
    await configure(
        api,
        referrer=side_with(reward, points=500, trigger="FIRST_ORDER", minimumOrderMinor=2000),
    )
    joined = await enroll_with(api, "friend", code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())

    qualified = await referral(api, joined["referral"]["id"])
    before = await balances(api, referrer["id"])
    await run_jobs(13)
    early = await referral(api, joined["referral"]["id"])
    early_stock = await stock_of(reward["id"])
    await run_jobs(15)
    rewarded = await referral(api, joined["referral"]["id"])
    await run_jobs(16)
    again = await referral(api, joined["referral"]["id"])

    [pending] = qualified["rewards"]
    assert qualified["state"] == "QUALIFIED"
    assert (pending["status"], pending["catalogueStatus"]) == ("PENDING", "PENDING")
    assert pending["redemption"] is None
    assert before == {"available": 0, "pending": 500, "lifetimeEarned": 500, "lifetimeRedeemed": 0}
    assert early["state"] == "QUALIFIED"
    assert early["rewards"][0]["catalogueStatus"] == "PENDING"
    assert early_stock == 3
    assert rewarded["state"] == "REWARDED"
    [final] = rewarded["rewards"]
    assert (final["status"], final["catalogueStatus"]) == ("PAID", "GIVEN")
    assert final["redemption"]["member"] == {"customerId": "alice"}
    assert again["rewards"][0]["redemption"]["code"] == final["redemption"]["code"]
    assert await stock_of(reward["id"]) == 2
    assert len(await rows("SELECT id FROM redemptions")) == 1
    assert await balances(api, referrer["id"]) == {
        "available": 500,
        "pending": 0,
        "lifetimeEarned": 800,
        "lifetimeRedeemed": 300,
    }
    assert await verify_ledger() == []


async def test_a_catalogue_reward_alone_for_the_referrer_waits_and_is_settled(api: Api) -> None:
    referrer, code, reward = await setup(api, pending_days=14)
    await configure(
        api, referrer=side_with(reward, points=0, trigger="FIRST_ORDER", minimumOrderMinor=0)
    )
    joined = await enroll_with(api, "friend", code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())
    qualified = await referral(api, joined["referral"]["id"])

    await run_jobs(15)

    rewarded = await referral(api, joined["referral"]["id"])
    assert qualified["state"] == "QUALIFIED"
    assert qualified["rewards"][0]["catalogueStatus"] == "PENDING"
    assert rewarded["state"] == "REWARDED"
    assert rewarded["rewards"][0]["catalogueStatus"] == "GIVEN"
    assert (await balances(api, referrer["id"]))["lifetimeRedeemed"] == 300
    assert await verify_ledger() == []


async def test_a_refund_before_the_window_ends_cancels_the_catalogue_reward(api: Api) -> None:
    for points in (500, 0):
        await _refund_cancels(api, points)


async def _refund_cancels(api: Api, points: int) -> None:
    slug = f"shop-{points}"
    await create_program(api, slug=slug, pendingDays=14)
    reward = await create_reward(api, slug=slug, stock=3)
    await configure(
        api,
        programSlug=slug,
        referrer=side_with(reward, points=points, trigger="FIRST_ORDER", minimumOrderMinor=0),
    )
    referrer = await enroll(api, program_slug=slug, customer_id="alice")
    code = await code_of(api, referrer["id"])
    data = await api.data(
        ENROLL, {"input": {"programSlug": slug, "customerId": "friend", "referralCode": code}}
    )
    joined = data["enrollMember"]
    await record_order(
        api, program_slug=slug, customer_id="friend", unit_price_minor=1500, placedAt=now_iso()
    )

    refunded = await api.data(
        REFUND, {"input": {"programSlug": slug, "orderId": "order-1", "idempotencyKey": "r"}}
    )
    await run_jobs(15)

    after = await referral(api, joined["referral"]["id"])
    assert refunded["refundOrder"]["userErrors"] == []
    assert after["state"] == "REJECTED"
    [cancelled] = after["rewards"]
    assert (cancelled["status"], cancelled["catalogueStatus"]) == ("CANCELLED", "CANCELLED")
    assert cancelled["redemption"] is None
    assert await stock_of(reward["id"]) == 3
    assert (await balances(api, referrer["id"]))["lifetimeRedeemed"] == 0
    assert await verify_ledger() == []


async def test_a_refund_after_the_window_gives_the_catalogue_reward_it_settles(api: Api) -> None:
    referrer, code, reward = await setup(api, pending_days=14, stock=3)
    await configure(
        api, referrer=side_with(reward, points=0, trigger="FIRST_ORDER", minimumOrderMinor=0)
    )
    joined = await enroll_with(api, "friend", code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())

    with clock.using(clock.ManualClock(utc_now() + timedelta(days=15))):
        refunded = await api.data(
            REFUND,
            {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "late"}},
        )

    after = await referral(api, joined["referral"]["id"])
    assert refunded["refundOrder"]["userErrors"] == []
    assert after["state"] == "REWARDED"
    assert after["rewards"][0]["catalogueStatus"] == "GIVEN"
    assert await stock_of(reward["id"]) == 2
    assert (await balances(api, referrer["id"]))["lifetimeRedeemed"] == 300
    assert await verify_ledger() == []


# --- stock and validity -----------------------------------------------------------------------


async def test_out_of_stock_records_the_reward_failed_and_still_pays_the_points(
    api: Api,
) -> None:
    _, code, reward = await setup(api, stock=1)
    await configure(api, friend=side_with(reward, points=100, trigger="SIGNUP"))

    first = await enroll_with(api, "f1", code)
    second = await enroll_with(api, "f2", code)

    assert first["referral"]["rewards"][0]["catalogueStatus"] == "GIVEN"
    [failed] = second["referral"]["rewards"]
    assert (failed["status"], failed["points"]) == ("PAID", 100)
    assert (failed["catalogueStatus"], failed["catalogueFailure"]) == ("FAILED", "OUT_OF_STOCK")
    assert failed["redemption"] is None
    assert failed["valueMinor"] is None
    assert second["referral"]["state"] == "SIGNED_UP"
    assert await stock_of(reward["id"]) == 0
    assert await balances(api, second["member"]["id"]) == {
        "available": 100,
        "pending": 0,
        "lifetimeEarned": 100,
        "lifetimeRedeemed": 0,
    }
    assert "referral.reward_failed" in await event_types()
    assert await verify_ledger() == []


async def test_a_reward_deactivated_or_sold_out_before_maturing_fails_at_settlement(
    api: Api,
) -> None:
    referrer, code, reward = await setup(api, pending_days=14, stock=1)
    await configure(
        api,
        referrer=side_with(reward, points=500, trigger="FIRST_ORDER", minimumOrderMinor=0),
    )
    joined = await enroll_with(api, "friend", code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())
    await rows("UPDATE rewards SET active = FALSE")

    await run_jobs(15)

    after = await referral(api, joined["referral"]["id"])
    assert after["state"] == "REWARDED"
    [reward_row] = after["rewards"]
    assert (reward_row["status"], reward_row["catalogueStatus"]) == ("PAID", "FAILED")
    assert reward_row["catalogueFailure"] == "REWARD_INACTIVE"
    assert await stock_of(reward["id"]) == 1
    assert await balances(api, referrer["id"]) == {
        "available": 500,
        "pending": 0,
        "lifetimeEarned": 500,
        "lifetimeRedeemed": 0,
    }
    assert await verify_ledger() == []


async def test_a_foreign_unknown_or_inactive_reward_is_refused_in_settings(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="elsewhere")
    foreign = await create_reward(api, slug="elsewhere")
    inactive = await create_reward(api, active=False)
    before = await rows("SELECT COUNT(*) AS n FROM referral_settings")

    refused = await configure(
        api,
        referrer=side_with(foreign, points=0, trigger="SIGNUP"),
        friend=side_with(inactive, points=0, trigger="SIGNUP"),
    )
    not_a_reward = await configure(
        api, friend={"points": 0, "trigger": "SIGNUP", "rewardId": "nonsense"}
    )

    assert refused["settings"] is None
    assert sorted((e["code"], tuple(e["field"])) for e in refused["userErrors"]) == [
        ("REWARD_INACTIVE", ("input", "friend", "rewardId")),
        ("REWARD_NOT_FOUND", ("input", "referrer", "rewardId")),
    ]
    assert [(e["code"], e["field"]) for e in not_a_reward["userErrors"]] == [
        ("INVALID_ID", ["input", "friend", "rewardId"])
    ]
    assert await rows("SELECT COUNT(*) AS n FROM referral_settings") == before


# --- numbers ----------------------------------------------------------------------------------


async def test_stats_count_rewards_paid_in_money(api: Api) -> None:
    _, code, reward = await setup(api, stock=2)
    await configure(api, friend=side_with(reward, points=100, trigger="SIGNUP"))
    for n in range(3):  # the third finds no stock
        await enroll_with(api, f"f{n}", code)

    data = await api.data(STATS, {"slug": "shop", "from": now_iso(-1), "to": now_iso(1)})
    empty = await api.data(STATS, {"slug": "shop", "from": now_iso(-9), "to": now_iso(-8)})

    stats = data["referralStats"]
    assert stats["pointsPaid"] == 300
    assert (stats["moneyPaidMinor"], stats["currency"]) == (3000, "EUR")
    assert stats["catalogueRewards"] == [
        {"reason": "FAILED", "count": 1},
        {"reason": "GIVEN", "count": 2},
    ]
    assert empty["referralStats"]["moneyPaidMinor"] == 0
    assert empty["referralStats"]["catalogueRewards"] == []
    assert await verify_ledger() == []
