"""Inputs at the edges: huge point totals, odd unicode, odd times, conflicting duplicates."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    ENROLL,
    RECORD_ORDER,
    create_program,
    enroll,
    grant_points,
    member_status,
    order_input,
    record_order,
)
from tests.graphql.helpers import codes, snapshot


async def test_an_order_earning_more_than_a_billion_points_is_refused(api: Api) -> None:
    await create_program(api, points_per_currency_unit=10_000)
    await enroll(api)
    before = await snapshot()

    result = await record_order(api, unit_price_minor=100_000_000, quantity=1)

    assert codes(result["userErrors"]) == ["POINTS_LIMIT_EXCEEDED"]
    assert result["order"] is None
    assert await snapshot() == before


async def test_a_balance_never_passes_what_graphql_int_can_carry(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1_000_000_000)
    await grant_points(api, member["id"], 1_000_000_000)
    before = await snapshot()

    data = await api.data(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": 1_000_000_000,
                "reason": "one too many",
                "idempotencyKey": "third",
            }
        },
    )

    assert codes(data["adjustPoints"]["userErrors"]) == ["POINTS_LIMIT_EXCEEDED"]
    assert await snapshot() == before
    assert (await member_status(api, member["id"]))["points"]["available"] == 2_000_000_000


async def post_escaped(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Post JSON with `\\uXXXX` escapes, as a client may send a lone surrogate."""
    response = await api.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode("ascii"),
        headers={"Authorization": f"Bearer {api.admin_key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_lone_surrogates_are_invalid_values_not_server_errors(api: Api) -> None:
    await create_program(api)

    enrolled = await post_escaped(
        api, ENROLL, {"input": {"programSlug": "shop", "customerId": "ab\ud800cd"}}
    )
    looked_up = await post_escaped(
        api, "query($slug: String!) { program(slug: $slug) { slug } }", {"slug": "sh\udfffop"}
    )

    assert "errors" not in enrolled, enrolled
    assert codes(enrolled["data"]["enrollMember"]["userErrors"]) == ["INVALID_VALUE"]
    assert looked_up == {"data": {"program": None}}


async def test_placed_at_needs_a_zone_and_a_plausible_date(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    before = await snapshot()

    for placed_at in (
        "2026-11-20T10:00:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ):
        data = await api.data(RECORD_ORDER, {"input": order_input(placedAt=placed_at)})

        errors = data["recordOrder"]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [
            ("INVALID_VALUE", ["input", "placedAt"])
        ], placed_at
    assert await snapshot() == before


async def test_the_same_order_written_differently_is_recognised(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    first = await record_order(api, placedAt="2026-11-20T10:00:00+05:00")

    again = await record_order(
        api, placedAt="2026-11-20T05:00:00Z", order_id=" order-1 ", currency="eur"
    )

    assert again["userErrors"] == []
    assert again["alreadyRecorded"] is True
    assert again["order"]["id"] == first["order"]["id"]


async def test_concurrent_reports_of_one_order_with_other_content_earn_once(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    inputs = [order_input(quantity=1 + n % 2) for n in range(40)]

    responses = await asyncio.gather(*(api.post(RECORD_ORDER, {"input": i}) for i in inputs))

    payloads = [r.json()["data"]["recordOrder"] for r in responses]
    assert {r.status_code for r in responses} == {200}
    recorded = [p for p in payloads if p["order"] is not None and not p["alreadyRecorded"]]
    assert len(recorded) == 1
    winner_points = recorded[0]["order"]["pointsEarned"]
    refused = [codes(p["userErrors"]) for p in payloads if p["userErrors"]]
    assert refused == [["ORDER_ALREADY_RECORDED"]] * 20
    assert (await member_status(api, member["id"]))["points"]["available"] == winner_points


async def test_an_order_in_another_currency_earns_on_the_converted_cart(api: Api) -> None:
    await create_program(api)  # EUR, 1 point per euro
    member = await enroll(api)

    result = await record_order(
        api, currency="SEK", unit_price_minor=54_300, quantity=1, exchangeRate="0.0921"
    )

    assert result["userErrors"] == []
    assert result["order"]["currency"] == "SEK"
    assert result["order"]["pointsEarned"] == 50  # 543.00 SEK x 0.0921 = 50.01 EUR
    assert (await member_status(api, member["id"]))["points"]["available"] == 50


async def test_a_foreign_order_needs_a_sane_rate(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    before = await snapshot()

    missing = await record_order(api, currency="SEK")
    bad = await record_order(api, currency="SEK", exchangeRate="-1")
    pointless = await record_order(api, exchangeRate="1.5")

    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [
        ("CURRENCY_MISMATCH", ["input", "currency"])
    ]
    assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [
        ("INVALID_VALUE", ["input", "exchangeRate"])
    ]
    assert [(e["code"], e["field"]) for e in pointless["userErrors"]] == [
        ("INVALID_VALUE", ["input", "exchangeRate"])
    ]
    assert await snapshot() == before


async def test_zero_and_three_decimal_currencies_convert_exactly(api: Api) -> None:
    await create_program(api, currency="KWD", points_per_currency_unit=10)
    await enroll(api)

    result = await record_order(
        api, currency="JPY", unit_price_minor=10_000, quantity=1, exchangeRate="0.00205"
    )

    assert result["userErrors"] == []
    assert result["order"]["pointsEarned"] == 205  # 10,000 JPY = 20.500 KWD, x 10 points
