"""Signing in and out of the console: the key stays in the tab's sessionStorage and in the
Authorization header, never in a URL."""

from __future__ import annotations

from playwright.sync_api import Request, expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import PHONE_WIDTH, TIMEOUT_MS, sign_in

KEY_ITEM = "laurel.console.key"


def test_sign_in_keeps_the_key_in_the_session_and_out_of_every_url(
    browser_page: BrowserPage,
) -> None:
    page = browser_page.page
    server = browser_page.server
    urls: list[str] = []
    authorized: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)
        if request.headers.get("authorization") == f"Bearer {server.admin_key}":
            authorized.append(request.url)

    page.on("request", seen)
    page.goto(f"{server.url}/console")
    expect(page.get_by_role("heading", name="Laurel console")).to_be_visible(timeout=TIMEOUT_MS)
    browser_page.screenshot("sign-in")
    browser_page.screenshot("sign-in-phone", width=PHONE_WIDTH)

    sign_in(browser_page)

    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_ITEM}')") == server.admin_key
    assert page.evaluate("JSON.stringify(localStorage)") == "{}"
    assert authorized and all(url == server.graphql_url for url in authorized)
    assert not [url for url in urls if server.admin_key in url]
    assert server.admin_key not in page.url
    # A reload keeps the session (same tab).
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT_MS)

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_ITEM}')") is None


def test_a_wrong_key_or_a_key_of_another_kind_is_refused(browser_page: BrowserPage) -> None:
    page = browser_page.page
    server = browser_page.server
    page.goto(f"{server.url}/console")
    # The API answers 401 for an unknown key; Chromium logs every 4xx response as a console
    # error, which this test expects, so those lines are taken off the page's error list.
    page.get_by_label("API key").fill("laurel_admin_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid", timeout=TIMEOUT_MS)

    page.get_by_label("API key").fill(server.publishable_key)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("admin key or a staff key")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_ITEM}')") is None
    expected = [e for e in browser_page.console_errors if "401" in e]
    assert len(expected) == 1
    browser_page.console_errors.remove(expected[0])
