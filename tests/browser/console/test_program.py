"""Program: create a reward (with the API's validation message first), pause a rule."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, sign_in

REWARDS = '{ rewards(programSlug: "demo", includeInactive: true) { name costPoints active } }'
ACTION_RULES = '{ actionRules(programSlug: "demo") { name paused } }'


def test_create_a_reward_after_a_validation_message(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    go(page, server, "program", "Program")
    form = page.get_by_role("form", name="New reward")
    page.get_by_text("New reward").click()
    form.get_by_label("Name").fill("Mug")
    form.get_by_label("Kind").select_option("FREE_PRODUCT")
    form.get_by_label("Cost in points").fill("-5")
    form.get_by_label("SKUs (free product, comma-separated)").fill("MUG-1")
    form.get_by_role("button", name="Create reward").click()

    # The API's own message, next to the field it is about; nothing was created.
    cost = form.get_by_label("Cost in points")
    expect(cost).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(form.locator(".field-error")).not_to_have_count(0)
    assert "Mug" not in [r["name"] for r in api(server, REWARDS)["rewards"]]

    cost.fill("750")
    form.get_by_role("button", name="Create reward").click()

    expect(page.get_by_role("status").filter(has_text="Reward “Mug” created")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.locator('tr[data-reward="Mug"]')).to_contain_text("750")
    assert {"name": "Mug", "costPoints": 750, "active": True} in api(server, REWARDS)["rewards"]


def test_pause_and_resume_a_rule(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    go(page, server, "program", "Program")
    row = page.locator('tr[data-rule="Product review"]')
    expect(row).to_contain_text("Active", timeout=TIMEOUT_MS)

    row.get_by_role("button", name="Pause Product review").click()

    expect(row).to_contain_text("Paused", timeout=TIMEOUT_MS)
    assert {"name": "Product review", "paused": True} in api(server, ACTION_RULES)["actionRules"]
    row.get_by_role("button", name="Resume Product review").click()
    expect(row).to_contain_text("Active", timeout=TIMEOUT_MS)
    assert {"name": "Product review", "paused": False} in api(server, ACTION_RULES)["actionRules"]

    campaign = page.locator('tr[data-rule="Double points on accessories this fortnight"]')
    campaign.get_by_role("button", name="Pause Double points").click()
    expect(campaign).to_contain_text("Paused", timeout=TIMEOUT_MS)
