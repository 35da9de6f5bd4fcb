"""<laurel-rewards> in Chromium, on the demo program: for a member and for a visitor, redeeming,
switching language, under a hostile store stylesheet, on a store of another origin, at phone
width; a screenshot per language for a reviewer."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Locator, expect

from tests.browser.conftest import BrowserPage
from tests.live_server import LiveServer

CODE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")
WAIT_MS = 20_000

HEADINGS = {
    "en": ("Your points", "Free shipping", "Ways to earn"),
    "sv-SE": ("Dina poäng", "Fri frakt", "Sätt att tjäna poäng"),
    "ro-RO": ("Punctele tale", "Livrare gratuită", "Cum câștigi puncte"),
    "ru-RU": ("Ваши баллы", "Бесплатная доставка", "Как получить баллы"),
}


def member_data(server: LiveServer) -> dict[str, Any]:
    answer = httpx.post(
        server.graphql_url,
        json={"query": "{ me { id points { available } tierStatus { tier { name } } } }"},
        headers=server.member_headers,
    ).json()
    me: dict[str, Any] = answer["data"]["me"]
    return me


def grant(server: LiveServer, member_id: str, points: int) -> None:
    answer = httpx.post(
        server.graphql_url,
        json={
            "query": "mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) {"
            " userErrors { code } } }",
            "variables": {
                "input": {
                    "memberId": member_id,
                    "points": points,
                    "reason": "widget test",
                    "idempotencyKey": f"widget-{uuid.uuid4()}",
                }
            },
        },
        headers=server.admin_headers,
    ).json()
    assert answer["data"]["adjustPoints"]["userErrors"] == []


def open_demo(browser_page: BrowserPage, *, member: bool = True, locale: str = "en") -> Locator:
    server = browser_page.server
    fragment = f"key={server.publishable_key}&locale={locale}"
    if member:
        fragment += f"&token={server.member_token}"
    browser_page.page.goto(f"{server.url}/widget/demo#{fragment}")
    widget = browser_page.page.locator("laurel-rewards")
    expect(widget.locator("h2")).to_be_visible(timeout=WAIT_MS)
    return widget


def section(widget: Locator, name: str) -> Locator:
    return widget.locator(f'[data-section="{name}"]')


def test_renders_a_members_points_tier_rewards_and_ways_to_earn(
    browser_page: BrowserPage,
) -> None:
    me = member_data(browser_page.server)
    widget = open_demo(browser_page)
    expect(widget.locator("h2")).to_have_text("Demo Store Rewards")
    balance = section(widget, "balance")
    expect(balance.locator("[data-points]")).to_have_attribute(
        "data-points", str(me["points"]["available"])
    )
    expect(section(widget, "tier").locator("[data-tier]")).to_have_text(
        me["tierStatus"]["tier"]["name"]
    )
    expect(section(widget, "tier")).to_contain_text("more points to reach Gold")
    expect(section(widget, "rewards")).to_contain_text("Free shipping")
    expect(section(widget, "earn")).to_contain_text("1 point for every €1.00 you spend")
    expect(section(widget, "earn")).to_contain_text("Product review")
    expect(balance).to_contain_text("expire on")
    referral = section(widget, "referral")
    expect(referral.locator("input")).to_have_value(
        re.compile(r"^https://demo-store\.example/invite/\S+$")
    )
    expect(referral.get_by_role("button", name="Copy link")).to_be_visible()
    expect(section(widget, "challenges")).to_contain_text("Five orders")
    expect(section(widget, "challenges")).to_contain_text("3 of 5")
    browser_page.screenshot("member-en")
    browser_page.screenshot("member-phone", width=375)
    # At phone width nothing is wider than the screen
    width = browser_page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375


def test_redeems_with_the_keyboard_and_shows_the_code(browser_page: BrowserPage) -> None:
    server = browser_page.server
    me = member_data(server)
    grant(server, me["id"], 400)
    widget = open_demo(browser_page)
    before = int(me["points"]["available"]) + 400
    expect(section(widget, "balance").locator("[data-points]")).to_have_attribute(
        "data-points", str(before)
    )
    reward = section(widget, "rewards").locator("li", has_text="Free shipping")
    redeem = reward.get_by_role("button", name="Redeem")
    redeem.focus()
    browser_page.page.keyboard.press("Enter")
    shown = reward.locator("[data-code]")
    expect(shown).to_be_visible(timeout=WAIT_MS)
    code = shown.get_attribute("data-code") or ""
    assert CODE.match(code), code
    expect(reward.locator("output")).to_have_text(code)
    # The copy button has the focus, so the keyboard goes on from there
    assert (
        browser_page.page.evaluate(
            "document.querySelector('laurel-rewards').shadowRoot.activeElement.textContent"
        )
        == "Copy"
    )
    expect(section(widget, "balance").locator("[data-points]")).to_have_attribute(
        "data-points", str(before - 300)
    )
    assert member_data(server)["points"]["available"] == before - 300
    # The redemption's own live update (the memberUpdated subscription) leaves the code shown
    browser_page.page.wait_for_timeout(1500)
    expect(reward.locator("output")).to_have_text(code)
    browser_page.screenshot("redeemed")


def test_points_granted_elsewhere_show_without_a_reload(browser_page: BrowserPage) -> None:
    # given the widget open on a member's panel
    server = browser_page.server
    me = member_data(server)
    widget = open_demo(browser_page)
    points = section(widget, "balance").locator("[data-points]")
    expect(points).to_have_attribute("data-points", str(me["points"]["available"]))
    # when the store's back end gives the member points (not through the widget)
    grant(server, me["id"], 125)
    # then the panel shows them, told by the memberUpdated subscription (no reload, no poll)
    expect(points).to_have_attribute(
        "data-points", str(int(me["points"]["available"]) + 125), timeout=WAIT_MS
    )
    assert member_data(server)["points"]["available"] == int(me["points"]["available"]) + 125
    browser_page.screenshot("live-update")


def test_switches_language_with_a_screenshot_per_language(browser_page: BrowserPage) -> None:
    widget = open_demo(browser_page)
    language = browser_page.page.locator("#language")
    for locale, (points, reward, earn) in HEADINGS.items():
        language.select_option(locale)
        expect(section(widget, "balance").locator("h3")).to_have_text(points, timeout=WAIT_MS)
        expect(section(widget, "earn").locator("h3")).to_have_text(earn)
        expect(section(widget, "rewards")).to_contain_text(reward)
        expect(widget).to_have_attribute("lang", locale)
        browser_page.screenshot(f"member-{locale}")
    ru = section(widget, "tier")
    expect(ru.locator("[data-tier]")).to_have_text("Серебро")
    expect(ru).to_contain_text("чтобы получить уровень Золото")


def test_a_visitor_sees_how_it_works_and_a_join_button_in_each_language(
    browser_page: BrowserPage,
) -> None:
    widget = open_demo(browser_page, member=False)
    expect(section(widget, "how")).to_contain_text("Earn a point for every euro")
    expect(widget.get_by_role("button", name="Join now")).to_be_visible()
    expect(section(widget, "catalogue")).to_contain_text("Canvas tote bag")
    browser_page.screenshot("visitor-en")
    language = browser_page.page.locator("#language")
    for locale, button, text in (
        ("sv-SE", "Gå med nu", "Tygkasse i canvas"),
        ("ro-RO", "Înscrie-te acum", "Sacoșă din pânză"),
        ("ru-RU", "Вступить", "Холщовая сумка"),
    ):
        language.select_option(locale)
        expect(widget.get_by_role("button", name=button)).to_be_visible(timeout=WAIT_MS)
        expect(section(widget, "catalogue")).to_contain_text(text)
        browser_page.screenshot(f"visitor-{locale}")
    # Without a join-url the button tells the store's page, which opens its own sign-up
    browser_page.page.evaluate(
        "document.querySelector('laurel-rewards')"
        ".addEventListener('laurel-join', () => { window.joined = true; })"
    )
    widget.get_by_role("button", name="Вступить").press("Enter")
    browser_page.page.wait_for_function("window.joined === true", timeout=WAIT_MS)
