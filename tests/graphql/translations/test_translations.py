"""Translations of configured texts: set by admins, read in the locale asked for, with the
fallbacks sv-SE -> sv -> the program's default locale -> the text as configured."""

from __future__ import annotations

from typing import Any

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.core.test_hardening import audit_entries
from tests.graphql.factories import create_program, create_reward, program_key
from tests.graphql.helpers import codes, rows, top_level_codes
from tests.graphql.test_query_counts import counting_statements

SET = """
mutation($input: SetTranslationsInput!) {
  setTranslations(input: $input) {
    translations { kind entityId field locale text }
    userErrors { field message code }
  }
}"""

REWARDS = """
query($locale: String) {
  rewards(programSlug: "shop") { name(locale: $locale) description(locale: $locale) }
}"""

PROGRAM = """
query($locale: String) {
  program(slug: "shop") { name(locale: $locale) description(locale: $locale) defaultLocale }
}"""

SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) {
    program { defaultLocale }
    userErrors { field message code }
  }
}"""

TIERS = """
mutation($input: ConfigureTiersInput!) {
  configureTiers(input: $input) {
    tierProgram { tiers { id name } }
    userErrors { field message code }
  }
}"""

TIER_PROGRAM = """
query($locale: String) {
  tierProgram(programSlug: "shop") { tiers { name(locale: $locale) perks(locale: $locale) } }
}"""


def translation(
    entity_id: str, locale: str, text: str | None, field: str = "NAME", kind: str = "REWARD"
) -> dict[str, Any]:
    return {"kind": kind, "id": entity_id, "field": field, "locale": locale, "text": text}


async def set_translations(
    api: Api, *translations: dict[str, Any], key: str | None = None, slug: str = "shop"
) -> dict[str, Any]:
    data = await api.data(
        SET, {"input": {"programSlug": slug, "translations": list(translations)}}, key=key
    )
    payload: dict[str, Any] = data["setTranslations"]
    return payload


async def reward_names(api: Api, locale: str | None, **headers: str) -> list[str]:
    data = await api.data(REWARDS, {"locale": locale}, headers=headers or None)
    return [reward["name"] for reward in data["rewards"]]


async def test_a_reward_is_read_in_the_locale_asked_for_with_fallbacks(api: Api) -> None:
    # Given a reward named in English with Swedish, Finland-Swedish and Russian names
    await create_program(api)
    reward = await create_reward(api, name="Tote bag")
    payload = await set_translations(
        api,
        translation(reward["id"], "sv", "Tygpåse"),
        translation(reward["id"], "sv-fi", "Kasse"),
        translation(reward["id"], "ru", "Сумка"),
        translation(reward["id"], "sv", "Tygkasse", field="DESCRIPTION"),
    )
    assert payload["userErrors"] == []
    assert [t["locale"] for t in payload["translations"]] == ["sv", "sv-FI", "ru", "sv"]
    # Then each locale gets its own, a region its language's, others the configured text
    assert await reward_names(api, "sv-SE") == ["Tygpåse"]
    assert await reward_names(api, "sv-FI") == ["Kasse"]
    assert await reward_names(api, "ru-RU") == ["Сумка"]
    assert await reward_names(api, "ro") == ["Tote bag"]
    assert await reward_names(api, None) == ["Tote bag"]
    data = await api.data(REWARDS, {"locale": "sv-SE"})
    assert data["rewards"][0]["description"] == "Tygkasse"
    data = await api.data(REWARDS, {"locale": "ru"})
    assert data["rewards"][0]["description"] == ""


async def test_accept_language_is_honoured_when_no_locale_is_given(api: Api) -> None:
    await create_program(api)
    reward = await create_reward(api, name="Tote bag")
    await set_translations(
        api, translation(reward["id"], "ro", "Sacoșă"), translation(reward["id"], "ru", "Сумка")
    )
    header = {"Accept-Language": "de-DE, ru;q=0.8, ro;q=0.9"}
    assert await reward_names(api, None, **header) == ["Sacoșă"]
    # A locale argument wins over the header
    data = await api.data(REWARDS, {"locale": "ru"}, headers=header)
    assert data["rewards"][0]["name"] == "Сумка"
    # A malformed header is no error: it is skipped
    assert await reward_names(api, None, **{"Accept-Language": "%%%, ;q=x"}) == ["Tote bag"]


async def test_the_program_default_locale_is_the_last_fallback(api: Api) -> None:
    await create_program(api)
    reward = await create_reward(api, name="Tygpåse")
    changed = await api.data(SETTINGS, {"input": {"programSlug": "shop", "defaultLocale": "SV"}})
    assert changed["updateProgramSettings"]["program"]["defaultLocale"] == "sv"
    await set_translations(
        api,
        translation(reward["id"], "en", "Tote bag"),
        translation(reward["id"], "sv", "Tygpåse med logga"),
    )
    # German is not there: the default (sv) translation, not the configured text
    assert await reward_names(api, "de") == ["Tygpåse med logga"]
    assert await reward_names(api, "en-GB") == ["Tote bag"]
    # Removing it brings the configured text back
    await set_translations(api, translation(reward["id"], "sv", None))
    assert await reward_names(api, "de") == ["Tygpåse"]
    refused = await api.data(
        SETTINGS, {"input": {"programSlug": "shop", "defaultLocale": "swedish!"}}
    )
    assert codes(refused["updateProgramSettings"]["userErrors"]) == ["INVALID_LOCALE"]


async def test_the_program_and_tiers_are_translated_too(api: Api) -> None:
    program = await create_program(api)
    tiers = await api.data(
        TIERS,
        {
            "input": {
                "programSlug": "shop",
                "metric": "POINTS_EARNED",
                "period": "LIFETIME",
                "downgrade": "NEVER",
                "tiers": [{"name": "Silver", "threshold": 100, "perks": ["Free shipping", "Gift"]}],
            }
        },
    )
    silver = tiers["configureTiers"]["tierProgram"]["tiers"][0]["id"]
    payload = await set_translations(
        api,
        translation(program["id"], "en", "Collect points, get rewards.", "DESCRIPTION", "PROGRAM"),
        translation(program["id"], "ru", "Копите баллы.", "DESCRIPTION", "PROGRAM"),
        translation(program["id"], "ru", "Бонусы", "NAME", "PROGRAM"),
        translation(silver, "ru", "Серебро", "NAME", "TIER"),
        translation(silver, "ru", "Бесплатная доставка\n\n Подарок ", "PERKS", "TIER"),
    )
    assert payload["userErrors"] == []
    data = await api.data(PROGRAM, {"locale": "ru-RU"})
    assert data["program"] == {
        "name": "Бонусы",
        "description": "Копите баллы.",
        "defaultLocale": "en",
    }
    data = await api.data(PROGRAM, {"locale": "sv"})
    assert data["program"]["name"] == "shop rewards"
    assert data["program"]["description"] == "Collect points, get rewards."
    data = await api.data(TIER_PROGRAM, {"locale": "ru"})
    assert data["tierProgram"]["tiers"] == [
        {"name": "Серебро", "perks": ["Бесплатная доставка", "Подарок"]}
    ]
    data = await api.data(TIER_PROGRAM, {"locale": "sv"})
    assert data["tierProgram"]["tiers"] == [{"name": "Silver", "perks": ["Free shipping", "Gift"]}]


async def test_a_malformed_locale_is_a_coded_error_not_a_500(api: Api) -> None:
    await create_program(api)
    await create_reward(api)
    response = await api.post(REWARDS, {"locale": "not a locale"})
    assert response.status_code == 200
    body = response.json()
    assert top_level_codes(body) == ["INVALID_LOCALE"]
    assert "is no locale" in body["errors"][0]["message"]


async def test_bad_translations_are_refused_together_and_nothing_is_written(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    reward = await create_reward(api)
    foreign = await create_reward(api, program_slug="other")
    payload = await set_translations(
        api,
        translation(reward["id"], "sv", "Tygpåse"),
        translation(reward["id"], "xx-yyyyy", "?"),
        translation(reward["id"], "sv", "Perks", field="PERKS"),
        translation(reward["id"], "sv", "   "),
        translation(reward["id"], "sv", "x" * 201),
    )
    assert codes(payload["userErrors"]) == [
        "INVALID_LOCALE",
        "INVALID_VALUE",
        "REQUIRED",
        "TOO_LONG",
    ]
    assert payload["userErrors"][0]["field"] == [
        "input",
        "translations",
        "1",
        "locale",
    ]
    payload = await set_translations(api, translation(foreign["id"], "sv", "Tygpåse"))
    assert codes(payload["userErrors"]) == ["REWARD_NOT_FOUND"]
    payload = await set_translations(api, translation("bm9wZQ", "sv", "Tygpåse"))
    assert codes(payload["userErrors"]) == ["INVALID_ID"]
    assert await rows("SELECT id FROM translations") == []


READ = """
query($id: ID!) { translations(kind: REWARD, id: $id) { kind entityId field locale text } }"""


async def test_only_admins_set_and_read_translations_and_each_change_is_audit_logged(
    api: Api,
) -> None:
    await create_program(api)
    reward = await create_reward(api)
    secret = await program_key("shop", KeyKind.SECRET)
    refused = await set_translations(api, translation(reward["id"], "sv", "Tygpåse"), key=secret)
    assert codes(refused["userErrors"]) == ["FORBIDDEN"]
    await set_translations(
        api,
        translation(reward["id"], "sv", "Tygpåse"),
        translation(reward["id"], "ru", "Сумка", field="DESCRIPTION"),
    )
    data = await api.data(READ, {"id": reward["id"]})
    assert data["translations"] == [
        {
            "kind": "REWARD",
            "entityId": reward["id"],
            "field": "DESCRIPTION",
            "locale": "ru",
            "text": "Сумка",
        },
        {
            "kind": "REWARD",
            "entityId": reward["id"],
            "field": "NAME",
            "locale": "sv",
            "text": "Tygpåse",
        },
    ]
    assert top_level_codes(await api.gql(READ, {"id": reward["id"]}, key=secret)) == ["FORBIDDEN"]
    entries = [e for e in await audit_entries(api) if e["operation"] == "setTranslations"]
    assert [e["succeeded"] for e in entries] == [True]
    assert "Tygpåse" in str(entries[0]["input"])


async def test_a_page_of_rewards_reads_its_translations_in_one_statement(api: Api) -> None:
    await create_program(api)
    for index in range(10):
        reward = await create_reward(api, name=f"Reward {index}")
        await set_translations(api, translation(reward["id"], "sv", f"Belöning {index}"))
    api.check_plans = False
    with counting_statements() as plain:
        await api.data('query { rewards(programSlug: "shop") { id costPoints } }')
    with counting_statements() as translated:
        names = await reward_names(api, "sv-SE")
    assert names == [f"Belöning {index}" for index in range(10)]
    # name and description of ten rewards: one statement more than none of them
    assert translated.statements == plain.statements + 1
