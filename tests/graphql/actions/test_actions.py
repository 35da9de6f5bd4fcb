"""recordAction: points for actions, within each rule's frequency limit and cap."""

from __future__ import annotations

import asyncio
from typing import Any

from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, member_status, program_key
from tests.graphql.helpers import codes, snapshot

CREATE_RULE = """
mutation($input: CreateActionRuleInput!) {
  createActionRule(input: $input) {
    rule { id name action qualifier points frequency frequencyLimit capPoints paused }
    userErrors { field message code }
  }
}"""

RECORD = """
mutation($input: RecordActionInput!) {
  recordAction(input: $input) {
    pointsEarned alreadyRecorded member { points { available lifetimeEarned } }
    userErrors { field message code }
  }
}"""


async def action_rule(api: Api, **fields: Any) -> dict[str, Any]:
    rule = {
        "name": "Product review",
        "action": "PRODUCT_REVIEW",
        "points": 50,
        "frequency": "UNLIMITED",
        **fields,
    }
    data = await api.data(CREATE_RULE, {"input": {"programSlug": "shop", "rule": rule}})
    payload: dict[str, Any] = data["createActionRule"]
    return payload


async def record(api: Api, member_id: str, key: str, **fields: Any) -> dict[str, Any]:
    values = {"memberId": member_id, "action": "PRODUCT_REVIEW", "idempotencyKey": key, **fields}
    data = await api.data(RECORD, {"input": values})
    payload: dict[str, Any] = data["recordAction"]
    return payload


async def test_a_review_earns_its_points_once_per_reference(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api)

    first = await record(api, member["id"], "k1", reference="review-9")
    again = await record(api, member["id"], "k2", reference="review-9")
    other = await record(api, member["id"], "k3", reference="review-10")

    assert (first["pointsEarned"], first["alreadyRecorded"]) == (50, False)
    assert (again["pointsEarned"], again["alreadyRecorded"]) == (50, True)
    assert other["member"]["points"] == {"available": 100, "lifetimeEarned": 100}
    activity = (await member_status(api, member["id"]))["activity"]["edges"]
    assert [edge["node"]["kind"] for edge in activity] == ["ACTION", "ACTION"]
    assert await verify_ledger() == []


async def test_welcome_points_are_given_on_enrolment(api: Api) -> None:
    await create_program(api)
    await action_rule(
        api, name="Welcome", action="ACCOUNT_CREATED", points=100, frequency="ONCE_EVER"
    )

    member = await enroll(api)

    assert member["points"]["available"] == 100
    assert await verify_ledger() == []


async def test_a_daily_limit_refuses_the_next_award_and_writes_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(
        api,
        name="Share",
        action="SOCIAL_SHARE",
        qualifier="Instagram",
        points=5,
        frequency="PER_DAY",
        frequencyLimit=2,
    )
    share = {"action": "SOCIAL_SHARE", "qualifier": "instagram"}
    await record(api, member["id"], "s1", **share)
    await record(api, member["id"], "s2", **share)
    before = await snapshot()

    third = await record(api, member["id"], "s3", **share)
    refused_wrote_nothing = await snapshot() == before
    yesterday = await record(api, member["id"], "s4", occurredAt="2026-01-01T12:00:00Z", **share)

    assert codes(third["userErrors"]) == ["ACTION_LIMIT_REACHED"]
    assert refused_wrote_nothing
    assert yesterday["pointsEarned"] == 5
    assert (await member_status(api, member["id"]))["points"]["available"] == 15


async def test_a_cap_limits_the_points_one_member_earns_from_a_rule(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api, points=40, capPoints=100)

    earned = [
        (await record(api, member["id"], f"k{n}", reference=f"r{n}"))["pointsEarned"]
        for n in range(3)
    ]
    capped = await record(api, member["id"], "k3", reference="r3")

    assert earned == [40, 40, 20]
    assert codes(capped["userErrors"]) == ["ACTION_CAP_REACHED"]


