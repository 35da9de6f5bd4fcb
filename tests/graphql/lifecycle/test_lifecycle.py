"""Pending points, maturing, and refunds that take back exactly what lines earned."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from app.db import utc_now
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
    order_input,
    record_order,
)
from tests.graphql.helpers import codes, snapshot

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) {
    order { orderId status pointsEarned pointsRefunded pointsUnrecovered }
    pointsReversed
    pointsUnrecovered
    userErrors { field message code }
  }
}"""


def days_ago(days: int) -> str:
    return (utc_now() - timedelta(days=days)).isoformat()


async def refund(api: Api, key: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": key, **fields}},
    )
    payload: dict[str, Any] = data["refundOrder"]
    return payload


def two_lines(**overrides: Any) -> dict[str, Any]:
    """Order lines: 2 x 10.00 shoes and 1 x 30.00 coat: 50 points at 1 point per EUR."""
    return {
        "lines": [
            {"sku": "SHOE", "category": "shoes", "quantity": 2, "unitPriceMinor": 1000},
            {"sku": "COAT", "category": "coats", "quantity": 1, "unitPriceMinor": 3000},
        ],
        "totalMinor": 5000,
        **overrides,
    }


async def test_purchase_points_wait_pending_through_the_return_window(api: Api) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)

    await record_order(api, placedAt=days_ago(1))

    status = await member_status(api, member["id"])
    assert status["points"] == {
        "available": 0,
        "pending": 25,
        "lifetimeEarned": 25,
        "lifetimeRedeemed": 0,
    }
    reward = await create_reward(api, cost_points=25)
    refused = await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}},
    )
    assert codes(refused["redeemReward"]["userErrors"]) == ["INSUFFICIENT_POINTS"]


async def test_an_order_reported_after_its_window_is_available_at_once(api: Api) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)

    await record_order(api, placedAt=days_ago(20))

    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["pending"]) == (25, 0)


async def test_maturing_makes_due_points_available_once(api: Api) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    await record_order(api, placedAt=days_ago(1))
    await record_order(api, order_id="order-2", placedAt=days_ago(0))

    too_early = await mature_due_points(utc_now() + timedelta(days=12, hours=12))
    first = await mature_due_points(utc_now() + timedelta(days=13, hours=12))
    again = await mature_due_points(utc_now() + timedelta(days=13, hours=12))

    assert (too_early, first, again) == (0, 1, 0)
    status = await member_status(api, member["id"])
    assert (status["points"]["available"], status["points"]["pending"]) == (25, 25)
    newest = status["activity"]["edges"][0]["node"]
    assert newest == {
        "kind": "MATURE",
        "points": 0,
        "description": "25 points from order order-1 are now available",
        "orderId": "order-1",
    }
    assert await verify_ledger() == []


async def test_two_maturing_runners_at_once_mature_each_lot_once(api: Api) -> None:
    await create_program(api, pendingDays=14)
    members = [await enroll(api, customer_id=f"cust-{n}") for n in range(10)]
    for n in range(10):
        await record_order(
            api, order_id=f"order-{n}", customer_id=f"cust-{n}", placedAt=days_ago(1)
        )
    later = utc_now() + timedelta(days=14)

    results = await asyncio.gather(mature_due_points(later), mature_due_points(later))

    assert sum(results) == 10
    for member in members:
        points = (await member_status(api, member["id"]))["points"]
        assert (points["available"], points["pending"]) == (25, 0)
    assert await verify_ledger() == []


async def test_partial_refunds_take_back_exactly_what_the_lines_earned(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())

    one_shoe = await refund(api, "r1", lines=[{"lineIndex": 0, "quantity": 1}])
    other_shoe = await refund(api, "r2", lines=[{"lineIndex": 0, "quantity": 1}])
    coat = await refund(api, "r3", lines=[{"lineIndex": 1, "quantity": 1}])

    assert [p["pointsReversed"] for p in (one_shoe, other_shoe, coat)] == [10, 10, 30]
    assert [p["order"]["status"] for p in (one_shoe, other_shoe, coat)] == [
        "PARTIALLY_REFUNDED",
        "PARTIALLY_REFUNDED",
        "REFUNDED",
    ]
    assert coat["order"]["pointsRefunded"] == 50
    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["lifetimeEarned"]) == (0, 0)
    assert await verify_ledger() == []


async def test_a_refund_never_takes_back_more_than_was_bought(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, **two_lines())
    await refund(api, "r1", lines=[{"lineIndex": 0, "quantity": 2}])
    before = await snapshot()

    too_many = await refund(api, "r2", lines=[{"lineIndex": 0, "quantity": 1}])
    no_line = await refund(api, "r3", lines=[{"lineIndex": 7, "quantity": 1}])
    no_order = await refund(api, "r4", orderId="order-404")
    zero = await refund(api, "r5", lines=[{"lineIndex": 1, "quantity": 0}])

    assert codes(too_many["userErrors"]) == ["REFUND_EXCEEDS_QUANTITY"]
    assert codes(no_line["userErrors"]) == ["LINE_NOT_IN_ORDER"]
    assert codes(no_order["userErrors"]) == ["ORDER_NOT_FOUND"]
    assert codes(zero["userErrors"]) == ["INVALID_QUANTITY"]
    assert await snapshot() == before


