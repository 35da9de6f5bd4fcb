"""Every page of the console opens with no error, at desktop and at phone width (where nothing
is wider than the screen), and leaves a screenshot of each for a reviewer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import (
    DESKTOP_WIDTH,
    PHONE_WIDTH,
    TIMEOUT_MS,
    fits_the_width,
    go,
    member_id,
    sign_in,
)

PAGES = [
    ("overview", "Overview", 'table[data-chart="Revenue"]'),
    ("members", "Members", 'table[aria-label="Members"] tbody tr'),
    ("member", "Alice Andersson", "table[data-ledger] tbody tr"),
    ("program", "Program", 'tr[data-reward="Free shipping"]'),
    ("audit", "Audit log", 'table[aria-label="Audit log"]'),
    ("events", "Events", 'table[aria-label="Events"] tbody tr'),
]


@pytest.mark.parametrize(("route", "heading", "ready"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_at_desktop_and_phone_width(
    browser_page: BrowserPage, route: str, heading: str, ready: str
) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    if route == "member":
        route = f"members/{member_id(server, 'cust-alice')}"
    for width, label in ((DESKTOP_WIDTH, "desktop"), (PHONE_WIDTH, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        go(page, server, route, heading)
        expect(page.locator(ready).first).to_be_attached(timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        assert fits_the_width(page), f"{route} is wider than {width} px"
        browser_page.screenshot(label, width=width)


def test_the_menu_works_by_keyboard_at_phone_width(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 900})
    menu = page.get_by_role("button", name="Menu")
    expect(page.get_by_role("link", name="Program")).to_be_hidden(timeout=TIMEOUT_MS)

    menu.focus()
    page.keyboard.press("Enter")

    expect(menu).to_have_attribute("aria-expanded", "true", timeout=TIMEOUT_MS)
    page.get_by_role("link", name="Program").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Program")).to_be_visible(timeout=TIMEOUT_MS)
    # The page's heading takes the focus, so a screen reader announces where it landed (after
    # the page has drawn: waited for, not read at once, as a loaded machine draws late).
    page.wait_for_function(
        "document.activeElement !== null && document.activeElement.tagName === 'H1'",
        timeout=TIMEOUT_MS,
    )
