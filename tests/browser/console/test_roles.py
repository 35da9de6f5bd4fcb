"""Roles are the API's: a key whose role may not adjust points gets the API's refusal in the
page, and the same request forged outside the page is refused too; a support key adjusts only
within its limit."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, member_id, sign_in
from tests.live_server import SUPPORT_POINTS_LIMIT

ADJUST = """mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) { member { id } userErrors { field code message } }
}"""
CREATE_REWARD = """mutation($input: CreateRewardInput!) {
  createReward(input: $input) { reward { id } userErrors { code } }
}"""
AVAILABLE = "query($id: ID!) { member(id: $id) { points { available } } }"


def adjust(page_member: str, points: int, key: str, server_url: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server_url}/graphql",
        json={
            "query": ADJUST,
            "variables": {
                "input": {
                    "memberId": page_member,
                    "points": points,
                    "reason": "forged",
                    "idempotencyKey": str(uuid.uuid4()),
                }
            },
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
    )
    payload: dict[str, Any] = response.json()["data"]["adjustPoints"]
    return payload


def test_marketing_cannot_adjust_points_in_the_page_nor_by_a_forged_request(
    browser_page: BrowserPage,
) -> None:
    server = browser_page.server
    marketing = server.staff_keys["marketing"]
    katya = member_id(server, "cust-katya")
    before = api(server, AVAILABLE, {"id": katya})["member"]["points"]["available"]
    page = sign_in(browser_page, marketing)
    expect(page.locator(".role")).to_have_text("Marketing")
    go(page, server, f"members/{katya}", "Katya Ivanova")

    page.get_by_label("Points (negative to debit)").fill("10")
    page.get_by_label("Internal note (staff only)").fill("trying")
    page.get_by_role("button", name="Adjust…").click()
    page.get_by_role("dialog").get_by_role("button", name="Adjust").click()

    expect(page.get_by_role("alert")).to_contain_text("FORBIDDEN", timeout=TIMEOUT_MS)
    browser_page.screenshot("marketing-refused")
    forged = adjust(katya, 10, marketing, server.url)
    assert forged["member"] is None
    assert [e["code"] for e in forged["userErrors"]] == ["FORBIDDEN"]
    assert api(server, AVAILABLE, {"id": katya})["member"]["points"]["available"] == before


def test_support_adjusts_within_its_limit_and_may_not_change_the_program(
    browser_page: BrowserPage,
) -> None:
    server = browser_page.server
    support = server.staff_keys["support"]
    katya = member_id(server, "cust-katya")
    before = api(server, AVAILABLE, {"id": katya})["member"]["points"]["available"]
    page = sign_in(browser_page, support)
    go(page, server, f"members/{katya}", "Katya Ivanova")
    expect(page.get_by_text(f"Your role may move at most {SUPPORT_POINTS_LIMIT}.")).to_be_visible()

    page.get_by_label("Points (negative to debit)").fill(str(SUPPORT_POINTS_LIMIT + 1))
    page.get_by_label("Internal note (staff only)").fill("too much")
    page.get_by_role("button", name="Adjust…").click()
    page.get_by_role("dialog").get_by_role("button", name="Adjust").click()

    expect(page.get_by_text(f"may adjust at most {SUPPORT_POINTS_LIMIT} points")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert api(server, AVAILABLE, {"id": katya})["member"]["points"]["available"] == before
    page.get_by_label("Points (negative to debit)").fill(str(SUPPORT_POINTS_LIMIT))
    page.get_by_role("button", name="Adjust…").click()
    page.get_by_role("dialog").get_by_role("button", name="Adjust").click()
    expect(page.get_by_role("status").filter(has_text="Adjusted by")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert (
        api(server, AVAILABLE, {"id": katya})["member"]["points"]["available"]
        == before + SUPPORT_POINTS_LIMIT
    )
    # A program change, forged with the support key, is refused by the API.
    forged = httpx.post(
        server.graphql_url,
        json={
            "query": CREATE_REWARD,
            "variables": {
                "input": {
                    "programSlug": "demo",
                    "name": "Forged",
                    "kind": "FREE_SHIPPING",
                    "costPoints": 1,
                }
            },
        },
        headers={"Authorization": f"Bearer {support}"},
        timeout=15,
    ).json()["data"]["createReward"]
    assert forged == {"reward": None, "userErrors": [{"code": "FORBIDDEN"}]}