async def test_a_replayed_refund_changes_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())
    first = await refund(api, "same", lines=[{"lineIndex": 1, "quantity": 1}])
    before = await snapshot()

    replay = await refund(api, "same", lines=[{"lineIndex": 1, "quantity": 1}])
    reused = await refund(api, "same", lines=[{"lineIndex": 0, "quantity": 1}])

    assert replay["pointsReversed"] == first["pointsReversed"] == 30
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    assert await snapshot() == before
    assert (await member_status(api, member["id"]))["points"]["available"] == 20


async def test_pending_points_are_cancelled_first(api: Api) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    await grant_points(api, member["id"], 100)
    await record_order(api, placedAt=days_ago(1), **two_lines())

    result = await refund(api, "cancel", cancel=True)

    assert result["pointsReversed"] == 50
    assert result["order"]["status"] == "CANCELLED"
    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["pending"]) == (100, 0)
    assert await mature_due_points(utc_now() + timedelta(days=30)) == 0  # nothing left in it
    assert (await member_status(api, member["id"]))["points"]["available"] == 100
    assert await verify_ledger() == []


async def test_spent_points_are_recorded_as_unrecovered_not_taken_below_zero(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())
    reward = await create_reward(api, cost_points=40)
    await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}},
    )

    result = await refund(api, "full")

    assert (result["pointsReversed"], result["pointsUnrecovered"]) == (10, 40)
    assert result["order"]["pointsUnrecovered"] == 40
    points = (await member_status(api, member["id"]))["points"]
    assert points["available"] == 0
    assert await verify_ledger() == []


async def test_concurrent_refunds_of_one_line_take_back_at_most_its_points(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, **two_lines())
    inputs = [
        {
            "programSlug": "shop",
            "orderId": "order-1",
            "idempotencyKey": f"k-{n}",
            "lines": [{"lineIndex": 0, "quantity": 1}],
        }
        for n in range(20)
    ]

    responses = await asyncio.gather(*(api.post(REFUND, {"input": i}) for i in inputs))

    payloads = [r.json()["data"]["refundOrder"] for r in responses]
    reversed_points = [p["pointsReversed"] for p in payloads if not p["userErrors"]]
    assert sorted(reversed_points) == [10, 10]
    assert [codes(p["userErrors"]) for p in payloads if p["userErrors"]] == [
        ["REFUND_EXCEEDS_QUANTITY"]
    ] * 18
    assert (await member_status(api, member["id"]))["points"]["available"] == 30
    assert await verify_ledger() == []


async def test_an_order_that_earned_nothing_refunds_nothing(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, **order_input(unit_price_minor=50, quantity=1))

    result = await refund(api, "small")

    assert result["userErrors"] == []
    assert (result["pointsReversed"], result["order"]["status"]) == (0, "REFUNDED")


async def test_refunding_an_order_with_nothing_left_is_refused(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, **two_lines())
    await refund(api, "all", cancel=True)
    before = await snapshot()

    again = await refund(api, "again")

    assert codes(again["userErrors"]) == ["ORDER_ALREADY_REFUNDED"]
    assert await snapshot() == before


PROGRESS = """
mutation($input: ReportOrderProgressInput!) {
  reportOrderProgress(input: $input) {
    order { orderId paidAt fulfilledAt }
    userErrors { field code }
  }
}"""


async def progress(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api.data(
        PROGRESS, {"input": {"programSlug": "shop", "orderId": "order-1", **fields}}
    )
    payload: dict[str, Any] = data["reportOrderProgress"]
    return payload


async def test_delivery_restarts_the_return_window(api: Api) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    await record_order(api, placedAt=days_ago(10))
    delivered = days_ago(2)

    paid = await progress(api, paidAt=days_ago(10))
    fulfilled = await progress(api, fulfilledAt=delivered)

    assert paid["userErrors"] == fulfilled["userErrors"] == []
    assert fulfilled["order"]["fulfilledAt"] is not None
    assert await mature_due_points(utc_now() + timedelta(days=5)) == 0
    assert await mature_due_points(utc_now() + timedelta(days=12, hours=1)) == 1
    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["pending"]) == (25, 0)


async def test_order_progress_is_idempotent_and_refuses_contradictions(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api, placedAt=days_ago(3))
    delivered = days_ago(1)
    await progress(api, fulfilledAt=delivered)
    before = await snapshot()

    same = await progress(api, fulfilledAt=delivered)
    other = await progress(api, fulfilledAt=days_ago(2))
    too_early = await progress(api, paidAt=days_ago(5))
    unknown = await progress(api, orderId="nope", paidAt=days_ago(1))
    nothing = await progress(api)

    assert same["userErrors"] == []
    assert codes(other["userErrors"]) == ["ORDER_PROGRESS_CONFLICT"]
    assert codes(too_early["userErrors"]) == ["INVALID_VALUE"]
    assert codes(unknown["userErrors"]) == ["ORDER_NOT_FOUND"]
    assert codes(nothing["userErrors"]) == ["REQUIRED"]
    assert await snapshot() == before
