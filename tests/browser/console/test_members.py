"""Members: search, a member's page with the explanation of an order's points, and an
adjustment that the ledger shows at once and the audit log records."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, member_id, sign_in

POINTS = """query($id: ID!) { member(id: $id) {
  points { available }
  activity(first: 1) { edges { node { kind points description } } }
} }"""


def test_search_a_member_and_read_why_an_order_earned_what_it_did(
    browser_page: BrowserPage,
) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    go(page, server, "members", "Members")
    members = page.get_by_role("table", name="Members")
    expect(members.get_by_role("row")).to_have_count(4, timeout=TIMEOUT_MS)  # header + 3

    page.get_by_label("Search").fill("alice")
    page.get_by_role("button", name="Search").click()

    expect(members.get_by_role("row")).to_have_count(2, timeout=TIMEOUT_MS)
    members.get_by_role("link", name="Alice Andersson").click()
    expect(page.get_by_role("heading", level=1, name="Alice Andersson")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    alice = api(
        server,
        "query($id: ID!) { member(id: $id) { points { available pending } } }",
        {"id": member_id(server, "cust-alice")},
    )["member"]
    assert page.locator('[data-kpi="available"] .tile-value').inner_text().replace(",", "") == str(
        alice["points"]["available"]
    )
    assert page.locator('[data-kpi="pending"] .tile-value').inner_text().replace(",", "") == str(
        alice["points"]["pending"]
    )
    order = api(
        server,
        'query { order(programSlug: "demo", orderId: "cust-alice-order-2") {'
        " pointsEarned earning { baseMinor lines { sku points } } } }",
    )["order"]

    page.get_by_role("button", name=f"Why {order['pointsEarned']} points?").first.click()

    explanation = page.locator(".explanation").first
    expect(explanation).to_contain_text("cust-alice-order-2", timeout=TIMEOUT_MS)
    expect(explanation).to_contain_text(f"earned {order['pointsEarned']} points")
    line = order["earning"]["lines"][0]
    expect(explanation).to_contain_text(f"{line['sku']}")
    expect(explanation).to_contain_text(f"{line['points']} points")
    # Alice redeemed a reward in the demo: its code is listed with a way to cancel it.
    expect(page.get_by_role("table", name="Redemptions")).to_contain_text("5 EUR off")
    browser_page.screenshot("member")


def test_adjust_points_and_see_the_ledger_and_the_audit_log_change(
    browser_page: BrowserPage,
) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    bogdan = member_id(server, "cust-bogdan")
    before = api(server, POINTS, {"id": bogdan})["member"]["points"]["available"]
    go(page, server, f"members/{bogdan}", "Bogdan Popescu")

    page.get_by_label("Points (negative to debit)").fill("25")
    page.get_by_label("Internal note (staff only)").fill("parcel arrived late")
    page.get_by_label("Text the member sees").fill("Sorry about the delay")
    page.get_by_role("button", name="Adjust…").click()
    dialog = page.get_by_role("dialog", name="Adjust points?")
    expect(dialog).to_contain_text("Credit 25 points to Bogdan Popescu")
    dialog.get_by_role("button", name="Adjust").click()

    expect(page.get_by_role("status").filter(has_text="Adjusted by +25 points")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    ledger = page.locator("table[data-ledger] tbody tr").first
    expect(ledger).to_contain_text("Sorry about the delay", timeout=TIMEOUT_MS)
    expect(ledger).to_contain_text("+25")
    after = api(server, POINTS, {"id": bogdan})["member"]
    assert after["points"]["available"] == before + 25
    assert after["activity"]["edges"][0]["node"] == {
        "kind": "ADJUST",
        "points": 25,
        "description": "Sorry about the delay",
    }
    assert page.locator('[data-kpi="available"] .tile-value').inner_text().replace(",", "") == str(
        before + 25
    )

    go(page, server, "audit", "Audit log")
    page.get_by_label("Operation").fill("adjustPoints")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-operation]").first).to_have_attribute(
        "data-operation", "adjustPoints", timeout=TIMEOUT_MS
    )
    assert set(
        page.locator("tr[data-operation]").evaluate_all(
            "rows => rows.map((row) => row.dataset.operation)"
        )
    ) == {"adjustPoints"}
    entry = page.locator('tr[data-operation="adjustPoints"]').first
    expect(entry).to_contain_text("Succeeded", timeout=TIMEOUT_MS)
    entry.locator("summary").click()
    expect(entry).to_contain_text("parcel arrived late")


def test_cancel_a_redemption_and_get_its_points_back(browser_page: BrowserPage) -> None:
    page = sign_in(browser_page)
    server = browser_page.server
    alice = member_id(server, "cust-alice")
    before = api(server, POINTS, {"id": alice})["member"]["points"]["available"]
    go(page, server, f"members/{alice}", "Alice Andersson")
    redemptions = page.get_by_role("table", name="Redemptions")
    expect(redemptions).to_contain_text("Issued", timeout=TIMEOUT_MS)

    redemptions.get_by_role("button", name="Cancel…").click()
    dialog = page.get_by_role("dialog", name="Cancel this redemption?")
    expect(dialog).to_contain_text("500 points go back")
    dialog.get_by_role("button", name="Cancel redemption").click()

    expect(redemptions).to_contain_text("Cancelled", timeout=TIMEOUT_MS)
    expect(redemptions.get_by_role("button", name="Cancel…")).to_have_count(0)
    assert api(server, POINTS, {"id": alice})["member"]["points"]["available"] == before + 500
    expect(page.locator('[data-kpi="available"] .tile-value')).to_have_text(f"{before + 500:,}")
