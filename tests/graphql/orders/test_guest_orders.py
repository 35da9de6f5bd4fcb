"""Guest orders: orders of customers who are not members, kept, and credited at enrolment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import clock as app_clock
from app.clock import ManualClock
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    member_status,
    record_order,
    update_program_settings,
)
from tests.graphql.helpers import rows

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

ORDER = """
query($id: ID!) {
  node(id: $id) {
    ... on Order {
      orderId customerId pointsEarned status member { customerId }
      earning { points noPointsReason }
    }
  }
}"""

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) {
    order { orderId status pointsEarned refundedMinor }
    pointsReversed
    userErrors { field message code }
  }
}"""

SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) {
    program { retroCreditDays }
    userErrors { field message code }
  }
}"""


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


def placed(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


async def order_node(api: Api, order_id: str) -> dict[str, Any]:
    data = await api.data(ORDER, {"id": order_id})
    node: dict[str, Any] = data["node"]
    return node


async def test_a_guest_order_is_recorded_with_no_member_and_no_points(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)

    result = await record_order(api, customer_id="guest-1", placedAt=placed(1))

    assert result["userErrors"] == []
    assert result["alreadyRecorded"] is False
    assert result["order"]["pointsEarned"] == 0
    assert result["order"]["member"] is None
    assert await order_node(api, result["order"]["id"]) == {
        "orderId": "order-1",
        "customerId": "guest-1",
        "pointsEarned": 0,
        "status": "PLACED",
        "member": None,
        "earning": {"points": 0, "noPointsReason": "NOT_A_MEMBER"},
    }
    assert await rows("SELECT COUNT(*) AS n FROM ledger_transactions") == [{"n": 0}]
    assert await rows("SELECT type FROM outbox_events WHERE type LIKE 'order.%'") == []
    assert await verify_ledger() == []


async def test_a_guest_order_reported_again_is_replayed(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    first = await record_order(api, customer_id="guest-1", placedAt=placed(1))

    again = await record_order(api, customer_id="guest-1", placedAt=placed(1))
    changed = await record_order(api, customer_id="guest-1", placedAt=placed(2))

    assert again["alreadyRecorded"] is True
    assert again["order"]["id"] == first["order"]["id"]
    assert [e["code"] for e in changed["userErrors"]] == ["ORDER_ALREADY_RECORDED"]


async def test_a_guest_order_is_refunded_without_points(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await record_order(api, customer_id="guest-1", placedAt=placed(1))

    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r-1"}},
    )

    assert data["refundOrder"] == {
        "order": {
            "orderId": "order-1",
            "status": "REFUNDED",
            "pointsEarned": 0,
            "refundedMinor": 2500,
        },
        "pointsReversed": 0,
        "userErrors": [],
    }
    assert await verify_ledger() == []


async def test_enrolment_credits_nothing_by_default(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    recorded = await record_order(api, customer_id="guest-1", placedAt=placed(1))

    member = await enroll(api, customer_id="guest-1")

    assert (await member_status(api, member["id"]))["points"]["available"] == 0
    assert (await order_node(api, recorded["order"]["id"]))["member"] is None


async def test_enrolment_credits_the_unrefunded_guest_orders_of_the_window(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await update_program_settings(api, retroCreditDays=30)
    recent = await record_order(api, order_id="recent", customer_id="guest-1", placedAt=placed(30))
    old = await record_order(api, order_id="old", customer_id="guest-1", placedAt=placed(31))
    await record_order(api, order_id="refunded", customer_id="guest-1", placedAt=placed(2))
    await api.data(
        REFUND,
        {
            "input": {
                "programSlug": "shop",
                "orderId": "refunded",
                "amountMinor": 1,
                "idempotencyKey": "r",
            }
        },
    )
    await record_order(api, order_id="someone-else", customer_id="guest-2", placedAt=placed(2))

    member = await enroll(api, customer_id="guest-1")

    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 25
    assert status["points"]["lifetimeEarned"] == 25
    assert await order_node(api, recent["order"]["id"]) == {
        "orderId": "recent",
        "customerId": "guest-1",
        "pointsEarned": 25,
        "status": "PLACED",
        "member": {"customerId": "guest-1"},
        "earning": {"points": 25, "noPointsReason": None},
    }
    assert (await order_node(api, old["order"]["id"]))["member"] is None
    assert await verify_ledger() == []


async def test_a_credited_order_refunds_its_points(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await update_program_settings(api, retroCreditDays=7)
    await record_order(api, customer_id="guest-1", placedAt=placed(1))
    member = await enroll(api, customer_id="guest-1")

    data = await api.data(
        REFUND,
        {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r-1"}},
    )

    assert data["refundOrder"]["pointsReversed"] == 25
    assert (await member_status(api, member["id"]))["points"]["available"] == 0
    assert await verify_ledger() == []


async def test_a_credited_order_is_pending_until_its_return_window_closes(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, pendingDays=14)
    await update_program_settings(api, retroCreditDays=30)
    await record_order(api, order_id="fresh", customer_id="guest-1", placedAt=placed(3))
    await record_order(api, order_id="past", customer_id="guest-1", placedAt=placed(20))

    member = await enroll(api, customer_id="guest-1")

    points = (await member_status(api, member["id"]))["points"]
    assert (points["available"], points["pending"]) == (25, 25)


async def test_a_members_order_after_enrolment_earns_as_usual(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await record_order(api, order_id="before", customer_id="guest-1", placedAt=placed(2))
    member = await enroll(api, customer_id="guest-1")

    after = await record_order(api, order_id="after", customer_id="guest-1", placedAt=placed(0))

    assert after["order"]["pointsEarned"] == 25
    assert after["order"]["member"]["id"] == member["id"]


async def test_retro_credit_days_out_of_range_is_refused(api: Api, clock: ManualClock) -> None:
    await create_program(api)

    for days in (-1, 366):
        data = await api.data(SETTINGS, {"input": {"programSlug": "shop", "retroCreditDays": days}})

        assert data["updateProgramSettings"]["userErrors"] == [
            {
                "field": ["input", "retroCreditDays"],
                "message": f"retroCreditDays must be between 0 and 365, got {days}",
                "code": "INVALID_VALUE",
            }
        ]


async def test_erasure_takes_the_customer_id_off_the_members_orders(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await record_order(api, order_id="as-guest", customer_id="guest-1", placedAt=placed(40))
    member = await enroll(api, customer_id="guest-1")
    await record_order(api, order_id="as-member", customer_id="guest-1", placedAt=placed(0))

    data = await api.data(
        "mutation($input: EraseMemberInput!) { eraseMember(input: $input) {"
        " member { customerId } userErrors { code } } }",
        {"input": {"memberId": member["id"]}},
    )

    erased_id = data["eraseMember"]["member"]["customerId"]
    assert erased_id.startswith("erased:")
    assert await rows("SELECT order_id, customer_id FROM orders ORDER BY order_id") == [
        {"order_id": "as-guest", "customer_id": erased_id},
        {"order_id": "as-member", "customer_id": erased_id},
    ]
