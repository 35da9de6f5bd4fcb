"""GraphiQL, served by Laurel with vendored assets, works in a real browser with no internet."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage


def test_graphiql_loads_offline_and_runs_a_query(browser_page: BrowserPage) -> None:
    page = browser_page.page
    server = browser_page.server
    page.goto(f"{server.url}/graphiql#key={server.admin_key}")
    expect(page.locator(".graphiql-container")).to_be_visible(timeout=15_000)
    # The key leaves the address bar as soon as the page has read it.
    assert server.admin_key not in page.url
    page.locator(".graphiql-query-editor .CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('{ program(slug: "demo") { slug } }')
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"slug": "demo"', timeout=15_000)
    browser_page.screenshot("query")
    assert browser_page.screenshots[0].stat().st_size > 0
