"""Backtest page: a proposal is started as a job, its progress shown, then the live and proposed
figures side by side, each equal to what the API answers for the same job."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, sign_in

FIGURES = (
    "pointsIssued expectedRedemptions pointsExpired liabilityPoints liabilityMinor pointsPerOrder"
)
JOB = f"""
query($id: ID!) {{
  backtestJob(id: $id) {{
    status ordersDone
    result {{ orders current {{ {FIGURES} membersPerTier {{ name members }} }}
              proposed {{ {FIGURES} membersPerTier {{ name members }} }} }}
  }}
}}"""
TIERS = '{ tierProgram(programSlug: "demo") { tiers { name threshold } } }'
# A cost per point, so the liability is also valued in money (0.40 of a minor unit a point).
COST_PER_POINT = """
mutation {
  updateProgramSettings(input: {programSlug: "demo", costPerPointMinor: "0.40"}) {
    userErrors { code }
  }
}"""
ROWS = {
    "Points issued": "pointsIssued",
    "Expected redemptions": "expectedRedemptions",
    "Points expired": "pointsExpired",
    "Liability at the end (points)": "liabilityPoints",
    "Points per order": "pointsPerOrder",
}


def expected_rows(figures: dict[str, Any]) -> dict[str, float]:
    rows = {name: float(figures[key]) for name, key in ROWS.items()}
    if figures["liabilityMinor"] is not None:
        rows["Liability at the end (money)"] = float(figures["liabilityMinor"])
    for tier in figures["membersPerTier"]:
        rows[f"Members in {tier['name'] or 'no tier'}"] = float(tier["members"])
    return rows


def test_a_backtest_shows_the_api_figures_side_by_side(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    assert api(server, COST_PER_POINT)["updateProgramSettings"]["userErrors"] == []
    go(page, server, "backtest", "Backtest")
    form = page.get_by_role("form", name="Backtest")
    tiers = api(server, TIERS)["tierProgram"]["tiers"]
    form.get_by_label("Points per currency unit").fill("3")
    form.get_by_label("Earning multiplier on every purchase").fill("1.5")
    form.get_by_label("Expiry in days").fill("60")
    if tiers:
        top = tiers[-1]
        form.get_by_label(f"Threshold of {top['name']}").fill(str(top["threshold"] // 2 + 1))
    with page.expect_response(lambda r: "graphql" in r.url and "startBacktest" in r.text()) as sent:
        form.get_by_role("button", name="Start backtest").click()
    job_id = sent.value.json()["data"]["startBacktest"]["backtestJob"]["id"]

    expect(page.get_by_role("status").filter(has_text="Done")).to_be_visible(timeout=TIMEOUT_MS)
    job = api(server, JOB, {"id": job_id})["backtestJob"]
    assert job["status"] == "DONE"
    assert job["result"]["orders"] > 0, "the demo has no order in the last 12 months"
    shown: dict[str, dict[str, float]] = page.evaluate(
        """() => Object.fromEntries(
          [...document.querySelectorAll('table[aria-label="Backtest figures"] tbody tr')]
            .map((row) => [row.dataset.figure, Object.fromEntries(
              [...row.querySelectorAll("td")].map((c) => [c.dataset.side,
                Number(c.dataset.value)]))]))"""
    )
    live = expected_rows(job["result"]["current"])
    proposed = expected_rows(job["result"]["proposed"])
    for name in live.keys() | proposed.keys():
        assert shown[name] == {"live": live.get(name, 0.0), "proposed": proposed.get(name, 0.0)}
    assert set(shown) == live.keys() | proposed.keys()
    assert job["result"]["proposed"] != job["result"]["current"]
    for side in ("current", "proposed"):
        figures = job["result"][side]
        assert figures["liabilityMinor"] == round(figures["liabilityPoints"] * 0.4)
    assert "Liability at the end (money)" in shown
    browser_page.screenshot("done")
    assert browser_page.console_errors == []


RULES = '{ earningRules(programSlug: "demo") { id name kind multiplier points paused } }'
SHOWN_FIGURES = """() => Object.fromEntries(
  [...document.querySelectorAll('table[aria-label="Backtest figures"] tbody tr')]
    .map((row) => [row.dataset.figure, Object.fromEntries(
      [...row.querySelectorAll("td")].map((c) => [c.dataset.side, Number(c.dataset.value)]))]))"""


def test_each_rule_and_tier_threshold_is_proposed_on_its_own(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    go(page, server, "backtest", "Backtest")
    form = page.get_by_role("form", name="Backtest")
    rules = [rule for rule in api(server, RULES)["earningRules"] if not rule["paused"]]
    assert rules, "the demo has no earning rule"
    tiers = api(server, TIERS)["tierProgram"]["tiers"]
    assert tiers, "the demo has no tiers"
    expected_changes = []
    for rule in rules:
        if rule["kind"] == "MULTIPLIER":
            form.get_by_label(f"Multiplier of {rule['name']}").fill("4")
            expected_changes.append({"ruleId": rule["id"], "multiplier": "4"})
        else:
            form.get_by_label(f"Points of {rule['name']}").fill("7")
            expected_changes.append({"ruleId": rule["id"], "points": 7})
    # The top tier moved down to just above the one below it (thresholds must rise strictly).
    top = tiers[-1]
    moved = (tiers[-2]["threshold"] if len(tiers) > 1 else -1) + 1
    form.get_by_label(f"Threshold of {top['name']}").fill(str(moved))
    with page.expect_response(lambda r: "graphql" in r.url and "startBacktest" in r.text()) as sent:
        form.get_by_role("button", name="Start backtest").click()
    sent_body = sent.value.request.post_data_json
    assert sent_body is not None
    proposal = sent_body["variables"]["input"]["proposal"]
    assert proposal["ruleChanges"] == expected_changes
    assert "rules" not in proposal
    assert [tier["threshold"] for tier in proposal["tiers"]] == [
        moved if tier["name"] == top["name"] else tier["threshold"] for tier in tiers
    ]
    job_id = sent.value.json()["data"]["startBacktest"]["backtestJob"]["id"]

    expect(page.get_by_role("status").filter(has_text="Done")).to_be_visible(timeout=TIMEOUT_MS)
    job = api(server, JOB, {"id": job_id})["backtestJob"]
    assert job["status"] == "DONE"
    shown: dict[str, dict[str, float]] = page.evaluate(SHOWN_FIGURES)
    live = expected_rows(job["result"]["current"])
    proposed = expected_rows(job["result"]["proposed"])
    assert set(shown) == live.keys() | proposed.keys()
    for name in live.keys() | proposed.keys():
        assert shown[name] == {"live": live.get(name, 0.0), "proposed": proposed.get(name, 0.0)}
    browser_page.screenshot("rates")
    assert browser_page.console_errors == []
