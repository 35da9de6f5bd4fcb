"""refundOrder by amount, and what a refund does with points the member already spent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.connection import connections

from app.db import execute, utc_now
from app.jobs.maturing import mature_due_points
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    member_status,
    record_order,
)
from tests.graphql.helpers import codes, snapshot

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) {
    order { orderId status pointsEarned pointsRefunded pointsUnrecovered refundedMinor }
    pointsReversed
    pointsUnrecovered
    userErrors { field message code }
  }
}"""

POINTS = """
query($id: ID!) {
  member(id: $id) {
    points { available pending debt lifetimeEarned }
    activity(first: 10) { edges { node { kind points orderId } } }
  }
}"""


def days_ago(days: int) -> str:
    return (utc_now() - timedelta(days=days)).isoformat()


async def refund(api: Api, key: str, order_id: str = "order-1", **fields: Any) -> dict[str, Any]:
    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": order_id, "idempotencyKey": key, **fields}},
    )
    payload: dict[str, Any] = data["refundOrder"]
    return payload


def two_lines() -> dict[str, Any]:
    """2 x 10.00 shoes and 1 x 30.00 coat: 50 points at 1 point per EUR."""
    return {
        "lines": [
            {"sku": "SHOE", "category": "shoes", "quantity": 2, "unitPriceMinor": 1000},
            {"sku": "COAT", "category": "coats", "quantity": 1, "unitPriceMinor": 3000},
        ],
        "totalMinor": 5000,
    }


async def set_policy(api: Api, policy: str) -> None:
    data = await api.data(
        "mutation($input: UpdateProgramSettingsInput!) {"
        " updateProgramSettings(input: $input) { userErrors { code } } }",
        {"input": {"programSlug": "shop", "refundShortfallPolicy": policy}},
    )
    assert data["updateProgramSettings"]["userErrors"] == []


async def points_of(api: Api, member_id: str) -> dict[str, Any]:
    member: dict[str, Any] = (await api.data(POINTS, {"id": member_id}))["member"]
    return member


