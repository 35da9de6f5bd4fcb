"""Program: translate a reward's name in the console (and the API's message for a bad locale)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, sign_in

REWARD = "Linen apron"
CREATE_REWARD = """mutation($name: String!) {
  createReward(input: {programSlug: "demo", name: $name, kind: FREE_SHIPPING, costPoints: 200,
      idempotencyKey: "browser-translations-apron"}) {
    reward { id } userErrors { message }
  }
}"""
TRANSLATIONS = "query($id: ID!) { translations(kind: REWARD, id: $id) { field locale text } }"
SWEDISH = '{ rewards(programSlug: "demo", includeInactive: true) { id sv: name(locale: "sv") } }'


def new_reward(browser_page: BrowserPage) -> str:
    """A reward of its own, so it has no translation yet (the demo's have some)."""
    created = api(browser_page.server, CREATE_REWARD, {"name": REWARD})["createReward"]
    assert created["userErrors"] == []
    return str(created["reward"]["id"])


def test_add_a_swedish_name_to_a_reward(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    reward = new_reward(browser_page)
    go(page, server, "program", "Program")
    form = page.get_by_role("form", name="Translation")
    page.get_by_label("Thing to translate").select_option(f"REWARD:{reward}")
    expect(page.get_by_text("No translation yet")).to_be_visible(timeout=TIMEOUT_MS)

    # A tag that is no locale: the API's message next to the Locale field, nothing stored.
    form.get_by_label("Locale").fill("not a locale!")
    form.get_by_label("Name").fill("Linneförkläde")
    form.get_by_role("button", name="Save translation").click()
    locale = form.get_by_label("Locale")
    expect(locale).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(form.locator(".field-error")).to_contain_text("is no locale")
    assert api(server, TRANSLATIONS, {"id": reward})["translations"] == []

    locale.fill("sv")
    form.get_by_role("button", name="Save translation").click()
    expect(page.get_by_role("status").filter(has_text=f"{REWARD}: sv saved")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    row = page.locator('tr[data-locale="sv"]')
    expect(row).to_contain_text("Linneförkläde", timeout=TIMEOUT_MS)
    expect(locale).to_have_attribute("aria-invalid", "false")
    assert api(server, TRANSLATIONS, {"id": reward})["translations"] == [
        {"field": "NAME", "locale": "sv", "text": "Linneförkläde"}
    ]
    assert {"id": reward, "sv": "Linneförkläde"} in api(server, SWEDISH)["rewards"]
    browser_page.screenshot("reward-translated")

    # Editing the locale brings its texts back into the form; a description is added to them.
    row.get_by_role("button", name="Edit sv").click()
    expect(form.get_by_label("Name")).to_have_value("Linneförkläde")
    form.get_by_label("Description").fill("Ett förkläde av linne.")
    form.get_by_role("button", name="Save translation").click()
    expect(row).to_contain_text("Ett förkläde av linne.", timeout=TIMEOUT_MS)
    stored = api(server, TRANSLATIONS, {"id": reward})["translations"]
    assert sorted((t["field"], t["text"]) for t in stored) == [
        ("DESCRIPTION", "Ett förkläde av linne."),
        ("NAME", "Linneförkläde"),
    ]
