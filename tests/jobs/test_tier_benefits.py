"""What a tier gives, over the API: rewards only its members may redeem (the reward's own
`requiredTiers`) at the tier's discounted price, what memberRewards and availableRewards show,
tier renames and retirements that keep restrictions right, perks, what keeps a rolling tier,
the tier multiplier on actions and referral rewards, and membership events."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from app.clock import ManualClock
from app.domain.expiry import add_months
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.actions.test_actions import action_rule, record
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, everything, grant_points
from tests.graphql.helpers import codes, global_id, rows
from tests.graphql.referrals.test_referrals import enroll_with
from tests.graphql.referrals.test_referrals import setup as referral_program
from tests.graphql.rewards.factories import CREATE as CREATE_REWARD
from tests.graphql.rewards.factories import (
    UPDATE,
    catalogue_state,
    make_reward,
    points_of,
    redeem,
    reward_input,
)
from tests.graphql.tiers.test_tiers import configure
from tests.jobs.helpers import T0, run
from tests.jobs.test_memberships import event, plan
from tests.jobs.test_tiers import spend

DISCOUNT_TIERS = [
    {"name": "Silver", "threshold": 10_000, "rewardDiscountPercent": 10},
    {"name": "Gold", "threshold": 50_000, "rewardDiscountPercent": 50},
]

MEMBER_REWARDS = """
query($id: ID!) {
  memberRewards(memberId: $id) { reward { name } costPoints redeemable reason }
  member(id: $id) { availableRewards { name } }
}"""

TIER_PROGRAM = """
query { tierProgram(programSlug: "shop") { tiers { name perks } } }"""

STATUS = """
query($id: ID!) {
  member(id: $id) {
    tierStatus { tier { name perks } perks value neededToKeep neededToKeepBy holdsUntil }
  }
}"""


async def status(api: Api, member_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await api.data(STATUS, {"id": member_id}))["member"]["tierStatus"]
    return result


async def silver_and_gold(api: Api, clock: ManualClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """cust-s in Silver and cust-g in Gold, each with 1000 points more than their orders gave."""
    silver = await enroll(api, customer_id="cust-s")
    gold = await enroll(api, customer_id="cust-g")
    await spend(api, clock, "o-s", 20_000, "cust-s")
    await spend(api, clock, "o-g", 60_000, "cust-g")
    await grant_points(api, silver["id"], 1000, key="grant-s")
    await grant_points(api, gold["id"], 1000, key="grant-g")
    return silver, gold


async def test_a_gold_only_reward_is_refused_outside_gold_with_nothing_written(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, DISCOUNT_TIERS)
    reward = await make_reward(
        api, name="Gold gift", costPoints=101, stock=5, requiredTiers=["Gold"]
    )
    silver, gold = await silver_and_gold(api, clock)
    before = await catalogue_state()

    refused = await redeem(api, silver["id"], reward["id"], "r-s")
    after_refusal = await catalogue_state()
    allowed = await redeem(api, gold["id"], reward["id"], "r-g")

    assert reward["requiredTiers"] == ["Gold"]
    assert codes(refused["userErrors"]) == ["REWARD_TIER_RESTRICTED"]
    assert refused["redemption"] is None
    assert after_refusal == before
    assert allowed["userErrors"] == []
    # Gold's 50% off 101 points, rounded up.
    assert allowed["redemption"]["pointsSpent"] == 51
    assert (await points_of(api, gold["id"]))["available"] == 600 + 1000 - 51
    stock = await rows("SELECT stock FROM rewards")
    assert stock == [{"stock": 4}]
    assert await verify_ledger() == []


async def test_a_tier_discount_lowers_the_price_charged_and_shown(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, DISCOUNT_TIERS)
    await make_reward(api, name="Open gift", costPoints=101)
    await make_reward(api, name="Gold gift", costPoints=101, requiredTiers=["Gold"])
    silver, gold = await silver_and_gold(api, clock)
    poor = await enroll(api, customer_id="cust-p")
    await spend(api, clock, "o-p", 10_000, "cust-p")  # Silver with 100 points only

    seen = {
        who: await api.data(MEMBER_REWARDS, {"id": member["id"]})
        for who, member in (("silver", silver), ("gold", gold), ("poor", poor))
    }
    open_gift = next(
        r for r in seen["silver"]["memberRewards"] if r["reward"]["name"] == "Open gift"
    )
    paid = await redeem(api, poor["id"], open_gift_id := await reward_id("Open gift"), "r-p")

    assert seen["silver"]["memberRewards"] == [
        {"reward": {"name": "Open gift"}, "costPoints": 91, "redeemable": True, "reason": None},
        {
            "reward": {"name": "Gold gift"},
            "costPoints": 91,
            "redeemable": False,
            "reason": "REWARD_TIER_RESTRICTED",
        },
    ]
    assert open_gift["costPoints"] == 91
    assert seen["silver"]["member"]["availableRewards"] == [{"name": "Open gift"}]
    assert [r["costPoints"] for r in seen["gold"]["memberRewards"]] == [51, 51]
    assert seen["gold"]["member"]["availableRewards"] == [
        {"name": "Open gift"},
        {"name": "Gold gift"},
    ]
    # 100 points buy a 101-point reward at Silver's price.
    assert seen["poor"]["member"]["availableRewards"] == [{"name": "Open gift"}]
    assert open_gift_id
    assert paid["redemption"]["pointsSpent"] == 91
    assert (await points_of(api, poor["id"]))["available"] == 9


async def reward_id(name: str) -> str:
    found = await rows(f"SELECT id FROM rewards WHERE name = '{name}'")
    return global_id("Reward", int(found[0]["id"]))


async def test_a_reward_may_only_require_the_programs_active_tiers(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, DISCOUNT_TIERS)
    reward = await make_reward(api)
    before = await everything()

    created = await api.data(CREATE_REWARD, {"input": reward_input(requiredTiers=["Platinum"])})
    updated = await api.data(UPDATE, {"input": {"id": reward["id"], "requiredTiers": ["gold"]}})
    after = await everything()

    assert codes(created["createReward"]["userErrors"]) == ["TIER_NOT_FOUND"]
    assert created["createReward"]["userErrors"][0]["field"] == ["input", "requiredTiers"]
    assert codes(updated["updateReward"]["userErrors"]) == ["TIER_NOT_FOUND"]
    after["all_counts"].pop("audit_log")
    before["all_counts"].pop("audit_log")
    assert after == before
    valid = await api.data(UPDATE, {"input": {"id": reward["id"], "requiredTiers": [" Gold "]}})
    assert valid["updateReward"]["userErrors"] == []
    assert valid["updateReward"]["reward"]["requiredTiers"] == ["Gold"]


async def test_a_renamed_tier_keeps_its_members_and_rewards_and_a_required_tier_is_not_retired(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, DISCOUNT_TIERS)
    reward = await make_reward(api, name="Gold gift", costPoints=101, requiredTiers=["Gold"])
    _, gold = await silver_and_gold(api, clock)

    renamed = await configure(
        api,
        [DISCOUNT_TIERS[0], {**DISCOUNT_TIERS[1], "name": "Platinum", "renamedFrom": "Gold"}],
    )
    restricted = await rows("SELECT required_tiers FROM rewards")
    holder = await status(api, gold["id"])
    redeemed = await redeem(api, gold["id"], reward["id"], "r-g")
    before = await everything()
    retiring = await configure(api, [DISCOUNT_TIERS[0]])
    unknown = await configure(
        api,
        [{**DISCOUNT_TIERS[0], "renamedFrom": "Bronze"}, {**DISCOUNT_TIERS[1], "name": "Platinum"}],
    )
    after = await everything()

    assert renamed["userErrors"] == []
    assert [t["name"] for t in renamed["tierProgram"]["tiers"]] == ["Silver", "Platinum"]
    assert "Platinum" in str(restricted[0]["required_tiers"])
    assert holder["tier"]["name"] == "Platinum"
    assert redeemed["userErrors"] == []
    assert codes(retiring["userErrors"]) == ["TIER_IN_USE"]
    assert codes(unknown["userErrors"]) == ["TIER_NOT_FOUND"]
    assert unknown["userErrors"][0]["field"] == ["input", "tiers", "0", "renamedFrom"]
    after["all_counts"].pop("audit_log")
    before["all_counts"].pop("audit_log")
    assert after == before


async def test_perks_of_tiers_and_memberships_are_shown_to_storefronts(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(
        api,
        [
            {"name": "Silver", "threshold": 10_000, "perks": ["Free shipping"]},
            {"name": "Gold", "threshold": 50_000, "perks": ["Free shipping", "Early access"]},
        ],
    )
    created = await plan(api, tierName=None, perks=["Early access", "Birthday gift"])
    member = await enroll(api)
    await spend(api, clock, "o-1", 20_000, "cust-1")

    program = await api.data(TIER_PROGRAM)
    without_club = await status(api, member["id"])
    await event(api, "start", "start-1")
    with_club = await status(api, member["id"])

    assert created["userErrors"] == []
    assert program["tierProgram"]["tiers"] == [
        {"name": "Silver", "perks": ["Free shipping"]},
        {"name": "Gold", "perks": ["Free shipping", "Early access"]},
    ]
    assert without_club["tier"] == {"name": "Silver", "perks": ["Free shipping"]}
    assert without_club["perks"] == ["Free shipping"]
    assert with_club["perks"] == ["Free shipping", "Birthday gift", "Early access"]


async def test_a_rolling_tier_says_what_keeps_it_and_by_when(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await configure(
        api,
        [{"name": "Silver", "threshold": 1}, {"name": "Gold", "threshold": 3}],
        metric="ORDERS",
        period="ROLLING_12_MONTHS",
    )
    member = await enroll(api)
    first = clock.now()
    for n in range(3):
        await spend(api, clock, f"o-{n}", 1_000, "cust-1")
        clock.advance(timedelta(days=30))

    gold = await status(api, member["id"])
    clock.set(add_months(first, 12) + timedelta(days=1))
    await run(JobName.TIERS, clock)
    silver = await status(api, member["id"])

    # Gold needs 3 orders in the window; the first leaves it twelve months after it was placed.
    assert gold["tier"]["name"] == "Gold"
    assert (gold["value"], gold["neededToKeep"]) == (3, 1)
    assert gold["neededToKeepBy"] == add_months(first, 12).isoformat()
    assert gold["holdsUntil"] == add_months(first, 12).isoformat()
    # Silver (one order) is secured until the last order leaves.
    assert silver["tier"]["name"] == "Silver"
    assert silver["neededToKeep"] == 1
    assert silver["neededToKeepBy"] == add_months(first + timedelta(days=60), 12).isoformat()


async def test_yearly_periods_say_what_keeps_the_tier_by_the_periods_end(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await spend(api, clock, "o-1", 20_000, "cust-1")

    silver = await status(api, member["id"])
    clock.set(T0.replace(year=2031))
    next_year = await status(api, member["id"])

    assert (silver["neededToKeep"], silver["neededToKeepBy"]) == (0, "2031-01-01T00:00:00+00:00")
    # Kept through 2031 on 2030's orders; keeping it past 2031 needs 100.00 EUR in 2031.
    assert next_year["tier"]["name"] == "Silver"
    assert next_year["neededToKeep"] == 10_000
    assert next_year["neededToKeepBy"] == "2032-01-01T00:00:00+00:00"


async def test_the_tier_multiplier_applies_to_actions_and_referral_rewards(
    api: Api, clock: ManualClock
) -> None:
    referrer, code = await referral_program(api, referrer={"points": 300, "trigger": "SIGNUP"})
    # A free base tier: everyone holds it, with its multiplier, from enrolment.
    await configure(api, [{"name": "Club", "threshold": 0, "earnMultiplier": "1.5"}])
    await action_rule(api, points=50)

    action = await record(api, referrer["id"], "review-1")
    joined = await enroll_with(api, "friend", referralCode=code)
    referral_points = await rows(
        "SELECT points FROM ledger_transactions WHERE kind = 'REFERRAL' ORDER BY id"
    )
    await grant_points(api, referrer["id"], 100, key="grant-1")

    assert action["pointsEarned"] == 75
    assert joined["referral"]["state"] == "REWARDED"
    # The friend's 100 and the referrer's 300, each x1.5.
    assert referral_points == [{"points": 150}, {"points": 450}]
    # Adjustments are not multiplied: 75 + 450 + 100.
    assert (await points_of(api, referrer["id"]))["available"] == 625
    assert await verify_ledger() == []


async def test_membership_events_are_recorded_for_each_subscription_event(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    await plan(api, trialDays=0)
    await enroll(api)
    await enroll(api, customer_id="cust-2")

    await event(api, "start", "e-1")
    await event(api, "renew", "e-2")
    await event(api, "failed", "e-3")
    await event(api, "cancel", "e-4", mode="NOW")
    await event(api, "start", "e-5", customer_id="cust-2")
    await event(api, "cancel", "e-6", customer_id="cust-2")
    clock.set(add_months(T0, 1))
    ended = (await run(JobName.MEMBERSHIPS, clock)).summary
    rerun = (await run(JobName.MEMBERSHIPS, clock)).summary
    found = await rows("SELECT type FROM outbox_events WHERE type LIKE 'membership.%' ORDER BY id")

    assert [row["type"] for row in found] == [
        "membership.started",
        "membership.renewed",
        "membership.payment_failed",
        "membership.ended",
        "membership.started",
        "membership.cancelled",
        "membership.ended",
    ]
    assert ended != rerun
    assert (ended, rerun) == ({"memberships": 1}, {"memberships": 0})


async def test_parallel_redemptions_of_a_gold_reward_respect_tier_price_and_stock(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, DISCOUNT_TIERS)
    reward = await make_reward(
        api, name="Gold gift", costPoints=101, stock=3, requiredTiers=["Gold"]
    )
    silver, gold = await silver_and_gold(api, clock)

    attempts = await asyncio.gather(
        *(redeem(api, gold["id"], reward["id"], f"g-{n}") for n in range(8)),
        *(redeem(api, silver["id"], reward["id"], f"s-{n}") for n in range(4)),
    )

    gold_codes = sorted(tuple(codes(a["userErrors"])) for a in attempts[:8])
    assert gold_codes == [()] * 3 + [("REWARD_OUT_OF_STOCK",)] * 5
    assert [codes(a["userErrors"]) for a in attempts[8:]] == [["REWARD_TIER_RESTRICTED"]] * 4
    assert (await points_of(api, gold["id"]))["available"] == 1600 - 3 * 51
    assert (await points_of(api, silver["id"]))["available"] == 1200
    assert await rows("SELECT stock FROM rewards") == [{"stock": 0}]
    assert await verify_ledger() == []
