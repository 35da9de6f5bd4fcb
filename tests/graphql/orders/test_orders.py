"""recordOrder: earning on the order total, once per order id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.factories import (
    RECORD_ORDER,
    create_program,
    enroll,
    member_status,
    order_input,
    record_order,
)


async def test_an_order_earns_points_per_currency_unit_rounded_down(api: Api) -> None:
    await create_program(api, points_per_currency_unit=3)
    member = await enroll(api)

    result = await record_order(api, unit_price_minor=1999, quantity=1)

    assert result["userErrors"] == []
    assert result["alreadyRecorded"] is False
    assert result["order"]["pointsEarned"] == 59  # 19.99 EUR x 3 = 59.97
    status = await member_status(api, member["id"])
    assert status["points"] == {
        "available": 59,
        "pending": 0,
        "lifetimeEarned": 59,
        "lifetimeRedeemed": 0,
    }
    assert status["activity"]["edges"][0]["node"] == {
        "kind": "EARN_ORDER",
        "points": 59,
        "description": "Order order-1",
        "orderId": "order-1",
    }


async def test_zero_decimal_currency_earns_per_whole_unit(api: Api) -> None:
    await create_program(api, currency="JPY", points_per_currency_unit=1)
    await enroll(api)

    result = await record_order(api, currency="JPY", unit_price_minor=1500, quantity=1)

    assert result["order"]["pointsEarned"] == 1500


async def test_reporting_the_same_order_again_earns_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    first = await record_order(api)

    second = await record_order(api)

    assert second["userErrors"] == []
    assert second["alreadyRecorded"] is True
    assert second["order"]["id"] == first["order"]["id"]
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 25
    assert len(status["activity"]["edges"]) == 1


async def test_same_order_id_with_other_content_is_refused(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api)

    changed = await record_order(api, unit_price_minor=9999, quantity=1)

    assert changed["order"] is None
    assert [e["code"] for e in changed["userErrors"]] == ["ORDER_ALREADY_RECORDED"]
    assert (await member_status(api, member["id"]))["points"]["available"] == 25


async def test_idempotency_key_replays_and_refuses_other_input(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    first = await record_order(api, idempotencyKey="key-1")

    replay = await record_order(api, idempotencyKey="key-1")
    reused = await record_order(api, order_id="order-2", idempotencyKey="key-1")

    assert replay["alreadyRecorded"] is True
    assert replay["order"]["id"] == first["order"]["id"]
    assert [e["code"] for e in reused["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert (await member_status(api, member["id"]))["points"]["available"] == 25


async def test_by_default_the_base_is_merchandise_after_discount(api: Api) -> None:
    await create_program(api)
    await enroll(api)

    result = await record_order(
        api,
        unit_price_minor=1000,
        quantity=3,
        shippingMinor=500,
        taxMinor=600,
        discountMinor=1100,
        totalMinor=3000,
    )

    assert result["userErrors"] == []
    assert result["order"]["pointsEarned"] == 19  # 30.00 - 11.00 discount


async def test_a_program_can_count_shipping_and_tax(api: Api) -> None:
    await create_program(api, countShipping=True, countTax=True)
    await enroll(api)

    result = await record_order(
        api,
        unit_price_minor=1000,
        quantity=3,
        shippingMinor=500,
        taxMinor=600,
        discountMinor=1100,
        totalMinor=3000,
    )

    assert result["userErrors"] == []
    assert result["order"]["pointsEarned"] == 30


async def test_an_order_below_one_point_is_recorded_without_a_ledger_transaction(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)

    result = await record_order(api, unit_price_minor=99, quantity=1)

    assert result["userErrors"] == []
    assert result["order"]["pointsEarned"] == 0
    assert (await member_status(api, member["id"]))["activity"]["edges"] == []


async def test_bad_orders_are_refused_with_precise_codes_and_write_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"programSlug": "nope"}, "PROGRAM_NOT_FOUND", ["input", "programSlug"]),
        ({"currency": "USD"}, "CURRENCY_MISMATCH", ["input", "currency"]),
        ({"currency": "XYZ"}, "UNKNOWN_CURRENCY", ["input", "currency"]),
        ({"totalMinor": 2499}, "LINES_TOTAL_MISMATCH", ["input", "totalMinor"]),
        ({"totalMinor": 0, "unit_price_minor": 0}, "INVALID_AMOUNT", ["input", "totalMinor"]),
        ({"totalMinor": -5}, "INVALID_AMOUNT", ["input", "totalMinor"]),
        ({"totalMinor": 2_000_000_000}, "INVALID_AMOUNT", ["input", "totalMinor"]),
        ({"quantity": 0}, "INVALID_QUANTITY", ["input", "lines", "0", "quantity"]),
        ({"quantity": -1}, "INVALID_QUANTITY", ["input", "lines", "0", "quantity"]),
        (
            {"quantity": 10_000_000, "unit_price_minor": 1},
            "INVALID_QUANTITY",
            ["input", "lines", "0", "quantity"],
        ),
        (
            {"unit_price_minor": -100},
            "INVALID_AMOUNT",
            ["input", "lines", "0", "unitPriceMinor"],
        ),
        ({"shippingMinor": -1}, "INVALID_AMOUNT", ["input", "shippingMinor"]),
        ({"order_id": "x" * 129}, "TOO_LONG", ["input", "orderId"]),
        ({"order_id": "  "}, "REQUIRED", ["input", "orderId"]),
        ({"lines": []}, "REQUIRED", ["input", "lines"]),
    ]
    for overrides, code, field in cases:
        data = await api.data(RECORD_ORDER, {"input": order_input(**overrides)})

        errors = data["recordOrder"]["userErrors"]
        assert code in [e["code"] for e in errors], (overrides, errors)
        assert field in [e["field"] for e in errors], (overrides, errors)
        assert data["recordOrder"]["order"] is None
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 0
    assert status["activity"]["edges"] == []


async def test_an_earning_appends_an_event_whose_ids_resolve_through_node(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    await record_order(api)

    data = await api.data(
        '{ events(programSlug: "shop", type: "points.earned") '
        "{ edges { node { type memberId payload } } } }"
    )
    [edge] = data["events"]["edges"]
    event = edge["node"]
    assert event["memberId"] == member["id"]
    assert event["payload"]["memberId"] == member["id"]
    assert event["payload"]["points"] == 25
    assert event["payload"]["availableAfter"] == 25
    assert event["payload"]["orderId"] == "order-1"
    activity = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Activity { kind points } } }",
        {"id": event["payload"]["activityId"]},
    )
    assert activity == {"node": {"kind": "EARN_ORDER", "points": 25}}


async def test_a_rule_for_a_tier_waits_until_members_have_tiers(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    created = await api.data(
        "mutation($input: CreateEarningRuleInput!) { createEarningRule(input: $input)"
        " { rule { eligibleTiers eligibleSegments } userErrors { code } } }",
        {
            "input": {
                "programSlug": "shop",
                "rule": {
                    "name": "Gold double points",
                    "kind": "MULTIPLIER",
                    "multiplier": "2",
                    "eligibleTiers": ["gold"],
                },
            }
        },
    )

    result = await record_order(api)

    assert created["createEarningRule"] == {
        "rule": {"eligibleTiers": ["gold"], "eligibleSegments": []},
        "userErrors": [],
    }
    assert result["order"]["pointsEarned"] == 25


async def test_points_held_for_a_pending_period_are_announced_as_pending_not_earned(
    api: Api,
) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    placed_at = datetime.now(UTC) - timedelta(days=1)

    await record_order(api, placedAt=placed_at.isoformat())

    data = await api.data(
        '{ events(programSlug: "shop") { edges { node { type memberId payload createdAt } } } }'
    )
    events = [edge["node"] for edge in data["events"]["edges"]]
    assert "points.earned" not in [event["type"] for event in events]
    [pending] = [event for event in events if event["type"] == "points.pending"]
    assert pending["memberId"] == member["id"]
    assert pending["payload"]["points"] == 25
    assert (pending["payload"]["availableAfter"], pending["payload"]["pendingAfter"]) == (0, 25)
    matures_at = datetime.fromisoformat(pending["payload"]["maturesAt"])
    assert matures_at == placed_at + timedelta(days=14)


async def test_an_order_says_where_it_was_placed(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    query = RECORD_ORDER.replace("pointsEarned", "pointsEarned channel storeLocation", 1)

    in_store = await api.data(
        query,
        {"input": order_input(channel="STORE", storeLocation="  Gamla stan  ")},
    )
    again = await api.data(
        query,
        {"input": order_input(channel="STORE", storeLocation="Gamla stan")},
    )
    elsewhere = await api.data(query, {"input": order_input(channel="WEB")})
    bad = await api.data(
        query,
        {"input": order_input("order-2", storeLocation="x" * 129)},
    )
    unknown = await api.gql(query, {"input": order_input("order-3", channel="FAX")})
    web = await api.data(query, {"input": order_input("order-4")})

    order = in_store["recordOrder"]["order"]
    assert (order["channel"], order["storeLocation"]) == ("STORE", "Gamla stan")
    assert again["recordOrder"]["alreadyRecorded"] is True
    # The same order id reported from another channel is another report, refused.
    assert [e["code"] for e in elsewhere["recordOrder"]["userErrors"]] == ["ORDER_ALREADY_RECORDED"]
    assert [e["code"] for e in bad["recordOrder"]["userErrors"]] == ["TOO_LONG"]
    assert "errors" in unknown
    assert (
        web["recordOrder"]["order"]["channel"],
        web["recordOrder"]["order"]["storeLocation"],
    ) == (
        None,
        None,
    )
    events = await api.data(
        '{ events(programSlug: "shop", type: "order.recorded") { edges { node { payload } } } }'
    )
    payloads = [edge["node"]["payload"] for edge in events["events"]["edges"]]
    assert (payloads[0]["channel"], payloads[0]["storeLocation"]) == ("STORE", "Gamla stan")
    assert "channel" not in payloads[-1]
