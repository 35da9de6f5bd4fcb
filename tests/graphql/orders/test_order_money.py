"""Orders in other currencies at the program's configured rates, and payments with points or
store credit that do not earn."""

from __future__ import annotations

from typing import Any

from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, order_input
from tests.graphql.helpers import codes, snapshot

RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order {
      pointsEarned exchangeRate
      earning { points baseMinor unearnedPaymentMinor lines { index baseMinor points } }
    }
    alreadyRecorded
    userErrors { field message code }
  }
}"""

PREVIEW = """
query($input: PreviewOrderInput!) {
  previewOrderPoints(input: $input) {
    points baseMinor unearnedPaymentMinor lines { index baseMinor points }
  }
}"""

SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) { userErrors { field message code } }
}"""

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { pointsReversed userErrors { code } }
}"""


async def configure(api: Api, **settings: Any) -> None:
    data = await api.data(SETTINGS, {"input": {"programSlug": "shop", **settings}})
    assert data["updateProgramSettings"]["userErrors"] == []


def rates(**by_currency: str) -> list[dict[str, str]]:
    return [{"currency": currency, "rate": rate} for currency, rate in by_currency.items()]


async def record(api: Api, **overrides: Any) -> dict[str, Any]:
    data = await api.data(RECORD_ORDER, {"input": order_input(**overrides)})
    payload: dict[str, Any] = data["recordOrder"]
    return payload


def preview_input(**fields: Any) -> dict[str, Any]:
    values = order_input(**fields)
    for name in ("customerId", "orderId", "totalMinor", "placedAt"):
        values.pop(name)
    return values


async def preview(api: Api, **fields: Any) -> dict[str, Any]:
    body = await api.gql(PREVIEW, {"input": preview_input(**fields)})
    return body


async def test_a_foreign_order_uses_the_program_rate_unless_it_brings_its_own(api: Api) -> None:
    await create_program(api)
    await configure(api, exchangeRates=rates(SEK="0.0921"))
    await enroll(api)

    # 2 x 500.00 SEK at 0.0921 = 92.10 EUR: 92 points.
    configured = await record(api, currency="SEK", unit_price_minor=50000)
    own = await record(
        api, order_id="order-2", currency="sek", unit_price_minor=50000, exchangeRate="0.1"
    )
    missing = await record(api, order_id="order-3", currency="NOK", unit_price_minor=50000)

    assert configured["userErrors"] == []
    assert configured["order"]["exchangeRate"] == "0.0921"
    assert configured["order"]["pointsEarned"] == 92
    assert (own["order"]["exchangeRate"], own["order"]["pointsEarned"]) == ("0.1", 100)
    assert codes(missing["userErrors"]) == ["CURRENCY_MISMATCH"]
    assert missing["userErrors"][0]["field"] == ["input", "currency"]
    assert (await preview(api, currency="SEK", unit_price_minor=50000))["data"][
        "previewOrderPoints"
    ]["points"] == 92

    await configure(api, exchangeRates=rates(SEK="0.2"))
    replay = await record(api, currency="SEK", unit_price_minor=50000)
    assert replay["alreadyRecorded"] is True
    assert (replay["order"]["exchangeRate"], replay["order"]["pointsEarned"]) == ("0.0921", 92)
    assert await verify_ledger() == []


async def test_zero_and_three_decimal_currencies_convert_exactly(api: Api) -> None:
    await create_program(api)
    await configure(api, exchangeRates=rates(JPY="0.0062", KWD="2.9801"))
    await enroll(api)

    # 2 x 5000 JPY (no minor unit) at 0.0062 = 62.00 EUR.
    yen = await record(api, currency="JPY", unit_price_minor=5000)
    # 2 x 10.000 KWD (3 decimals) at 2.9801: each 29.801 EUR, rounded half to even 29.80.
    dinar = await record(api, order_id="order-2", currency="KWD", unit_price_minor=10000)

    assert (yen["order"]["exchangeRate"], yen["order"]["pointsEarned"]) == ("0.0062", 62)
    assert yen["order"]["earning"]["baseMinor"] == 6200
    assert (dinar["order"]["exchangeRate"], dinar["order"]["pointsEarned"]) == ("2.9801", 59)
    assert dinar["order"]["earning"]["baseMinor"] == 5960


async def test_a_program_in_a_zero_decimal_currency_takes_three_decimal_orders(
    api: Api,
) -> None:
    await create_program(api, currency="JPY", points_per_currency_unit=1)
    await configure(api, exchangeRates=rates(BHD="391.5"))
    await enroll(api)

    # 1 x 1.234 BHD at 391.5 = 483.111 JPY: 483 yen, 483 points.
    order = await record(api, currency="BHD", unit_price_minor=1234, quantity=1)

    assert order["userErrors"] == []
    assert (order["order"]["exchangeRate"], order["order"]["pointsEarned"]) == ("391.5", 483)


def two_lines(**overrides: Any) -> dict[str, Any]:
    """2 x 10.00 shoes and 1 x 30.00 coat: 50.00 EUR."""
    return {
        "lines": [
            {"sku": "SHOE", "category": "shoes", "quantity": 2, "unitPriceMinor": 1000},
            {"sku": "COAT", "category": "coats", "quantity": 1, "unitPriceMinor": 3000},
        ],
        "totalMinor": 5000,
        **overrides,
    }


async def test_money_paid_with_points_or_store_credit_earns_nothing(api: Api) -> None:
    await create_program(api)
    await enroll(api)

    order = await record(api, **two_lines(paidWithPointsMinor=1000, paidWithStoreCreditMinor=1501))

    # 25.01 EUR taken off 20.00 and 30.00 in proportion: 10.00 and 15.01 (the larger remainder
    # gets the extra cent), leaving bases of 10.00 and 14.99.
    assert order["userErrors"] == []
    earning = order["order"]["earning"]
    assert earning["unearnedPaymentMinor"] == 2501
    assert earning["baseMinor"] == 2499
    assert [(line["baseMinor"], line["points"]) for line in earning["lines"]] == [
        (1000, 10),
        (1499, 14),
    ]
    assert order["order"]["pointsEarned"] == 24
    previewed = await preview(
        api, **two_lines(paidWithPointsMinor=1000, paidWithStoreCreditMinor=1501)
    )
    assert previewed["data"]["previewOrderPoints"] == {
        "points": 24,
        "baseMinor": 2499,
        "unearnedPaymentMinor": 2501,
        "lines": [
            {"index": 0, "baseMinor": 1000, "points": 10},
            {"index": 1, "baseMinor": 1499, "points": 14},
        ],
    }

    coat = await api.data(
        REFUND,
        {
            "input": {
                "programSlug": "shop",
                "orderId": "order-1",
                "idempotencyKey": "r",
                "lines": [{"lineIndex": 1, "quantity": 1}],
            }
        },
    )
    assert coat["refundOrder"]["pointsReversed"] == 14

    replay = await record(api, **two_lines(paidWithPointsMinor=1000, paidWithStoreCreditMinor=1501))
    changed = await record(api, **two_lines(paidWithPointsMinor=1000))
    assert replay["alreadyRecorded"] is True
    assert codes(changed["userErrors"]) == ["ORDER_ALREADY_RECORDED"]
    assert await verify_ledger() == []


async def test_a_program_may_earn_on_points_payments(api: Api) -> None:
    await create_program(api)
    await configure(api, earnOnPointsPayments=True)
    await enroll(api)

    order = await record(api, **two_lines(paidWithPointsMinor=2000, paidWithStoreCreditMinor=500))

    assert order["order"]["pointsEarned"] == 50
    assert order["order"]["earning"]["unearnedPaymentMinor"] == 0


async def test_payments_beyond_the_total_are_refused_and_write_nothing(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    before = await snapshot()

    too_much = await record(api, **two_lines(paidWithPointsMinor=5001))
    negative = await record(api, **two_lines(paidWithStoreCreditMinor=-1))
    together = await record(
        api, **two_lines(paidWithPointsMinor=3000, paidWithStoreCreditMinor=2001)
    )
    previewed = await preview(api, **two_lines(paidWithPointsMinor=5001))

    assert codes(too_much["userErrors"]) == ["INVALID_AMOUNT"]
    assert too_much["userErrors"][0]["field"] == ["input", "paidWithPointsMinor"]
    assert codes(negative["userErrors"]) == ["INVALID_AMOUNT"]
    assert negative["userErrors"][0]["field"] == ["input", "paidWithStoreCreditMinor"]
    assert codes(together["userErrors"]) == ["INVALID_AMOUNT"]
    assert previewed["errors"][0]["extensions"]["code"] == "INVALID_AMOUNT"
    assert await snapshot() == before
