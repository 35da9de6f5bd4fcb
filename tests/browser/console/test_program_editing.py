"""Program: editing the configuration in the page, checked through the API, with the API's own
validation messages beside the fields, and a read_only key refused by the API whatever the
page or a forged request sends."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import BrowserPage
from tests.browser.console.console_pages import TIMEOUT_MS, api, go, sign_in
from tests.live_server import LiveServer

REWARDS = """{ rewards(programSlug: "demo", includeInactive: true) {
  id name costPoints stock perMemberLimit active } }"""
ACTION_RULES = """{ actionRules(programSlug: "demo") {
  name action qualifier points frequency frequencyLimit capPoints paused } }"""
TIERS = """{ tierProgram(programSlug: "demo") { metric period downgrade
  tiers { name threshold earnMultiplier rewardDiscountPercent perks } } }"""
EXPIRY = """{ program(slug: "demo") {
  expiry { policy lifetime lifetimeUnit roundTo inactivityMonths warningDays } } }"""
SETTINGS = '{ program(slug: "demo") { name pendingDays retroCreditDays } }'
REFERRALS = """{ referralSettings(programSlug: "demo") {
  enabled referrer { points trigger } friend { points trigger } } }"""
PUNCH_CARDS = """{ punchCards(programSlug: "demo", includeRetired: true) {
  name punchesNeeded skus active paused reward { name } } }"""
EARNING_RULES = '{ earningRules(programSlug: "demo") { name multiplier startsAt endsAt } }'
CAMPAIGN = "Double points on accessories this fortnight"


def reward(server: LiveServer, name: str) -> dict[str, Any]:
    rewards = api(server, REWARDS)["rewards"]
    found: dict[str, Any] = next(r for r in rewards if r["name"] == name)
    return found


def open_program(browser_page: BrowserPage, key: str | None = None) -> Page:
    page = sign_in(browser_page, key)
    go(page, browser_page.server, "program", "Program")
    return page


def saved(page: Page, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible(timeout=TIMEOUT_MS)


def field_error(form: Locator, label: str) -> Locator:
    """The error element the field labelled `label` names in its aria-describedby."""
    field = form.get_by_label(label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    described = (field.get_attribute("aria-describedby") or "").split()
    error_ids = [i for i in described if i.endswith("-error")]
    assert len(error_ids) == 1, described
    return form.locator(f"#{error_ids[0]}")


def test_edit_a_reward_and_see_the_change_through_the_api(browser_page: BrowserPage) -> None:
    server = browser_page.server
    before = reward(server, "Free shipping")
    page = open_program(browser_page)

    page.get_by_role("button", name="Edit Free shipping").click()
    form = page.get_by_role("form", name="Edit Free shipping")
    expect(form.get_by_label("Cost in points")).to_have_value(str(before["costPoints"]))
    form.get_by_label("Cost in points").fill(str(before["costPoints"] + 55))
    form.get_by_label("Stock (empty: unlimited)").fill("40")
    form.get_by_label("Per member (empty: no limit)").fill("2")
    browser_page.screenshot("reward-form")
    form.get_by_role("button", name="Save reward").click()

    saved(page, "Reward “Free shipping” saved.")
    expect(form).to_have_count(0)
    row = page.locator('tr[data-reward="Free shipping"]')
    expect(row).to_contain_text(str(before["costPoints"] + 55))
    after = reward(server, "Free shipping")
    assert after == {
        **before,
        "costPoints": before["costPoints"] + 55,
        "stock": 40,
        "perMemberLimit": 2,
    }


def test_create_an_action_rule(browser_page: BrowserPage) -> None:
    server = browser_page.server
    page = open_program(browser_page)
    page.get_by_text("New action rule").click()
    form = page.get_by_role("form", name="New action rule")
    form.get_by_label("Name", exact=True).fill("Instagram follow")
    form.get_by_label("Action").select_option("SOCIAL_FOLLOW")
    form.get_by_label("Network or event name").fill("instagram")
    form.get_by_label("Points", exact=True).fill("40")
    form.get_by_label("How often").select_option("ONCE_EVER")
    form.get_by_label("Most points per member, ever (empty: no cap)").fill("40")
    form.get_by_role("button", name="Create action rule").click()

    saved(page, "Rule “Instagram follow” created.")
    expect(page.locator('tr[data-rule="Instagram follow"]')).to_contain_text("Social follow")
    assert {
        "name": "Instagram follow",
        "action": "SOCIAL_FOLLOW",
        "qualifier": "instagram",
        "points": 40,
        "frequency": "ONCE_EVER",
        "frequencyLimit": 1,
        "capPoints": 40,
        "paused": False,
    } in api(server, ACTION_RULES)["actionRules"]


def test_edit_a_tier_and_add_one_below_it(browser_page: BrowserPage) -> None:
    server = browser_page.server
    before = api(server, TIERS)["tierProgram"]
    silver, gold = before["tiers"]
    assert (silver["name"], gold["name"]) == ("Silver", "Gold")
    page = open_program(browser_page)

    page.get_by_role("button", name="Edit Silver").click()
    form = page.get_by_role("form", name="Edit Silver")
    form.get_by_label("Name", exact=True).fill("Silver plus")
    form.get_by_label("Earns × (empty: as everyone)").fill("1.25")
    form.get_by_role("button", name="Save tier").click()
    saved(page, "Tier “Silver plus” saved.")

    page.get_by_role("button", name="New tier").click()
    form = page.get_by_role("form", name="New tier")
    form.get_by_label("Name", exact=True).fill("Bronze")
    form.get_by_label("Threshold").fill("100")
    form.get_by_role("button", name="Add tier").click()
    saved(page, "Tier “Bronze” added.")

    after = api(server, TIERS)["tierProgram"]
    # Renamed in place (its perks kept), the new one placed lowest by its threshold, Gold as it was.
    assert after["tiers"] == [
        {
            "name": "Bronze",
            "threshold": 100,
            "earnMultiplier": None,
            "rewardDiscountPercent": 0,
            "perks": [],
        },
        {**silver, "name": "Silver plus", "earnMultiplier": "1.25"},
        gold,
    ]
    assert {k: after[k] for k in ("metric", "period", "downgrade")} == {
        k: before[k] for k in ("metric", "period", "downgrade")
    }
    expect(page.locator('tr[data-tier="Silver plus"]')).to_contain_text("× 1.25")
    browser_page.screenshot("tiers")


def test_change_the_expiry_settings(browser_page: BrowserPage) -> None:
    server = browser_page.server
    page = open_program(browser_page)
    page.get_by_role("button", name="Edit expiry").click()
    form = page.get_by_role("form", name="Edit expiry")
    form.get_by_label("Points expire").select_option("LOT_LIFETIME")
    form.get_by_label("Lifetime").fill("18")
    form.get_by_label("Unit").select_option("MONTHS")
    form.get_by_label("Expiry date").select_option("END_OF_YEAR")
    form.get_by_label("Warn days ahead (0: no warning)").fill("21")
    form.get_by_role("button", name="Save expiry").click()

    saved(page, "Expiry saved.")
    expect(page.locator('[data-fact="expiry"]')).to_contain_text("18")
    expiry = api(server, EXPIRY)["program"]["expiry"]
    assert expiry == {
        "policy": "LOT_LIFETIME",
        "lifetime": 18,
        "lifetimeUnit": "MONTHS",
        "roundTo": "END_OF_YEAR",
        "inactivityMonths": 0,
        "warningDays": 21,
    }


def test_a_refused_form_shows_the_apis_message_beside_the_field(
    browser_page: BrowserPage,
) -> None:
    server = browser_page.server
    expiry_before = api(server, EXPIRY)["program"]["expiry"]
    tiers_before = api(server, TIERS)["tierProgram"]
    # What the API itself answers to the same input, as any client would get it.
    direct = api(
        server,
        """mutation($input: UpdateProgramSettingsInput!) {
          updateProgramSettings(input: $input) { userErrors { field message } } }""",
        {"input": {"programSlug": "demo", "expiry": {"policy": "INACTIVITY"}}},
    )["updateProgramSettings"]["userErrors"]
    assert [e["field"] for e in direct] == [["input", "expiry", "inactivityMonths"]]
    page = open_program(browser_page)

    page.get_by_role("button", name="Edit expiry").click()
    form = page.get_by_role("form", name="Edit expiry")
    form.get_by_label("Points expire").select_option("INACTIVITY")
    form.get_by_role("button", name="Save expiry").click()
    expect(field_error(form, "Months without activity")).to_have_text(direct[0]["message"])
    # The API's only complaint, as it is for the same input sent directly.
    expect(form.get_by_role("alert")).to_have_count(0)
    expect(form.locator(".field-error")).to_have_count(1)
    browser_page.screenshot("expiry-refused")

    # A tier's error is beside that tier's field, not another tier's.
    last = tiers_before["tiers"][-1]["name"]
    page.get_by_role("button", name=f"Edit {last}").click()
    tier_form = page.get_by_role("form", name=f"Edit {last}")
    tier_form.get_by_label("Rewards cost less, percent").fill("95")
    tier_form.get_by_role("button", name="Save tier").click()
    expect(field_error(tier_form, "Rewards cost less, percent")).to_contain_text("90")
    expect(tier_form.get_by_label("Threshold")).to_have_attribute("aria-invalid", "false")

    # Nothing was written.
    assert api(server, EXPIRY)["program"]["expiry"] == expiry_before
    assert api(server, TIERS)["tierProgram"] == tiers_before


def test_settings_referrals_punch_cards_and_campaigns_save(browser_page: BrowserPage) -> None:
    server = browser_page.server
    referrals_before = api(server, REFERRALS)["referralSettings"]
    page = open_program(browser_page)

    page.get_by_role("button", name="Edit settings").click()
    form = page.get_by_role("form", name="Edit settings")
    form.get_by_label("Pending days").fill("14")
    form.get_by_label("Credit guest orders of the last days at enrolment").fill("30")
    form.get_by_role("button", name="Save settings").click()
    saved(page, "Settings saved.")
    settings = api(server, SETTINGS)["program"]
    assert (settings["pendingDays"], settings["retroCreditDays"]) == (14, 30)

    page.get_by_role("button", name="Edit referral settings").click()
    form = page.get_by_role("form", name="Edit referral settings")
    form.get_by_label("Friend points").fill(str(referrals_before["friend"]["points"] + 25))
    form.get_by_role("button", name="Save referral settings").click()
    saved(page, "Referral settings saved.")
    referrals = api(server, REFERRALS)["referralSettings"]
    friend_points = referrals_before["friend"]["points"] + 25
    assert referrals == {
        **referrals_before,
        "friend": {**referrals_before["friend"], "points": friend_points},
    }

    page.get_by_text("New punch card").click()
    form = page.get_by_role("form", name="New punch card")
    form.get_by_label("Name", exact=True).fill("Coffee card")
    form.get_by_label("Reward of a full card").select_option(label="Free shipping")
    form.get_by_label("Punches needed").fill("5")
    form.get_by_label("SKUs that punch (comma-separated)").fill("COFFEE")
    form.get_by_role("button", name="Create punch card").click()
    saved(page, "Punch card “Coffee card” created.")
    page.get_by_role("button", name="Edit Coffee card").click()
    form = page.get_by_role("form", name="Edit Coffee card")
    form.get_by_label("Punches needed").fill("6")
    form.get_by_role("button", name="Save punch card").click()
    saved(page, "Punch card “Coffee card” saved.")
    row = page.locator('tr[data-card="Coffee card"]')
    row.get_by_role("button", name="Pause Coffee card").click()
    saved(page, "Punch card “Coffee card” paused.")
    expect(row).to_contain_text("Paused")
    assert [c["paused"] for c in api(server, PUNCH_CARDS)["punchCards"]] == [True]
    row.get_by_role("button", name="Resume Coffee card").click()
    saved(page, "Punch card “Coffee card” resumed.")
    assert [c["paused"] for c in api(server, PUNCH_CARDS)["punchCards"]] == [False]
    page.get_by_role("button", name="Retire Coffee card").click()
    page.get_by_role("dialog").get_by_role("button", name="Retire").click()
    saved(page, "Punch card “Coffee card” retired.")
    assert api(server, PUNCH_CARDS)["punchCards"] == [
        {
            "name": "Coffee card",
            "punchesNeeded": 6,
            "skus": ["COFFEE"],
            "active": False,
            "paused": False,
            "reward": {"name": "Free shipping"},
        }
    ]

    campaign_before = next(
        r for r in api(server, EARNING_RULES)["earningRules"] if r["name"] == CAMPAIGN
    )
    page.get_by_role("button", name=f"Edit {CAMPAIGN}").click()
    form = page.get_by_role("form", name=f"Edit {CAMPAIGN}")
    form.get_by_label("Multiplier").fill("3")
    form.get_by_role("button", name="Save rule").click()
    saved(page, f"Rule “{CAMPAIGN}” saved.")
    campaign = next(r for r in api(server, EARNING_RULES)["earningRules"] if r["name"] == CAMPAIGN)
    # The dates the form did not touch are kept to the second.
    assert campaign == {**campaign_before, "multiplier": "3"}
    browser_page.screenshot("program-edited")


def forged(server: LiveServer, key: str, query: str, variables: dict[str, Any]) -> Any:
    response = httpx.post(
        server.graphql_url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
        timeout=15,
    )
    response.raise_for_status()
    return response.json()["data"]


def test_a_read_only_key_cannot_change_the_program_in_the_page_nor_by_a_forged_request(
    browser_page: BrowserPage,
) -> None:
    server = browser_page.server
    read_only = server.staff_keys["read_only"]
    tote = reward(server, "Canvas tote bag")
    tiers_before = api(server, TIERS)["tierProgram"]
    action_rules_before = api(server, ACTION_RULES)["actionRules"]
    page = open_program(browser_page, read_only)
    expect(page.locator(".role")).to_have_text("Read only")

    page.get_by_role("button", name="Edit Canvas tote bag").click()
    form = page.get_by_role("form", name="Edit Canvas tote bag")
    form.get_by_label("Cost in points").fill("1")
    form.get_by_role("button", name="Save reward").click()
    expect(form.get_by_role("alert")).to_contain_text("FORBIDDEN", timeout=TIMEOUT_MS)
    browser_page.screenshot("read-only-refused")

    page.get_by_text("New action rule").click()
    rule_form = page.get_by_role("form", name="New action rule")
    rule_form.get_by_label("Name", exact=True).fill("Sneaky")
    rule_form.get_by_label("Points", exact=True).fill("1000")
    rule_form.get_by_role("button", name="Create action rule").click()
    expect(rule_form.get_by_role("alert")).to_contain_text("FORBIDDEN", timeout=TIMEOUT_MS)

    # The same writes sent straight to the API with the key: refused, nothing written.
    update = forged(
        server,
        read_only,
        """mutation($input: UpdateRewardInput!) {
          updateReward(input: $input) { reward { id } userErrors { code } } }""",
        {"input": {"id": tote["id"], "costPoints": 1}},
    )["updateReward"]
    assert update == {"reward": None, "userErrors": [{"code": "FORBIDDEN"}]}
    tiers = forged(
        server,
        read_only,
        """mutation($input: ConfigureTiersInput!) {
          configureTiers(input: $input) { userErrors { code } } }""",
        {
            "input": {
                "programSlug": "demo",
                "metric": "ORDERS",
                "period": "LIFETIME",
                "downgrade": "NEVER",
                "tiers": [{"name": "Everyone", "threshold": 0}],
            }
        },
    )["configureTiers"]
    assert tiers == {"userErrors": [{"code": "FORBIDDEN"}]}
    create = forged(
        server,
        read_only,
        """mutation($input: CreateActionRuleInput!) {
          createActionRule(input: $input) { rule { id } userErrors { code } } }""",
        {
            "input": {
                "programSlug": "demo",
                "idempotencyKey": str(uuid.uuid4()),
                "rule": {
                    "name": "Forged",
                    "action": "NEWSLETTER_SIGNUP",
                    "points": 1000,
                    "frequency": "UNLIMITED",
                },
            }
        },
    )["createActionRule"]
    assert create == {"rule": None, "userErrors": [{"code": "FORBIDDEN"}]}
    assert reward(server, "Canvas tote bag") == tote
    assert api(server, TIERS)["tierProgram"] == tiers_before
    assert api(server, ACTION_RULES)["actionRules"] == action_rules_before