async def test_an_action_without_an_active_rule_is_refused(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    rule = await action_rule(api)
    await api.data(
        "mutation($input: SetActionRulePausedInput!) { setActionRulePaused(input: $input)"
        " { rule { paused } userErrors { code } } }",
        {"input": {"id": rule["rule"]["id"], "paused": True}},
    )
    before = await snapshot()

    paused = await record(api, member["id"], "k1")
    newsletter = await record(api, member["id"], "k2", action="NEWSLETTER_SIGNUP")

    assert codes(paused["userErrors"]) == ["ACTION_NOT_REWARDED"]
    assert codes(newsletter["userErrors"]) == ["ACTION_NOT_REWARDED"]
    assert await snapshot() == before


async def test_bad_action_rules_and_reports_are_refused_precisely(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    secret = await program_key("shop")
    before = await snapshot()

    no_network = await action_rule(api, action="SOCIAL_FOLLOW", frequency="ONCE_EVER")
    zero = await action_rule(api, points=0)
    huge_limit = await action_rule(api, frequency="PER_DAY", frequencyLimit=0)
    future = await record(api, member["id"], "k", occurredAt="2099-01-01T00:00:00Z")
    forbidden = await api.data(
        CREATE_RULE,
        {
            "input": {
                "programSlug": "shop",
                "rule": {
                    "name": "x",
                    "action": "PRODUCT_REVIEW",
                    "points": 5,
                    "frequency": "UNLIMITED",
                },
            }
        },
        key=secret,
    )

    assert [e["field"] for e in no_network["userErrors"]] == [["input", "rule", "qualifier"]]
    assert codes(zero["userErrors"]) == ["INVALID_POINTS"]
    assert codes(huge_limit["userErrors"]) == ["INVALID_VALUE"]
    assert codes(future["userErrors"]) == ["INVALID_VALUE"]
    assert codes(forbidden["createActionRule"]["userErrors"]) == ["FORBIDDEN"]
    assert await snapshot() == before


async def test_concurrent_reports_never_exceed_a_once_ever_rule(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api, action="NEWSLETTER_SIGNUP", name="Newsletter", frequency="ONCE_EVER")
    inputs = [
        {"memberId": member["id"], "action": "NEWSLETTER_SIGNUP", "idempotencyKey": f"n{n}"}
        for n in range(30)
    ]

    responses = await asyncio.gather(*(api.post(RECORD, {"input": i}) for i in inputs))

    payloads = [r.json()["data"]["recordAction"] for r in responses]
    assert len([p for p in payloads if not p["userErrors"]]) == 1
    assert (await member_status(api, member["id"]))["points"]["available"] == 50
    assert await verify_ledger() == []


async def test_an_updated_rule_applies_its_new_points_and_limits(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    created = await action_rule(api)
    await record(api, member["id"], "k1", reference="r1")

    updated = await api.data(
        "mutation($input: UpdateActionRuleInput!) { updateActionRule(input: $input)"
        " { rule { points frequency } userErrors { code } } }",
        {
            "input": {
                "id": created["rule"]["id"],
                "rule": {
                    "name": "Product review",
                    "action": "PRODUCT_REVIEW",
                    "points": 80,
                    "frequency": "ONCE_EVER",
                },
            }
        },
    )
    refused = await record(api, member["id"], "k2", reference="r2")

    assert updated["updateActionRule"] == {
        "rule": {"points": 80, "frequency": "ONCE_EVER"},
        "userErrors": [],
    }
    assert codes(refused["userErrors"]) == ["ACTION_LIMIT_REACHED"]
    assert (await member_status(api, member["id"]))["points"]["available"] == 50


async def test_preview_tells_what_an_action_would_earn_and_writes_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await action_rule(api, points=40, capPoints=60)
    query = "query($id: ID!) { previewActionPoints(memberId: $id, action: PRODUCT_REVIEW) }"
    before = await snapshot()

    first = await api.data(query, {"id": member["id"]})

    assert first == {"previewActionPoints": 40}
    assert await snapshot() == before
    await record(api, member["id"], "k1", reference="r1")
    assert await api.data(query, {"id": member["id"]}) == {"previewActionPoints": 20}
    await record(api, member["id"], "k2", reference="r2")
    capped = await api.gql(query, {"id": member["id"]})
    assert capped["data"] is None
    assert capped["errors"][0]["extensions"]["code"] == "ACTION_CAP_REACHED"
