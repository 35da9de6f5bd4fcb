"""The overview draws programInsights: every figure under its charts, and the totals, equal what
the API answers for the same period, channel and segment."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, sign_in

INSIGHTS = """
query($slug: String!, $from: Date!, $to: Date!, $granularity: InsightsGranularity!,
      $channel: OrderChannel, $segment: String) {
  programInsights(programSlug: $slug, from: $from, to: $to, granularity: $granularity,
                  channel: $channel, segment: $segment) {
    series { start orders { memberRevenueMinor guestRevenueMinor memberOrders guestOrders }
             points { earned spent expired outstandingAtEnd pendingAtEnd breakageRate
                      redemptionRate } }
    totals { orders { memberRevenueMinor memberOrders } points { earned spent outstandingAtEnd } }
  }
}"""

Values = Callable[[dict[str, Any]], list[Any]]
CHARTS: dict[str, Values] = {
    "Revenue": lambda p: [p["orders"]["memberRevenueMinor"], p["orders"]["guestRevenueMinor"]],
    "Orders": lambda p: [p["orders"]["memberOrders"], p["orders"]["guestOrders"]],
    "Points": lambda p: [p["points"]["earned"], p["points"]["spent"], p["points"]["expired"]],
    "Liability": lambda p: [p["points"]["outstandingAtEnd"], p["points"]["pendingAtEnd"]],
    "Breakage": lambda p: [p["points"]["breakageRate"], p["points"]["redemptionRate"]],
}


def insights_variables(requests: list[Request]) -> dict[str, Any]:
    """The variables of the last programInsights request the page sent."""
    for request in reversed(requests):
        body = json.loads(request.post_data or "{}")
        variables: dict[str, Any] = body.get("variables") or {}
        if "granularity" in variables:
            return variables
    raise AssertionError("the page asked for no insights")


def figures(page: Page, chart: str) -> dict[str, list[float | None]]:
    rows: dict[str, list[float | None]] = page.evaluate(
        """(chart) => Object.fromEntries(
          [...document.querySelectorAll(`table[data-chart="${chart}"] tbody tr`)].map((row) => [
            row.dataset.start,
            [...row.querySelectorAll("td")].map((cell) =>
              cell.dataset.value === "" ? null : Number(cell.dataset.value)),
          ]))""",
        chart,
    )
    return rows


def shows(page: Page, chart: str, expected: dict[str, list[float | None]]) -> bool:
    """Whether the chart's figures become `expected` (the page renders after its answer)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while figures(page, chart) != expected:
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(100)
    return True


def insights_answer(page: Page) -> Any:
    """Waits for the page's next programInsights answer."""
    return page.expect_response(
        lambda r: r.url.endswith("/graphql") and "granularity" in (r.request.post_data or "")
    )


def check_against_the_api(page: Page, browser_page: BrowserPage, requests: list[Request]) -> None:
    variables = insights_variables(requests)
    answer = api(browser_page.server, INSIGHTS, variables)["programInsights"]
    assert answer["series"], "the period has no data to compare"
    for chart, values in CHARTS.items():
        expected = {period["start"]: values(period) for period in answer["series"]}
        assert shows(page, chart, expected), (chart, figures(page, chart), expected)
    totals = answer["totals"]
    assert page.locator('[data-kpi="memberOrders"] .tile-value').inner_text() == str(
        totals["orders"]["memberOrders"]
    )
    assert page.locator('[data-kpi="earned"] .tile-value').inner_text().replace(",", "") == str(
        totals["points"]["earned"]
    )
    assert page.locator('[data-kpi="liability"] .tile-value').inner_text().replace(",", "") == str(
        totals["points"]["outstandingAtEnd"]
    )


def test_the_charts_figures_equal_the_apis(browser_page: BrowserPage) -> None:
    page = browser_page.page
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/graphql") else None)
    sign_in(browser_page)
    expect(page.locator('table[data-chart="Revenue"] tbody tr').first).to_be_attached(
        timeout=TIMEOUT_MS
    )
    # uPlot drew on a canvas for each chart.
    expect(page.locator(".plot canvas")).to_have_count(5)
    check_against_the_api(page, browser_page, requests)
    # The demo's revenue, in euros in the browser's locale (en-US).
    assert page.locator('[data-kpi="memberRevenue"] .tile-value').inner_text().startswith("€")

    with insights_answer(page):
        page.get_by_label("Period", exact=True).select_option("365")
    expect(page.get_by_label("Group by")).to_have_value("MONTH")
    check_against_the_api(page, browser_page, requests)
    browser_page.screenshot("overview-year")

    with insights_answer(page):
        page.get_by_label("Channel").select_option("WEB")
    assert insights_variables(requests)["channel"] == "WEB"
    # The ledger knows no channels: the points charts go, the order figures stay the API's.
    expect(page.locator('table[data-chart="Points"]')).to_have_count(0)
    variables = insights_variables(requests)
    answer = api(browser_page.server, INSIGHTS, variables)["programInsights"]
    expected = {period["start"]: CHARTS["Orders"](period) for period in answer["series"]}
    assert shows(page, "Orders", expected)
