"""Redemptions against the features that give or price rewards: a gift taken back leaves tier
progress as the gift left it, cancelling a punch-card reward keeps the card right whatever the
order of cancel and refund, donations settle at once, segments are refused, rewards a feature
cannot give are refused when configured, one price for the list and the redemption, and a
storefront never sees a hidden reward through a card."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tortoise.connection import connections
from tortoise.transactions import in_transaction

from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.db import fetch_all, fetch_one
from app.domain.ledger import TransactionKind
from app.domain.tiers import TierChangeReason
from app.services.ledger.verify import verify_ledger
from app.services.rewards.gifts import GivenReward, GiveReward, give_reward
from app.services.tiers.service import on_member_activity
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, everything, grant_points, program_key
from tests.graphql.helpers import codes, global_id, pk_of, rows
from tests.graphql.punch_cards.test_punch_cards import (
    buy,
    cards_of,
    create_card,
    line,
    progress,
    refund,
    set_policy,
)
from tests.graphql.rewards.factories import (
    CREATE,
    UPDATE,
    cancel,
    make_reward,
    redeem,
    redeemed,
    reward_input,
)
from tests.graphql.tiers.test_tiers import configure, order, status
from tests.jobs import helpers as job_helpers
from tests.jobs.helpers import T0
from tests.jobs.test_memberships import event, plan

MEMBER_REWARDS = """
query($id: ID!) { memberRewards(memberId: $id) { reward { name } costPoints redeemable reason } }
"""


# The API client and the manual clock of the job tests: services, jobs and these tests share
# one clock, standing at T0 until a test moves it.
clock = job_helpers.clock
api = job_helpers.api


async def gift_ids(member_id: str) -> list[str]:
    found = await rows(
        f"SELECT id FROM redemptions WHERE member_id = {pk_of(member_id)} AND source = 'GIFT'"
        " ORDER BY id"
    )
    return [global_id("Redemption", int(row["id"])) for row in found]


async def stored_tier(member_id: str) -> str | None:
    row = await fetch_one(
        connections.get("default"),
        "SELECT t.name FROM member_tiers m LEFT JOIN tiers t ON t.id = m.tier_id"
        " WHERE m.member_id = ?",
        (pk_of(member_id),),
    )
    return None if row is None or row["name"] is None else str(row["name"])


# --- 1. gifts, take-backs and tier progress ------------------------------------------------


async def test_taking_back_a_tier_entry_reward_leaves_points_earned_as_they_were(
    api: Api, clock: ManualClock
) -> None:
    # Given Silver at 100 points earned, whose entry reward (worth 100 points) does not count
    await create_program(api)
    mug = await make_reward(api, name="Mug", costPoints=100)
    configured = await configure(
        api,
        [
            {"name": "Silver", "threshold": 100, "entryRewardId": mug["id"]},
            {"name": "Gold", "threshold": 1000},
        ],
        metric="POINTS_EARNED",
    )
    assert configured["userErrors"] == []
    member = await enroll(api)
    await order(api, clock, "o-1", 15_000)
    entered = await status(api, member["id"])
    [gift] = await gift_ids(member["id"])

    # When the store takes the entry reward back
    taken_back = await cancel(api, gift)

    # Then the member's points earned for tiers are what their order earned, before and after
    assert taken_back["userErrors"] == []
    after = await status(api, member["id"])
    assert (entered["tier"], entered["value"]) == ({"name": "Silver"}, 150)
    assert (after["tier"], after["value"]) == ({"name": "Silver"}, 150)
    # and the credit's reversal carries the gift's own kind.
    legs = await rows(
        "SELECT t.kind, e.amount FROM ledger_entries e JOIN ledger_transactions t"
        f" ON t.id = e.transaction_id WHERE e.member_id = {pk_of(member['id'])}"
        " AND e.account = 'PROGRAM_ISSUED' AND t.kind <> 'EARN_ORDER' ORDER BY t.id"
    )
    assert [(r["kind"], int(r["amount"])) for r in legs] == [
        ("TIER_REWARD", -100),
        ("TIER_REWARD", 100),
    ]
    assert await verify_ledger() == []


async def test_a_punch_card_reward_does_not_count_as_points_earned(
    api: Api, clock: ManualClock
) -> None:
    # Given points-earned tiers and a one-punch card whose reward is worth 50 points
    await create_program(api)
    configured = await configure(
        api,
        [{"name": "Silver", "threshold": 50}, {"name": "Gold", "threshold": 1000}],
        metric="POINTS_EARNED",
    )
    assert configured["userErrors"] == []
    member = await enroll(api)
    coffee = await make_reward(api, name="Free coffee", costPoints=50)
    assert (await create_card(api, coffee["id"], punchesNeeded=1))["userErrors"] == []

    # When a 3.00 coffee fills the card
    await buy(api, "order-1", line("COFFEE"))

    # Then the card's reward (given now, worth 50: Silver) is not points earned; the order
    # itself was placed in an earlier year, outside the current period
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 0, 1, 1)]
    after = await status(api, member["id"])
    assert (after["tier"], after["value"]) == (None, 0)


async def test_taking_back_a_counted_gift_moves_the_stored_tier_at_once(
    api: Api, clock: ManualClock
) -> None:
    # Given a rolling points-earned tier the member reached with a referral gift of 150 points
    await create_program(api)
    configured = await configure(
        api,
        [{"name": "Silver", "threshold": 100}, {"name": "Gold", "threshold": 1000}],
        metric="POINTS_EARNED",
        period="ROLLING_12_MONTHS",
    )
    assert configured["userErrors"] == []
    member = await enroll(api)
    voucher = await make_reward(api, name="Voucher", costPoints=150)
    program = await fetch_one(connections.get("default"), "SELECT id FROM programs")
    assert program is not None
    async with in_transaction() as conn:
        given = await give_reward(
            conn,
            GiveReward(
                program_id=int(program["id"]),
                member_id=pk_of(member["id"]),
                reward_id=pk_of(voucher["id"]),
                kind=TransactionKind.REFERRAL,
                reason="Referral reward",
                event_details={},
            ),
            clock.now(),
        )
        await on_member_activity(
            conn,
            program_id=int(program["id"]),
            member_id=pk_of(member["id"]),
            reason=TierChangeReason.REFERRAL,
            now=clock.now(),
        )
    assert isinstance(given, GivenReward)
    reached = await stored_tier(member["id"])

    # When the gift is taken back
    taken_back = await cancel(api, global_id("Redemption", given.redemption_id))

    # Then the stored tier follows in the same request, not at some later activity
    assert taken_back["userErrors"] == []
    assert reached == "Silver"
    assert await stored_tier(member["id"]) is None
    assert (await status(api, member["id"]))["value"] == 0


# --- 2. a punch-card reward cancelled by hand, and a refund ---------------------------------


async def punch_card_with_reward(api: Api) -> tuple[dict[str, Any], str]:
    """Two-punch card under REVOKE_UNUSED_REWARD, filled by order-1 and order-2."""
    await create_program(api)
    member = await enroll(api)
    coffee = await make_reward(api, name="Free coffee", costPoints=50)
    assert (await create_card(api, coffee["id"], punchesNeeded=2))["userErrors"] == []
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    await buy(api, "order-1", line("COFFEE"))
    await buy(api, "order-2", line("COFFEE"))
    [gift] = await gift_ids(member["id"])
    return member, gift


async def test_cancelling_a_punch_card_reward_then_refunding_charges_the_member_once(
    api: Api,
) -> None:
    # Given a full card's reward, cancelled by hand
    member, gift = await punch_card_with_reward(api)
    cancelled = await cancel(api, gift)
    after_cancel = progress(await cards_of(api, member["id"]))

    # When one of the purchases that filled the card is refunded
    await refund(api, "order-1", "refund-1")

    # Then the punches came back with the cancellation, and the refund takes one of them
    assert cancelled["userErrors"] == []
    assert after_cancel == [("Coffee card", 2, 2, 0)]
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 2, 0)]
    completions = await rows("SELECT status FROM punch_card_rewards")
    assert [c["status"] for c in completions] == ["REVOKED"]
    assert await verify_ledger() == []


async def test_refunding_then_cancelling_a_punch_card_reward_charges_the_member_once(
    api: Api,
) -> None:
    # Given a full card's reward, revoked by a refund of one purchase
    member, gift = await punch_card_with_reward(api)
    await refund(api, "order-1", "refund-1")
    after_refund = progress(await cards_of(api, member["id"]))

    # When the store then cancels the (already cancelled) reward
    again = await cancel(api, gift)

    # Then nothing more changes
    assert again["userErrors"] == []
    assert again["redemption"]["status"] == "CANCELLED"
    assert after_refund == [("Coffee card", 1, 2, 0)]
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 2, 0)]
    assert await verify_ledger() == []


async def test_a_refund_revokes_a_punch_card_reward_whose_code_expired_unused(
    api: Api, clock: ManualClock
) -> None:
    # Given a full card whose reward's code expired unused
    await create_program(api)
    member = await enroll(api)
    coffee = await make_reward(api, name="Free coffee", costPoints=50, codeValidDays=1)
    assert (await create_card(api, coffee["id"], punchesNeeded=2))["userErrors"] == []
    await set_policy(api, "REVOKE_UNUSED_REWARD")
    await buy(api, "order-1", line("COFFEE"))
    await buy(api, "order-2", line("COFFEE"))
    await connections.get("default").execute_query(
        "UPDATE redemptions SET status = 'EXPIRED', expired_at = expires_at"
    )

    # When a purchase that filled the card is refunded
    await refund(api, "order-1", "refund-1")

    # Then the unused reward counts as revoked: the card is not left below zero
    assert progress(await cards_of(api, member["id"])) == [("Coffee card", 1, 2, 0)]
    completions = await rows("SELECT status FROM punch_card_rewards")
    assert [c["status"] for c in completions] == ["REVOKED"]


# --- 4. segments ------------------------------------------------------------------------------


async def test_required_segments_must_name_segments_of_the_program(api: Api) -> None:
    # Given a program with one reward and no segment "vip"
    await create_program(api)
    reward = await make_reward(api)
    before = await everything()

    # When a reward is created or updated with a segment restriction
    created = await api.data(CREATE, {"input": reward_input(requiredSegments=["vip"])})
    updated = await api.data(UPDATE, {"input": {"id": reward["id"], "requiredSegments": ["vip"]}})

    # Then both are refused with SEGMENT_NOT_FOUND and nothing is written
    assert [(e["code"], e["field"]) for e in created["createReward"]["userErrors"]] == [
        ("SEGMENT_NOT_FOUND", ["input", "requiredSegments"])
    ]
    assert codes(updated["updateReward"]["userErrors"]) == ["SEGMENT_NOT_FOUND"]
    after = await everything()
    after["all_counts"].pop("audit_log")
    before["all_counts"].pop("audit_log")
    assert after == before


# --- 5. charity -------------------------------------------------------------------------------


async def test_a_donation_is_settled_when_made(api: Api) -> None:
    # Given a member with points and a charity reward with a code lifetime
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    trees = await make_reward(
        api, kind="CHARITY", valueMinor=300, charityName="Plant a tree", codeValidDays=1
    )

    # When the member donates, and the store tries to cancel the donation
    donation = await redeemed(api, member["id"], trees["id"])
    cancelled = await cancel(api, donation["id"])

    # Then the donation is USED at once, never expires, and cannot be cancelled
    assert (donation["status"], donation["expiresAt"]) == ("USED", None)
    assert donation["usedAt"] is not None
    assert codes(cancelled["userErrors"]) == ["REDEMPTION_NOT_CANCELLABLE"]
    assert [r["status"] for r in await rows("SELECT status FROM redemptions")] == ["USED"]


# --- 6. rewards a feature gives are checked when configured ----------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        (
            {
                "kind": "PAY_WITH_POINTS",
                "valueMinor": None,
                "costPoints": 100,
                "pointsMin": 100,
                "pointsMax": 500,
                "pointsStep": 100,
            },
            "REWARD_NOT_GIFTABLE",
        ),
        ({"kind": "STORE_CREDIT", "valueMinor": 500}, "REWARD_NOT_GIFTABLE"),
        ({"endsAt": "2029-01-01T00:00:00+00:00"}, "REWARD_INACTIVE"),
    ],
)
async def test_a_reward_that_cannot_be_given_is_refused_by_cards_and_plans(
    api: Api, fields: dict[str, Any], code: str
) -> None:
    # Given a reward give_reward would always refuse
    await create_program(api)
    await configure(api)
    reward = await make_reward(api, **fields)
    before = await everything()

    # When a punch card or a membership plan is configured to give it
    card = await create_card(api, reward["id"])
    membership_plan = await plan(api, welcomeRewardId=reward["id"])

    # Then both are refused with the same precise code, and nothing is written
    assert [(e["code"], e["field"]) for e in card["userErrors"]] == [(code, ["input", "rewardId"])]
    assert [(e["code"], e["field"]) for e in membership_plan["userErrors"]] == [
        (code, ["input", "welcomeRewardId"])
    ]
    after = await everything()
    after["all_counts"].pop("audit_log")
    before["all_counts"].pop("audit_log")
    assert after == before


async def test_a_welcome_reward_that_cannot_be_given_is_recorded_and_told(api: Api) -> None:
    # Given a plan whose welcome reward ran out of stock after the plan was made
    await create_program(api)
    await configure(api)
    mug = await make_reward(api, name="Welcome mug", stock=1)
    assert (await plan(api, welcomeRewardId=mug["id"]))["userErrors"] == []
    await enroll(api)
    await enroll(api, customer_id="cust-2")
    first = await event(api, "start", "start-1", skipTrial=True)
    assert first["membership"]["welcomeRedemption"] is not None

    # When a second member starts the plan
    second = await event(api, "start", "start-2", customer_id="cust-2", skipTrial=True)

    # Then the membership starts, the failure is kept and told
    assert second["userErrors"] == []
    assert second["membership"]["welcomeRedemption"] is None
    kept = await rows("SELECT welcome_reward_failure FROM memberships ORDER BY id")
    assert [r["welcome_reward_failure"] for r in kept] == [None, "OUT_OF_STOCK"]
    told = await rows(
        "SELECT payload FROM outbox_events WHERE type = 'membership.welcome_reward_failed'"
    )
    assert len(told) == 1


# --- 7. two gifts in opposite orders at once --------------------------------------------------


async def test_gifts_of_two_stocked_rewards_in_opposite_orders_at_once_all_succeed(
    api: Api,
) -> None:
    # Given two stocked rewards and many members
    await create_program(api)
    first = await make_reward(api, name="First", stock=1000)
    second = await make_reward(api, name="Second", stock=1000)
    members = [await enroll(api, customer_id=f"cust-{n}") for n in range(12)]
    program = await fetch_one(connections.get("default"), "SELECT id FROM programs")
    assert program is not None

    async def give_both(member_id: str, order: list[str]) -> None:
        async with in_transaction() as conn:
            for reward_id in order:
                given = await give_reward(
                    conn,
                    GiveReward(
                        program_id=int(program["id"]),
                        member_id=pk_of(member_id),
                        reward_id=pk_of(reward_id),
                        kind=TransactionKind.PUNCH_CARD,
                        reason="Test gift",
                        event_details={},
                    ),
                    T0,
                )
                assert isinstance(given, GivenReward)
                # Let the other transactions take their first lock before this one goes on.
                await asyncio.sleep(0)

    # When half give first-then-second and half second-then-first, all at once
    await asyncio.gather(
        *(
            give_both(
                m["id"], [first["id"], second["id"]] if n % 2 else [second["id"], first["id"]]
            )
            for n, m in enumerate(members)
        )
    )

    # Then every gift was made (no deadlock aborted any), and stock fell by 12 each
    stock = await fetch_all(
        connections.get("default"), "SELECT name, stock FROM rewards ORDER BY id"
    )
    assert [(r["name"], int(r["stock"])) for r in stock] == [("First", 988), ("Second", 988)]
    assert len(await rows("SELECT id FROM redemptions")) == 24
    assert await verify_ledger() == []


# --- 8. one price for memberRewards and redeemReward ------------------------------------------


async def test_member_rewards_shows_what_pay_with_points_really_costs(
    api: Api, clock: ManualClock
) -> None:
    # Given a member in a tier with 50% off rewards, holding 60 points
    await create_program(api)
    configured = await configure(
        api,
        [
            {"name": "Silver", "threshold": 5_000, "rewardDiscountPercent": 50},
            {"name": "Gold", "threshold": 50_000},
        ],
    )
    assert configured["userErrors"] == []
    member = await enroll(api)
    await order(api, clock, "o-1", 6_000)
    await make_reward(
        api,
        name="Pay with points",
        kind="PAY_WITH_POINTS",
        valueMinor=None,
        costPoints=100,
        pointsMin=100,
        pointsMax=500,
        pointsStep=100,
    )

    # When the member's rewards are listed and they try to pay the smallest spend
    [option] = (await api.data(MEMBER_REWARDS, {"id": member["id"]}))["memberRewards"]
    reward_pk = (await rows("SELECT id FROM rewards"))[0]["id"]
    attempt = await redeem(api, member["id"], global_id("Reward", int(reward_pk)), points=100)

    # Then the list shows the undiscounted 100 points and the same refusal as the redemption
    assert (option["costPoints"], option["redeemable"], option["reason"]) == (
        100,
        False,
        "INSUFFICIENT_POINTS",
    )
    assert codes(attempt["userErrors"]) == ["INSUFFICIENT_POINTS"]


# --- 9. a storefront never sees a hidden reward through a card -------------------------------


async def test_a_storefront_does_not_see_a_retired_reward_through_a_punch_card(api: Api) -> None:
    # Given a punch card whose reward was made inactive afterwards
    await create_program(api)
    coffee = await make_reward(api, name="Free coffee", costPoints=50)
    assert (await create_card(api, coffee["id"]))["userErrors"] == []
    hidden = await api.data(UPDATE, {"input": {"id": coffee["id"], "active": False}})
    assert hidden["updateReward"]["userErrors"] == []
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    query = 'query { punchCards(programSlug: "shop") { name reward { id } } }'

    # When the storefront and an admin read the card
    storefront = await api.data(query, key=publishable)
    admin = await api.data(query)

    # Then the storefront sees the card without the reward, as `node` would hide it
    assert storefront["punchCards"] == [{"name": "Coffee card", "reward": None}]
    assert admin["punchCards"] == [{"name": "Coffee card", "reward": {"id": coffee["id"]}}]
