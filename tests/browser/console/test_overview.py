"""The overview draws programInsights: every figure under its charts, and the totals, equal what
the API answers for the same period, channel and segment; the cohort heat map's cells and
figures equal programCohorts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, sign_in
from tests.graphql.factories import ENROLL, RECORD_ORDER, order_input

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


COHORTS = """
query($slug: String!, $from: Date!, $to: Date!, $months: Int!) {
  programCohorts(programSlug: $slug, from: $from, to: $to, months: $months) {
    timeZone
    cohorts { month members months { offset month activeMembers retention } }
  }
}"""


def cohort_months(request: Request) -> int:
    """How many enrolment months a programCohorts request asks for; 0 for any other request."""
    variables = json.loads(request.post_data or "{}").get("variables") or {}
    if "months" not in variables:
        return 0
    first, last = date.fromisoformat(variables["from"]), date.fromisoformat(variables["to"])
    return (last.year - first.year) * 12 + last.month - first.month + 1


def cohort_variables(requests: list[Request]) -> dict[str, Any]:
    """The variables of the last programCohorts request the page sent."""
    for request in reversed(requests):
        variables: dict[str, Any] = json.loads(request.post_data or "{}").get("variables") or {}
        if "months" in variables:
            return variables
    raise AssertionError("the page asked for no cohorts")


def cells(page: Page, table: str) -> dict[str, list[float | None]]:
    rows: dict[str, list[float | None]] = page.evaluate(
        """(table) => Object.fromEntries(
          [...document.querySelectorAll(`table[${table}] tbody tr`)].map((row) => [
            row.dataset.cohort,
            [...row.querySelectorAll("td[data-offset]")].map((cell) =>
              cell.dataset.value === "" ? null : Number(cell.dataset.value)),
          ]))""",
        table,
    )
    return rows


def contrast_ratios(page: Page) -> list[float]:
    """WCAG contrast of each coloured cell's text on its background, as the browser drew it."""
    ratios: list[float] = page.evaluate(
        """() => {
          const channel = (c) => { const s = c / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
          const luminance = (css) => { const [r, g, b] = css.match(/\\d+/g).map(Number);
            return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
          return [...document.querySelectorAll(
            'table[data-heatmap] td[data-offset]:not([data-value=""])')].map((cell) => {
            const style = getComputedStyle(cell);
            const [a, b] = [luminance(style.color), luminance(style.backgroundColor)];
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
          });
        }"""
    )
    return ratios


def test_the_cohort_heat_map_equals_the_apis_cohorts(browser_page: BrowserPage) -> None:
    # The demo's orders are older than its members: two members of this month, one ordering,
    # give the heat map a share that is neither 0 nor the whole cohort.
    server = browser_page.server
    for customer in ("cust-cohort-1", "cust-cohort-2"):
        enrolled = api(server, ENROLL, {"input": {"programSlug": "demo", "customerId": customer}})
        assert enrolled["enrollMember"]["userErrors"] == []
    ordered = api(
        server,
        RECORD_ORDER,
        {
            "input": order_input(
                "cohort-order",
                "cust-cohort-1",
                program_slug="demo",
                placedAt=datetime.now(UTC).isoformat(),
            )
        },
    )
    assert ordered["recordOrder"]["userErrors"] == []
    page = browser_page.page
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if r.url.endswith("/graphql") else None)
    sign_in(browser_page)
    # The year's answer, not the default period's, which may still be on its way.
    with page.expect_response(
        lambda r: r.url.endswith("/graphql") and cohort_months(r.request) >= 12
    ):
        page.get_by_label("Period", exact=True).select_option("365")
    heatmap = page.locator("table[data-heatmap]")
    expect(heatmap.locator("tbody tr").first).to_be_attached(timeout=TIMEOUT_MS)
    variables = cohort_variables(requests)
    answer = api(browser_page.server, COHORTS, variables)["programCohorts"]
    this_month = datetime.now(ZoneInfo(answer["timeZone"])).date().replace(day=1).isoformat()

    def expected(value: Callable[[dict[str, Any]], Any]) -> dict[str, list[Any]]:
        # Months still to come have no figure on the page.
        return {
            cohort["month"]: [
                value(m) if m["month"] <= this_month else None for m in cohort["months"]
            ]
            for cohort in answer["cohorts"]
        }

    retention = expected(lambda m: m["retention"])
    assert len(retention) >= 12, "a year of enrolment months"
    assert any(0 < v < 1 for values in retention.values() for v in values if v), "a share"
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while cells(page, "data-heatmap") != retention and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert cells(page, "data-heatmap") == retention
    assert cells(page, "data-cohort-figures") == expected(lambda m: m["activeMembers"])
    members = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(
          "table[data-cohort-figures] tbody tr")].map((r) => [r.dataset.cohort,
          Number(r.dataset.members)]))"""
    )
    assert members == {c["month"]: c["members"] for c in answer["cohorts"]}
    # A real table: column headers for the months, a row header per enrolment month, and each
    # coloured cell's value written in it as a percentage.
    assert heatmap.locator("thead th[scope=col]").count() == 2 + variables["months"]
    assert heatmap.locator("tbody th[scope=row]").count() == len(retention)
    coloured = heatmap.locator('td[data-offset]:not([data-value=""])')
    assert coloured.count() > 0
    assert coloured.first.inner_text().strip().endswith("%")
    ratios = contrast_ratios(page)
    assert ratios and min(ratios) >= 4.5, min(ratios)
    heatmap.scroll_into_view_if_needed()
    browser_page.screenshot("cohort-heat-map")