async def redeem(api: Api, member_id: str, reward_id: str, key: str) -> dict[str, Any]:
    data = await api.data(
        REDEEM, {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": key}}
    )
    payload: dict[str, Any] = data["redeemReward"]
    return payload


async def test_amount_refunds_take_back_points_in_proportion_cumulatively(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    # 3 x 11.11 = 33.33 EUR earns 33 points.
    await record_order(api, unit_price_minor=1111, quantity=3)

    first = await refund(api, "r1", amountMinor=1000)
    second = await refund(api, "r2", amountMinor=1000)
    rest = await refund(api, "r3", amountMinor=1333)

    # floor(33 x 1000 / 3333) = 9, floor(33 x 2000 / 3333) = 19, then exactly the rest.
    assert [p["pointsReversed"] for p in (first, second, rest)] == [9, 10, 14]
    assert [p["order"]["refundedMinor"] for p in (first, second, rest)] == [1000, 2000, 3333]
    assert [p["order"]["status"] for p in (first, second, rest)] == [
        "PARTIALLY_REFUNDED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ]
    assert rest["order"]["pointsRefunded"] == 33
    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["lifetimeEarned"]) == (0, 0)
    assert await verify_ledger() == []


async def test_small_amounts_take_back_what_their_sum_would(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, unit_price_minor=1111, quantity=3)

    reversed_points = [
        (await refund(api, f"r{n}", amountMinor=1))["pointsReversed"] for n in range(101)
    ]

    # 101 cents of 33.33 EUR: floor(33 x 101 / 3333) = 1 point in all, however split.
    assert sum(reversed_points) == 1
    assert await verify_ledger() == []


async def test_bad_amount_refunds_are_refused_and_write_nothing(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, **two_lines())
    await refund(api, "r1", amountMinor=4000)
    before = await snapshot()

    too_much = await refund(api, "r2", amountMinor=1001)
    both = await refund(api, "r3", amountMinor=100, lines=[{"lineIndex": 0, "quantity": 1}])
    zero = await refund(api, "r4", amountMinor=0)
    cancel = await refund(api, "r5", amountMinor=100, cancel=True)
    no_order = await refund(api, "r6", order_id="order-404", amountMinor=100)

    assert codes(too_much["userErrors"]) == ["REFUND_EXCEEDS_AMOUNT"]
    assert too_much["userErrors"][0]["field"] == ["input", "amountMinor"]
    assert codes(both["userErrors"]) == ["INVALID_VALUE"]
    assert both["userErrors"][0]["field"] == ["input", "amountMinor"]
    assert codes(zero["userErrors"]) == ["INVALID_AMOUNT"]
    assert codes(cancel["userErrors"]) == ["INVALID_VALUE"]
    assert codes(no_order["userErrors"]) == ["ORDER_NOT_FOUND"]
    assert await snapshot() == before

    await refund(api, "r7", amountMinor=1000)
    after_full = await snapshot()
    again = await refund(api, "r8", amountMinor=1)
    everything = await refund(api, "r9")
    a_line = await refund(api, "r10", lines=[{"lineIndex": 0, "quantity": 1}])
    assert codes(again["userErrors"]) == ["ORDER_ALREADY_REFUNDED"]
    assert codes(everything["userErrors"]) == ["ORDER_ALREADY_REFUNDED"]
    assert codes(a_line["userErrors"]) == ["REFUND_EXCEEDS_QUANTITY"]
    assert await snapshot() == after_full


async def test_a_replayed_amount_refund_changes_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())
    first = await refund(api, "same", amountMinor=2500)
    before = await snapshot()

    replay = await refund(api, "same", amountMinor=2500)
    reused = await refund(api, "same", amountMinor=2000)

    assert replay["pointsReversed"] == first["pointsReversed"] == 25
    assert replay["order"]["refundedMinor"] == 2500
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    assert await snapshot() == before
    assert (await member_status(api, member["id"]))["points"]["available"] == 25


async def test_line_and_amount_refunds_together_never_take_more_than_was_earned(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())

    coat = await refund(api, "r1", lines=[{"lineIndex": 1, "quantity": 1}])
    money = await refund(api, "r2", amountMinor=2000)
    rest = await refund(api, "r3", amountMinor=3000)

    # The coat took 30; 20.00 EUR of 50.00 is 20 points, already covered; the rest is 20.
    assert [p["pointsReversed"] for p in (coat, money, rest)] == [30, 0, 20]
    assert rest["order"]["status"] == "REFUNDED"
    assert rest["order"]["pointsRefunded"] == 50
    assert (await member_status(api, member["id"]))["points"]["available"] == 0

    await record_order(api, order_id="order-2", **two_lines())
    half = await refund(api, "r4", order_id="order-2", amountMinor=2500)
    everything = await refund(api, "r5", order_id="order-2")
    assert [half["pointsReversed"], everything["pointsReversed"]] == [25, 25]
    assert everything["order"]["refundedMinor"] == 5000
    assert await verify_ledger() == []


async def test_write_off_forgives_spent_points_by_default(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api)
    reward = await create_reward(api, cost_points=20)
    assert (await redeem(api, member["id"], reward["id"], "buy"))["userErrors"] == []

    result = await refund(api, "r1")

    assert (result["pointsReversed"], result["pointsUnrecovered"]) == (5, 20)
    assert result["order"]["pointsUnrecovered"] == 20
    points = (await points_of(api, member["id"]))["points"]
    assert (points["available"], points["debt"]) == (0, 0)
    # One rule under both policies: lifetime earned moves back by what the refund takes back.
    # The 5 taken back leave it; the 20 written off were earned and spent, and stay (under
    # NEGATIVE_BALANCE they are taken back as a debt, and leave it too: the test below).
    assert points["lifetimeEarned"] == 20
    assert await verify_ledger() == []


async def test_negative_balance_keeps_spent_points_as_a_debt_repaid_first(api: Api) -> None:
    await create_program(api, pendingDays=14)
    await set_policy(api, "NEGATIVE_BALANCE")
    member = await enroll(api)
    await record_order(api, placedAt=days_ago(20))
    reward = await create_reward(api, cost_points=20)
    assert (await redeem(api, member["id"], reward["id"], "buy"))["userErrors"] == []

    result = await refund(api, "r1")

    assert (result["pointsReversed"], result["pointsUnrecovered"]) == (25, 0)
    assert result["order"]["pointsRefunded"] == 25
    status = await points_of(api, member["id"])
    assert status["points"] == {"available": 0, "pending": 0, "debt": 20, "lifetimeEarned": 0}
    assert [e["node"]["kind"] for e in status["activity"]["edges"][:2]] == ["REFUND", "REFUND"]
    assert await verify_ledger() == []

    await grant_points(api, member["id"], 30)

    status = await points_of(api, member["id"])
    assert (status["points"]["available"], status["points"]["debt"]) == (10, 0)
    assert [e["node"]["kind"] for e in status["activity"]["edges"][:2]] == [
        "DEBT_RECOVERY",
        "ADJUST",
    ]
    assert await verify_ledger() == []


async def test_later_earning_and_maturing_repay_the_debt_and_redemption_waits(
    api: Api,
) -> None:
    await create_program(api, pendingDays=14)
    await set_policy(api, "NEGATIVE_BALANCE")
    member = await enroll(api)
    await record_order(api, placedAt=days_ago(20))
    reward = await create_reward(api, cost_points=20)
    await redeem(api, member["id"], reward["id"], "buy")
    await refund(api, "r1")
    before = await snapshot()

    refused = await redeem(api, member["id"], reward["id"], "while-owing")

    assert codes(refused["userErrors"]) == ["POINTS_OWED"]
    assert refused["userErrors"][0]["field"] == ["input", "memberId"]
    assert await snapshot() == before

    # 10 points available at once: all of them repay the debt.
    await record_order(
        api, order_id="order-2", unit_price_minor=1000, quantity=1, placedAt=days_ago(20)
    )
    status = await points_of(api, member["id"])
    assert (status["points"]["available"], status["points"]["debt"]) == (0, 10)
    newest = status["activity"]["edges"][0]["node"]
    assert (newest["kind"], newest["orderId"]) == ("DEBT_RECOVERY", "order-2")

    # 25 pending points repay nothing until they mature; then 10 of them go to the debt.
    await record_order(api, order_id="order-3", placedAt=days_ago(1))
    status = await points_of(api, member["id"])
    assert (status["points"]["pending"], status["points"]["debt"]) == (25, 10)
    assert await mature_due_points(utc_now() + timedelta(days=14)) == 1
    status = await points_of(api, member["id"])
    assert status["points"] == {"available": 15, "pending": 0, "debt": 0, "lifetimeEarned": 35}
    assert [e["node"]["kind"] for e in status["activity"]["edges"][:2]] == [
        "DEBT_RECOVERY",
        "MATURE",
    ]
    assert await verify_ledger() == []

    sticker = await create_reward(api, cost_points=15, name="Sticker")
    allowed = await redeem(api, member["id"], sticker["id"], "repaid")
    assert allowed["userErrors"] == []


async def test_verify_ledger_recomputes_the_debt(api: Api) -> None:
    await create_program(api)
    await set_policy(api, "NEGATIVE_BALANCE")
    member = await enroll(api)
    await record_order(api)
    reward = await create_reward(api, cost_points=20)
    await redeem(api, member["id"], reward["id"], "buy")
    await refund(api, "r1")
    assert await verify_ledger() == []

    await execute(
        connections.get("default"), "UPDATE members SET points_debt = 3 WHERE points_debt = 20"
    )

    problems = await verify_ledger()
    assert len(problems) == 1
    assert "debt is 3, the entries say 20" in problems[0]


async def test_a_replayed_record_order_shows_the_order_as_it_is_now_and_writes_nothing(
    api: Api,
) -> None:
    """docs/api.md#idempotency: a replay answers the first request's objects read again (here
    the order with its refund since), marked alreadyRecorded, and changes nothing."""
    await create_program(api)
    member = await enroll(api)
    first = await record_order(api, idempotencyKey="order-key", **two_lines())
    refunded = await refund(api, "refund-1", amountMinor=1000)
    before = await snapshot()

    replay = await record_order(api, idempotencyKey="order-key", **two_lines())
    refund_replay = await refund(api, "refund-1", amountMinor=1000)

    assert first["alreadyRecorded"] is False
    assert replay["alreadyRecorded"] is True
    assert replay["order"]["id"] == first["order"]["id"]
    assert refunded["userErrors"] == [] and refund_replay["userErrors"] == []
    assert refund_replay["order"] == refunded["order"]
    assert await snapshot() == before
    assert (await member_status(api, member["id"]))["points"]["available"] == 40
