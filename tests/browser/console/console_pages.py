"""What the console's browser tests share: signing in, waiting for a page, the API beside it."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserPage
from tests.live_server import LiveServer

PHONE_WIDTH = 390
DESKTOP_WIDTH = 1280
TIMEOUT_MS = 15_000


def sign_in(browser_page: BrowserPage, key: str | None = None) -> Page:
    page = browser_page.page
    server = browser_page.server
    page.goto(f"{server.url}/console")
    page.get_by_label("API key").fill(key or server.admin_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT_MS)
    return page


def go(page: Page, server: LiveServer, route: str, heading: str) -> None:
    page.goto(f"{server.url}/console#/{route}")
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible(timeout=TIMEOUT_MS)


def api(
    server: LiveServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    """The API's own answer, as another client would get it (must have no top-level errors)."""
    response = httpx.post(
        server.graphql_url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key or server.admin_key}"},
        timeout=15,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def fits_the_width(page: Page) -> bool:
    """Nothing wider than the viewport: the page needs no sideways scrolling (tables scroll
    inside their own box)."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return int(overflow) <= 1


def member_id(server: LiveServer, customer_id: str) -> str:
    data = api(
        server,
        'query($c: String!) { memberByCustomerId(programSlug: "demo", customerId: $c) { id } }',
        {"c": customer_id},
    )
    return str(data["memberByCustomerId"]["id"])
