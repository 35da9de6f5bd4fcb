"""What Laurel says to members in their language: activity summaries, tier requirements and
the messages of user errors (codes never change)."""

from __future__ import annotations

from tests.graphql.conftest import Api
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    record_order,
)
from tests.graphql.translations.test_translations import TIERS, set_translations, translation

ACTIVITY = """
query($id: ID!, $locale: String) {
  member(id: $id) {
    activity(first: 5) { edges { node { kind points description summary(locale: $locale) } } }
  }
}"""

TIER_STATUS = """
query($id: ID!, $locale: String) {
  member(id: $id) {
    tierStatus {
      nextTierRequirement(locale: $locale)
      keepTierRequirement(locale: $locale)
      tier { name(locale: $locale) }
    }
  }
}"""


async def summaries(api: Api, member_id: str, locale: str | None, **headers: str) -> list[str]:
    data = await api.data(ACTIVITY, {"id": member_id, "locale": locale}, headers=headers or None)
    return [edge["node"]["summary"] for edge in data["member"]["activity"]["edges"]]


async def test_activity_is_summarised_in_the_readers_language(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api, order_id="1001", unit_price_minor=1050, quantity=2)
    await grant_points(api, member["id"], 1)
    assert await summaries(api, member["id"], "ru") == [
        "1 балл начислен магазином",
        "21 балл за заказ 1001",
    ]
    assert await summaries(api, member["id"], "ro-RO") == [
        "1 punct adăugat de magazin",
        "21 de puncte pentru comanda 1001",
    ]
    assert await summaries(api, member["id"], None, **{"Accept-Language": "sv-SE,sv;q=0.9"}) == [
        "1 poäng tillagd av butiken",
        "21 poäng för order 1001",
    ]
    # A language Laurel does not ship: English
    assert await summaries(api, member["id"], "de") == [
        "1 point added by the store",
        "21 points for order 1001",
    ]
    # The recorded description is untouched
    data = await api.data(ACTIVITY, {"id": member["id"], "locale": "ru"})
    assert data["member"]["activity"]["edges"][0]["node"]["description"] == "test credit"


async def test_tier_requirements_are_said_with_the_locales_money_and_tier_names(
    api: Api,
) -> None:
    await create_program(api, currency="SEK")
    member = await enroll(api)
    tiers = await api.data(
        TIERS,
        {
            "input": {
                "programSlug": "shop",
                "metric": "MONEY_SPENT",
                "period": "LIFETIME",
                "downgrade": "NEVER",
                "tiers": [
                    {"name": "Silver", "threshold": 1000},
                    {"name": "Gold", "threshold": 150_000},
                ],
            }
        },
    )
    gold = tiers["configureTiers"]["tierProgram"]["tiers"][1]["id"]
    await set_translations(api, translation(gold, "sv", "Guld", kind="TIER"))
    await record_order(api, currency="SEK", unit_price_minor=1250, quantity=2)
    data = await api.data(TIER_STATUS, {"id": member["id"], "locale": "sv-SE"})
    status = data["member"]["tierStatus"]
    assert status["tier"] == {"name": "Silver"}
    assert status["nextTierRequirement"] == "Handla för 1\xa0475,00\xa0kr till för att nå Guld"
    assert status["keepTierRequirement"] is None
    data = await api.data(TIER_STATUS, {"id": member["id"], "locale": "en"})
    assert (
        data["member"]["tierStatus"]["nextTierRequirement"]
        == "Spend SEK1,475.00 more to reach Gold"
    )


async def test_user_error_messages_follow_accept_language_and_codes_stay(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=100)
    variables = {
        "input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r-1"}
    }
    english = await api.data(REDEEM, variables)
    russian = await api.data(REDEEM, variables, headers={"Accept-Language": "ru-RU"})
    swedish = await api.data(REDEEM, variables, headers={"Accept-Language": "de, sv;q=0.5"})
    errors = [payload["redeemReward"]["userErrors"][0] for payload in (english, russian, swedish)]
    assert [error["code"] for error in errors] == ["INSUFFICIENT_POINTS"] * 3
    assert errors[1]["message"] == "Для этого недостаточно баллов."
    assert errors[2]["message"] == "Du har inte tillräckligt med poäng för detta."
    assert errors[0]["message"] not in (errors[1]["message"], errors[2]["message"])
    assert errors[0]["field"] == errors[1]["field"] == errors[2]["field"]
