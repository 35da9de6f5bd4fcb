"""Challenges: orders, spend, actions and referrals advance them per period; a completion gives
its points and badge once, however many requests race for it; refunds; the admin's set-up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.auth.api_keys import KeyKind
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.engagement.factories import (
    ARCHIVE_CHALLENGE,
    CREATE_ACTION_RULE,
    CREATE_CHALLENGE,
    PAUSE_CHALLENGE,
    RECORD_ACTION,
    REFUND,
    UPDATE_CHALLENGE,
    badge,
    challenge,
    challenge_grants,
    create_challenge,
    event_payloads,
    progress_rows,
    shop,
    standing,
)
from tests.graphql.factories import (
    RECORD_ORDER,
    create_reward,
    enroll,
    member_token,
    order_input,
    post_as,
    program_key,
    record_order,
)
from tests.graphql.helpers import codes, global_id, pk_of, rows

ME = """
{
  me {
    challenges { challenge { name } progress target completedAt period { key } }
    badges { badge { name } awardedAt }
    recommendedRewards(first: 2) { reward { name } pointsNeeded redeemableNow }
    points { available }
  }
}"""
JANUARY = "2030-01-05T10:00:00+00:00"


async def order(api: Api, order_id: str, placed_at: str = JANUARY, **fields: Any) -> None:
    recorded = await record_order(api, order_id=order_id, placedAt=placed_at, **fields)
    assert recorded["userErrors"] == [], recorded["userErrors"]


async def test_orders_complete_a_challenge_once_with_its_points_and_badge_seen_through_me(
    api: Api,
) -> None:
    member = await shop(api)
    regular = await badge(api, name="Regular")
    await challenge(api, name="Three orders", target=3, points=200, badgeId=regular["id"])
    await create_reward(api, cost_points=400, name="Tote bag")

    for n in range(4):
        await order(api, f"order-{n}")

    token = await member_token(api, "cust-1")
    response = await post_as(
        api, ME, key=await program_key("shop", KeyKind.PUBLISHABLE), token=token
    )
    me = response.json()["data"]["me"]
    assert me == {
        "challenges": [
            {
                "challenge": {"name": "Three orders"},
                "progress": 4,
                "target": 3,
                "completedAt": "2030-01-07T12:00:00+00:00",
                "period": {"key": "ALL"},
            }
        ],
        "badges": [{"badge": {"name": "Regular"}, "awardedAt": "2030-01-07T12:00:00+00:00"}],
        # 4 orders of 25 points and the challenge's 200.
        "recommendedRewards": [
            {"reward": {"name": "Tote bag"}, "pointsNeeded": 100, "redeemableNow": False}
        ],
        "points": {"available": 300},
    }
    assert await challenge_grants() == [
        (pk_of(member["id"]), 200, "Challenge completed: Three orders")
    ]
    [completed] = await event_payloads("challenge.completed")
    assert completed["period"] == "ALL"
    assert completed["pointsAwarded"] == 200
    assert completed["progress"] == 3
    assert completed["badgeId"] == regular["id"]
    assert (
        completed["grantKey"]
        == f"challenge:{pk_of(completed['challengeId'])}:member:{pk_of(member['id'])}:period:ALL"
    )
    assert [p["source"] for p in await event_payloads("badge.awarded")] == [
        f"challenge:{pk_of(completed['challengeId'])}:ALL"
    ]
    assert await verify_ledger() == []


async def test_a_monthly_challenge_counts_each_calendar_month_of_the_program_time_zone(
    api: Api,
) -> None:
    member = await shop(api, timeZone="Europe/Stockholm")
    await challenge(
        api,
        name="Two orders a month",
        target=2,
        points=50,
        recurrence="MONTHLY",
        startsAt="2029-10-01T00:00:00+02:00",
        endsAt=None,
    )

    await order(api, "oct-1", "2029-10-15T10:00:00+00:00")
    # 23:30 UTC on 31 October is 00:30 on 1 November in Stockholm.
    await order(api, "nov-1", "2029-10-31T23:30:00+00:00")
    await order(api, "oct-2", "2029-10-20T10:00:00+00:00")
    # Before the challenge started: counts nowhere.
    await order(api, "sep-1", "2029-09-30T10:00:00+00:00")

    assert await progress_rows() == [("2029-10", 2, True), ("2029-11", 1, False)]
    assert [grant[1] for grant in await challenge_grants()] == [50]
    # In January the member sees January's period, not yet started.
    assert (await standing(api, member["id"]))["challenges"] == [
        {
            "challenge": {"name": "Two orders a month"},
            "progress": 0,
            "target": 2,
            "completedAt": None,
            "period": {
                "key": "2030-01",
                "startsAt": "2029-12-31T23:00:00+00:00",
                "endsAt": "2030-01-31T23:00:00+00:00",
            },
        }
    ]


async def test_spend_counts_order_totals_in_the_program_currency(api: Api) -> None:
    member = await shop(api)
    await challenge(api, name="Spend 50", goal="SPEND", target=5000, points=70)

    await order(api, "eur-1")  # 25.00 EUR
    # 20.00 USD at 0.5 EUR per USD: 10.00 EUR.
    await order(
        api,
        "usd-1",
        currency="USD",
        unit_price_minor=1000,
        exchangeRate="0.5",
    )
    middle = await progress_rows()
    await order(api, "eur-2")

    assert middle == [("ALL", 3500, False)]
    assert await progress_rows() == [("ALL", 6000, True)]
    assert (await standing(api, member["id"]))["challenges"][0]["target"] == 5000
    assert [grant[1] for grant in await challenge_grants()] == [70]


async def refund(api: Api, order_id: str, **fields: Any) -> None:
    values = {"programSlug": "shop", "orderId": order_id, "idempotencyKey": f"r-{order_id}"}
    data = await api.data(REFUND, {"input": {**values, **fields}})
    assert data["refundOrder"]["userErrors"] == []


async def test_a_refund_takes_an_order_off_an_incomplete_challenge_but_never_off_a_completed_one(
    api: Api,
) -> None:
    await shop(api)
    await challenge(api, name="Three orders", target=3, points=200)
    await challenge(api, name="Spend 1000", goal="SPEND", target=100_000, points=10)

    await order(api, "order-1")
    await order(api, "order-2")
    await refund(api, "order-1")  # whole order
    await refund(api, "order-2", amountMinor=500)  # part: still an order, 20.00 of spend
    after_refunds = await progress_rows()
    await order(api, "order-3")
    await order(api, "order-4")
    await refund(api, "order-3")

    assert after_refunds == [("ALL", 1, False), ("ALL", 2000, False)]
    # Completed with orders 2, 3 and 4: refunding order 3 afterwards leaves the count; the
    # spend challenge, not completed, loses its 25.00 (20.00 + 25.00).
    assert await progress_rows() == [("ALL", 3, True), ("ALL", 4500, False)]
    assert [grant[1] for grant in await challenge_grants()] == [200]
    assert await verify_ledger() == []


async def action_rule(api: Api, action: str, qualifier: str | None = None) -> None:
    rule = {
        "name": action.title(),
        "action": action,
        "points": 5,
        "frequency": "UNLIMITED",
        "qualifier": qualifier,
    }
    data = await api.data(CREATE_ACTION_RULE, {"input": {"programSlug": "shop", "rule": rule}})
    assert data["createActionRule"]["userErrors"] == []


async def act(api: Api, member_id: str, action: str, key: str, **fields: Any) -> None:
    values = {"memberId": member_id, "action": action, "idempotencyKey": key, **fields}
    data = await api.data(RECORD_ACTION, {"input": values})
    assert data["recordAction"]["userErrors"] == []


async def test_only_actions_of_the_named_kind_and_qualifier_count(api: Api) -> None:
    member = await shop(api)
    for action in ("PRODUCT_REVIEW", "REVIEW_WITH_PHOTO"):
        await action_rule(api, action)
    await action_rule(api, "SOCIAL_FOLLOW", "instagram")
    await action_rule(api, "SOCIAL_FOLLOW", "tiktok")
    await challenge(
        api, name="Two photo reviews", goal="ACTION_COUNT", action="REVIEW_WITH_PHOTO", target=2
    )
    await challenge(
        api,
        name="Follow on Instagram",
        goal="ACTION_COUNT",
        action="SOCIAL_FOLLOW",
        actionQualifier="Instagram",
        target=1,
        points=30,
    )

    await act(api, member["id"], "PRODUCT_REVIEW", "a-1")
    await act(api, member["id"], "REVIEW_WITH_PHOTO", "a-2")
    await act(api, member["id"], "SOCIAL_FOLLOW", "a-3", qualifier="tiktok")
    first = await progress_rows()
    await act(api, member["id"], "REVIEW_WITH_PHOTO", "a-4")
    await act(api, member["id"], "SOCIAL_FOLLOW", "a-5", qualifier="instagram")
    # A retry of a recorded action counts nothing more.
    await act(api, member["id"], "REVIEW_WITH_PHOTO", "a-4")

    assert first == [("ALL", 1, False)]
    assert await progress_rows() == [("ALL", 2, True), ("ALL", 1, True)]
    assert sorted(grant[1] for grant in await challenge_grants()) == [30, 200]


REFERRAL_SETTINGS = """
mutation($input: UpdateReferralSettingsInput!) {
  updateReferralSettings(input: $input) { userErrors { code } }
}"""
CODE = "query($id: ID!) { member(id: $id) { referralCode } }"


async def test_completed_referrals_count_for_the_referrer_this_month(api: Api) -> None:
    referrer = await shop(api)
    settings = {
        "programSlug": "shop",
        "enabled": True,
        "referrer": {"points": 100, "trigger": "SIGNUP"},
        "friend": {"points": 10, "trigger": "SIGNUP"},
    }
    assert (await api.data(REFERRAL_SETTINGS, {"input": settings}))["updateReferralSettings"][
        "userErrors"
    ] == []
    await challenge(
        api, name="Refer a friend this month", goal="REFERRAL_COUNT", target=1, recurrence="MONTHLY"
    )
    code = (await api.data(CODE, {"id": referrer["id"]}))["member"]["referralCode"]

    await enroll(api, customer_id="friend-1", referralCode=code)
    await enroll(api, customer_id="friend-2", referralCode=code)

    assert await progress_rows(referrer["id"]) == [("2030-01", 2, True)]
    assert await challenge_grants() == [
        (pk_of(referrer["id"]), 200, "Challenge completed: Refer a friend this month")
    ]


async def test_many_orders_racing_to_complete_one_challenge_give_its_points_and_badge_once(
    api: Api,
) -> None:
    member = await shop(api)
    crowned = await badge(api, name="Crowned")
    await challenge(api, name="Five orders", target=5, points=500, badgeId=crowned["id"])
    inputs = [order_input(order_id=f"order-{n}", placedAt=JANUARY) for n in range(20)]

    responses = await asyncio.gather(*(api.post(RECORD_ORDER, {"input": i}) for i in inputs))

    assert {r.status_code for r in responses} == {200}
    assert [r.json()["data"]["recordOrder"]["userErrors"] for r in responses] == [[]] * 20
    assert await progress_rows() == [("ALL", 20, True)]
    assert await challenge_grants() == [
        (pk_of(member["id"]), 500, "Challenge completed: Five orders")
    ]
    assert len(await event_payloads("challenge.completed")) == 1
    assert len(await event_payloads("badge.awarded")) == 1
    assert (await standing(api, member["id"]))["points"] == {"available": 20 * 25 + 500}
    assert await verify_ledger() == []


async def test_many_actions_racing_to_complete_one_challenge_give_its_points_once(
    api: Api,
) -> None:
    member = await shop(api)
    await action_rule(api, "PRODUCT_REVIEW")
    await challenge(api, name="Three reviews", goal="ACTION_COUNT", action="PRODUCT_REVIEW")
    document = {"memberId": member["id"], "action": "PRODUCT_REVIEW"}

    responses = await asyncio.gather(
        *(
            api.post(RECORD_ACTION, {"input": {**document, "idempotencyKey": f"k-{n}"}})
            for n in range(12)
        )
    )

    assert [r.json()["data"]["recordAction"]["userErrors"] for r in responses] == [[]] * 12
    assert await progress_rows() == [("ALL", 12, True)]
    assert [grant[1] for grant in await challenge_grants()] == [200]
    assert len(await event_payloads("challenge.completed")) == 1
    assert await verify_ledger() == []


async def test_a_paused_challenge_counts_nothing_and_an_archived_one_is_gone_for_members(
    api: Api,
) -> None:
    member = await shop(api)
    made = await challenge(api, name="Three orders")
    pause = {"input": {"id": made["id"], "paused": True}}

    paused = await api.data(PAUSE_CHALLENGE, pause)
    await order(api, "while-paused")
    resumed = await api.data(PAUSE_CHALLENGE, {"input": {"id": made["id"], "paused": False}})
    await order(api, "after")
    shown = (await standing(api, member["id"]))["challenges"]
    archived = await api.data(ARCHIVE_CHALLENGE, {"input": {"id": made["id"]}})
    again = await api.data(PAUSE_CHALLENGE, pause)
    await order(api, "archived")

    assert paused["setChallengePaused"]["challenge"]["status"] == "PAUSED"
    assert resumed["setChallengePaused"]["challenge"]["status"] == "ACTIVE"
    assert [c["progress"] for c in shown] == [1]
    assert archived["archiveChallenge"]["challenge"]["status"] == "ARCHIVED"
    assert again["setChallengePaused"]["userErrors"] == [
        {"field": ["input", "id"], "code": "CHALLENGE_ARCHIVED"}
    ]
    assert (await standing(api, member["id"]))["challenges"] == []
    assert await progress_rows() == [("ALL", 1, False)]
    types = [row["type"] for row in await rows("SELECT type FROM outbox_events ORDER BY id")]
    assert [t for t in types if t.startswith("challenge.")] == [
        "challenge.created",
        "challenge.paused",
        "challenge.resumed",
        "challenge.archived",
    ]


LIST = """
query($slug: String!, $all: Boolean!, $after: String) {
  challenges(programSlug: $slug, includeInactive: $all, first: 2, after: $after) {
    edges { node { name status } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_the_list_is_a_connection_newest_first_and_storefronts_see_active_ones(
    api: Api,
) -> None:
    await shop(api)
    for name in ("First", "Second", "Third"):
        await challenge(api, name=name)
    second = (await api.data(LIST, {"slug": "shop", "all": True}))["challenges"]
    third = await api.data(ARCHIVE_CHALLENGE, {"input": {"id": await _id_of("Third")}})
    assert third["archiveChallenge"]["userErrors"] == []
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    page_one = (await api.data(LIST, {"slug": "shop", "all": True}))["challenges"]
    page_two = (
        await api.data(
            LIST, {"slug": "shop", "all": True, "after": page_one["pageInfo"]["endCursor"]}
        )
    )["challenges"]
    storefront = (await post_as(api, LIST, {"slug": "shop", "all": False}, key=publishable)).json()[
        "data"
    ]["challenges"]
    refused = (await post_as(api, LIST, {"slug": "shop", "all": True}, key=publishable)).json()

    assert [e["node"]["name"] for e in second["edges"]] == ["Third", "Second"]
    assert [e["node"] for e in page_one["edges"]] == [
        {"name": "Third", "status": "ARCHIVED"},
        {"name": "Second", "status": "ACTIVE"},
    ]
    assert page_one["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in page_two["edges"]] == ["First"]
    assert page_two["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["name"] for e in storefront["edges"]] == ["Second", "First"]
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _id_of(name: str) -> str:
    [row] = await rows(f"SELECT id FROM challenges WHERE name = '{name}'")
    return global_id("Challenge", int(row["id"]))


async def test_bad_challenges_are_refused_with_precise_codes_and_write_nothing(api: Api) -> None:
    await shop(api)
    archived = await badge(api, name="Old")
    await api.data(
        "mutation($input: ArchiveBadgeInput!) {"
        " archiveBadge(input: $input) { userErrors { code } } }",
        {"input": {"id": archived["id"]}},
    )
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"target": 0}, [(["input", "target"], "INVALID_QUANTITY")]),
        ({"goal": "SPEND", "target": 10**9 + 1}, [(["input", "target"], "INVALID_AMOUNT")]),
        ({"points": -1}, [(["input", "points"], "INVALID_POINTS")]),
        ({"points": 0}, [(["input", "points"], "REQUIRED")]),
        ({"startsAt": "2030-01-01T00:00:00"}, [(["input", "startsAt"], "INVALID_VALUE")]),
        ({"endsAt": "2029-12-01T00:00:00Z"}, [(["input", "endsAt"], "INVALID_VALUE")]),
        ({"startsAt": "1999-12-01T00:00:00Z"}, [(["input", "startsAt"], "INVALID_VALUE")]),
        ({"goal": "ACTION_COUNT"}, [(["input", "action"], "REQUIRED")]),
        ({"action": "PRODUCT_REVIEW"}, [(["input", "action"], "INVALID_VALUE")]),
        (
            {"goal": "ACTION_COUNT", "action": "PRODUCT_REVIEW", "actionQualifier": "x"},
            [(["input", "actionQualifier"], "INVALID_VALUE")],
        ),
        ({"name": "  "}, [(["input", "name"], "REQUIRED")]),
        ({"badgeId": archived["id"]}, [(["input", "badgeId"], "BADGE_ARCHIVED")]),
        ({"badgeId": "nonsense"}, [(["input", "badgeId"], "INVALID_ID")]),
        ({"programSlug": "nope"}, [(["input", "programSlug"], "PROGRAM_NOT_FOUND")]),
    ]
    for fields, expected in cases:
        payload = await create_challenge(api, **fields)
        got = [(error["field"], error["code"]) for error in payload["userErrors"]]
        assert (fields, got) == (fields, expected)
        assert payload["challenge"] is None
    secret = await program_key("shop")
    forbidden = await post_as(
        api,
        "mutation($input: CreateChallengeInput!) { createChallenge(input: $input) {"
        " userErrors { code } } }",
        {
            "input": {
                "programSlug": "shop",
                "name": "x",
                "goal": "ORDER_COUNT",
                "target": 1,
                "points": 1,
                "startsAt": "2030-01-01T00:00:00Z",
            }
        },
        key=secret,
    )

    # A lone surrogate, as JSON can carry it (escaped) and UTF-8 cannot store it.
    body = {
        "query": CREATE_CHALLENGE,
        "variables": {
            "input": {
                "programSlug": "shop",
                "name": "bad \ud800 name",
                "goal": "ORDER_COUNT",
                "target": 1,
                "points": 1,
                "startsAt": "2030-01-01T00:00:00Z",
            }
        },
    }
    surrogate = await api.http.post(
        "/graphql",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {api.admin_key}", "Content-Type": "application/json"},
    )

    assert codes(forbidden.json()["data"]["createChallenge"]["userErrors"]) == ["FORBIDDEN"]
    assert surrogate.json()["data"]["createChallenge"]["userErrors"] == [
        {
            "field": ["input", "name"],
            "message": "name contains control characters or invalid unicode",
            "code": "INVALID_VALUE",
        }
    ]
    assert await rows("SELECT id FROM challenges") == []


async def test_an_update_changes_the_target_and_an_unknown_challenge_is_reported(
    api: Api,
) -> None:
    await shop(api)
    made = await challenge(api, name="Three orders", target=3)
    await order(api, "order-1")
    await order(api, "order-2")

    updated = await api.data(
        UPDATE_CHALLENGE, {"input": {"id": made["id"], "target": 2, "name": "Two orders"}}
    )
    await order(api, "order-3")
    unknown = await api.data(
        UPDATE_CHALLENGE, {"input": {"id": global_id("Challenge", 999_999), "target": 2}}
    )
    bad = await api.data(UPDATE_CHALLENGE, {"input": {"id": made["id"], "target": 0}})

    assert updated["updateChallenge"]["challenge"]["target"] == 2
    assert updated["updateChallenge"]["challenge"]["name"] == "Two orders"
    assert await progress_rows() == [("ALL", 3, True)]
    assert [grant[2] for grant in await challenge_grants()] == ["Challenge completed: Two orders"]
    assert codes(unknown["updateChallenge"]["userErrors"]) in (
        ["CHALLENGE_NOT_FOUND"],
        ["INVALID_ID"],
    )
    assert bad["updateChallenge"]["userErrors"] == [
        {
            "field": ["input", "target"],
            "message": "target must be between 1 and 10000, got 0",
            "code": "INVALID_QUANTITY",
        }
    ]
