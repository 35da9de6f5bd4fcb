"""The member page's webhook deliveries (listed as the API lists them, a confirmed resend that
the worker acts on) and its figures in the program's locale, currency and time zone.

The module runs its own Laurel, which lets webhooks reach a receiver on 127.0.0.1 (the
operator's allowance for private addresses) and whose demo program may change its locale
without touching the other modules' pages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, member_id, sign_in
from tests.graphql.factories import ENROLL
from tests.live_server import LiveServer, live_server
from tests.webhooks.receiver import Receiver, receiver

CREATE_ENDPOINT = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } userErrors { code message } }
}"""
DELIVERIES = """query($id: ID!) {
  memberWebhookDeliveries(memberId: $id, first: 50) {
    edges { node { id status attempts lastStatusCode } }
  }
}"""
SETTINGS = """mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) { userErrors { code message } }
}"""
MEMBER = """query($id: ID!) {
  member(id: $id) { enrolledAt storeCredit { balanceMinor currency } }
  program(slug: "demo") { timeZone }
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("member-page"), webhooks_allow_private=True
    ) as running:
        yield running


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def deliveries(server: LiveServer, member: str) -> list[dict[str, Any]]:
    edges = api(server, DELIVERIES, {"id": member})["memberWebhookDeliveries"]["edges"]
    return [edge["node"] for edge in edges]


def until(check: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def shown_statuses(page: Page) -> dict[str, str]:
    rows: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("tr[data-delivery]")]
          .map((row) => [row.dataset.delivery, row.dataset.status]))"""
    )
    return rows


def test_a_members_deliveries_and_a_resend_that_changes_one(
    browser_page: BrowserPage, hook: Receiver
) -> None:
    server = browser_page.server
    # The first request succeeds, every later one fails: a resend shows as a new failure.
    hook.answer = lambda n, request: 204 if n == 0 else 500
    created = api(
        server,
        CREATE_ENDPOINT,
        {
            "input": {
                "programSlug": "demo",
                "url": hook.url,
                "eventTypes": ["member.enrolled"],
                "description": "CRM",
            }
        },
    )
    assert created["createWebhookEndpoint"]["userErrors"] == []
    enrolled = api(server, ENROLL, {"input": {"programSlug": "demo", "customerId": "cust-hooked"}})
    assert enrolled["enrollMember"]["userErrors"] == []
    member = member_id(server, "cust-hooked")
    until(lambda: [d["status"] for d in deliveries(server, member)] == ["SUCCEEDED"], "delivery")
    [delivered] = deliveries(server, member)

    page = sign_in(browser_page)
    go(page, server, f"members/{member}", "cust-hooked")
    table = page.get_by_role("table", name="Webhook deliveries")
    expect(table.locator("tbody tr")).to_have_count(1, timeout=TIMEOUT_MS)
    assert shown_statuses(page) == {delivered["id"]: "SUCCEEDED"}
    expect(table).to_contain_text("member.enrolled")
    expect(table).to_contain_text("CRM")
    expect(table).to_contain_text("HTTP 204")
    browser_page.screenshot("deliveries")

    table.get_by_role("button", name="Resend member.enrolled").click()
    dialog = page.get_by_role("dialog", name="Resend this delivery?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Resend", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="queued to be sent again")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    # The worker sends it again at once; the receiver now answers 500 and a retry is due.
    until(lambda: deliveries(server, member)[0]["lastStatusCode"] == 500, "the new attempt")
    [again] = deliveries(server, member)
    assert again["status"] == "PENDING"
    assert len(hook.received) >= 2
    assert len(set(hook.ids())) == 1, "the same delivery, sent again"

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while "HTTP 500" not in table.inner_text() and time.monotonic() < deadline:
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_timeout(300)
    expect(table).to_contain_text("HTTP 500")
    assert shown_statuses(page) == {delivered["id"]: "PENDING"}
    browser_page.screenshot("deliveries-resent")


def intl(page: Page, script: str, *args: Any) -> str:
    """What the browser's own Intl makes of `args` (the expectation, independent of the page)."""
    text: str = page.evaluate(script, list(args))
    return text


def test_figures_follow_the_programs_locale_currency_and_time_zone(
    browser_page: BrowserPage,
) -> None:
    server = browser_page.server
    alice = member_id(server, "cust-alice")
    known = api(server, MEMBER, {"id": alice})
    credit = known["member"]["storeCredit"]
    enrolled_at = known["member"]["enrolledAt"]
    time_zone = known["program"]["timeZone"]
    done = api(server, SETTINGS, {"input": {"programSlug": "demo", "defaultLocale": "sv-SE"}})
    assert done["updateProgramSettings"]["userErrors"] == []
    try:
        page = sign_in(browser_page)
        go(page, server, f"members/{alice}", "Alice Andersson")
        money_script = """([locale, minor, currency]) => new Intl.NumberFormat(locale,
          { style: "currency", currency }).format(minor / 100)"""
        date_script = """([locale, iso, timeZone]) => new Intl.DateTimeFormat(locale,
          { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso))"""
        swedish_credit = intl(page, money_script, "sv-SE", credit["balanceMinor"], "EUR")
        american_credit = intl(page, money_script, "en-US", credit["balanceMinor"], "EUR")
        assert swedish_credit != american_credit
        tiles = page.get_by_role("region", name="Points", exact=True)
        expect(tiles).to_contain_text(swedish_credit, timeout=TIMEOUT_MS)
        assert american_credit not in tiles.inner_text()
        # The enrolment time, in Swedish and in the program's time zone (the browser's is UTC).
        swedish_date = intl(page, date_script, "sv-SE", enrolled_at, time_zone)
        assert swedish_date != intl(page, date_script, "en-US", enrolled_at, time_zone)
        expect(page.locator(".subtitle")).to_contain_text(swedish_date)
        browser_page.screenshot("member-sv-SE")
    finally:
        api(server, SETTINGS, {"input": {"programSlug": "demo", "defaultLocale": "en"}})
