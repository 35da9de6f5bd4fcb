"""Badges: milestones of orders and of time (the `badges` job on the manual clock), awarded
once, shown on the member; the engagement events match the published webhook schema."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from app.clock import ManualClock
from app.jobs.runner import JobName
from app.services.webhooks.delivery import envelope
from tests.graphql.conftest import Api
from tests.graphql.engagement.factories import (
    CREATE_BADGE,
    PAUSE_CHALLENGE,
    REFUND,
    all_events,
    badge,
    challenge,
    event_payloads,
    shop,
    standing,
)
from tests.graphql.factories import enroll, record_order
from tests.graphql.helpers import pk_of, rows
from tests.graphql.test_query_counts import statements_of
from tests.jobs.helpers import run

UPDATE_BADGE = """
mutation($input: UpdateBadgeInput!) {
  updateBadge(input: $input) { badge { name threshold active } userErrors { field code } }
}"""
BADGES = """
query($all: Boolean!) {
  badges(programSlug: "shop", includeArchived: $all) { name milestone threshold active }
}"""


async def order(api: Api, order_id: str, customer_id: str = "cust-1") -> None:
    recorded = await record_order(
        api, order_id=order_id, customer_id=customer_id, placedAt="2030-01-05T10:00:00Z"
    )
    assert recorded["userErrors"] == [], recorded["userErrors"]


def earned(member: dict[str, Any]) -> list[str]:
    return [entry["badge"]["name"] for entry in member["badges"]]


async def test_order_milestones_award_their_badges_once(api: Api) -> None:
    member = await shop(api)
    await badge(api, name="First order", milestone="FIRST_ORDER")
    await badge(api, name="Three orders", milestone="ORDER_COUNT", threshold=3)
    await badge(api, name="Ten orders", milestone="ORDER_COUNT", threshold=10)

    await order(api, "order-1")
    after_one = earned(await standing(api, member["id"]))
    await order(api, "order-2")
    await order(api, "order-3")
    await order(api, "order-4")

    shown = await standing(api, member["id"])
    assert after_one == ["First order"]
    assert shown["badges"] == [
        {
            "badge": {"name": "First order", "milestone": "FIRST_ORDER"},
            "awardedAt": "2030-01-07T12:00:00+00:00",
        },
        {
            "badge": {"name": "Three orders", "milestone": "ORDER_COUNT"},
            "awardedAt": "2030-01-07T12:00:00+00:00",
        },
    ]
    awarded = await event_payloads("badge.awarded")
    assert [(p["badgeName"], p["source"]) for p in awarded] == [
        ("First order", "milestone"),
        ("Three orders", "milestone"),
    ]


async def test_refunded_orders_do_not_count_for_a_milestone_and_a_badge_stays(api: Api) -> None:
    member = await shop(api)
    await badge(api, name="Two orders", milestone="ORDER_COUNT", threshold=2)
    await order(api, "order-1")
    refunded = await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r1"}}
    )
    assert refunded["refundOrder"]["userErrors"] == []

    await order(api, "order-2")
    before = earned(await standing(api, member["id"]))
    await order(api, "order-3")
    await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "order-3", "idempotencyKey": "r3"}}
    )

    assert before == []
    assert earned(await standing(api, member["id"])) == ["Two orders"]


async def test_the_badges_job_awards_member_for_days_once_on_time(
    api: Api, clock: ManualClock
) -> None:
    old = await shop(api)
    await badge(api, name="One year", milestone="MEMBER_FOR_DAYS", threshold=365)
    clock.advance(timedelta(days=200))
    young = await enroll(api, customer_id="cust-2")

    clock.advance(timedelta(days=164, hours=23))
    early = await run(JobName.BADGES, clock)
    clock.advance(timedelta(hours=1))
    due = await run(JobName.BADGES, clock)
    again = await run(JobName.BADGES, clock)

    assert early.summary == {"badges": 0}
    assert due.summary == {"badges": 1}
    assert again.summary == {"badges": 0}
    assert [e["badge"]["name"] for e in (await standing(api, old["id"]))["badges"]] == ["One year"]
    assert (await standing(api, old["id"]))["badges"][0]["awardedAt"] == (
        "2031-01-07T12:00:00+00:00"
    )
    assert (await standing(api, young["id"]))["badges"] == []
    assert len(await event_payloads("badge.awarded")) == 1


async def test_inactive_and_archived_badges_are_not_awarded_and_bad_ones_are_refused(
    api: Api,
) -> None:
    member = await shop(api)
    first = await badge(api, name="First order", milestone="FIRST_ORDER")
    refused = [
        (await api.data(CREATE_BADGE, {"input": {"programSlug": "shop", **fields}}))["createBadge"][
            "userErrors"
        ]
        for fields in (
            {"name": "x", "milestone": "ORDER_COUNT"},
            {"name": "x", "milestone": "ORDER_COUNT", "threshold": 0},
            {"name": "x", "milestone": "FIRST_ORDER", "threshold": 2},
            {"name": "x", "imageUrl": "javascript:alert(1)"},
            {"name": ""},
        )
    ]

    off = await api.data(UPDATE_BADGE, {"input": {"id": first["id"], "active": False}})
    await order(api, "order-1")
    listed = await api.data(BADGES, {"all": False})

    assert [[(e["field"], e["code"]) for e in errors] for errors in refused] == [
        [(["input", "threshold"], "REQUIRED")],
        [(["input", "threshold"], "INVALID_VALUE")],
        [(["input", "threshold"], "INVALID_VALUE")],
        [(["input", "imageUrl"], "INVALID_VALUE")],
        [(["input", "name"], "REQUIRED")],
    ]
    assert off["updateBadge"]["badge"]["active"] is False
    assert (await standing(api, member["id"]))["badges"] == []
    assert listed["badges"] == [
        {"name": "First order", "milestone": "FIRST_ORDER", "threshold": 1, "active": False}
    ]


EVENT_SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs" / "webhooks" / "event.schema.json").read_text()
)


async def test_engagement_events_match_the_published_webhook_schema(api: Api) -> None:
    member = await shop(api)
    crowned = await badge(api, name="Crowned")
    made = await challenge(api, name="One order", target=1, points=10, badgeId=crowned["id"])
    await api.data(PAUSE_CHALLENGE, {"input": {"id": made["id"], "paused": True}})
    await api.data(PAUSE_CHALLENGE, {"input": {"id": made["id"], "paused": False}})
    await order(api, "order-1")
    [program] = await rows("SELECT id FROM programs")

    validator = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
    bodies = [
        json.loads(envelope(event, "shop", "cust-1" if event.member_id else None))
        for event in await all_events(int(program["id"]))
    ]
    engagement = [b for b in bodies if b["type"].startswith(("challenge.", "badge."))]

    assert [b["type"] for b in engagement] == [
        "challenge.created",
        "challenge.paused",
        "challenge.resumed",
        "badge.awarded",
        "challenge.completed",
    ]
    for body in bodies:
        assert [e.message for e in validator.iter_errors(body)] == [], body
    completed = engagement[-1]["data"]
    assert completed["memberId"] == member["id"]
    assert completed["badgeId"] == crowned["id"]
    assert pk_of(completed["challengeId"]) == pk_of(made["id"])
    # The schema is not one that anything passes.
    assert list(
        validator.iter_errors({"type": "challenge.completed", "timestamp": "x", "data": {}})
    )


MEMBER_PAGE = """
query($first: Int!) {
  members(programSlug: "shop", first: $first, orderBy: OLDEST_FIRST) {
    edges { node { customerId badges { badge { name } } } }
  }
}"""


async def test_a_page_of_members_reads_their_badges_in_one_statement(api: Api) -> None:
    # (each document once: with plans checked, every query would also run through its plan)
    api.check_plans = False
    await shop(api)
    await badge(api, name="First order", milestone="FIRST_ORDER")
    await badge(api, name="Two orders", milestone="ORDER_COUNT", threshold=2)
    for number in range(2, 7):
        await enroll(api, customer_id=f"cust-{number}")
    for number in range(1, 7):
        for repeat in range(number % 3):
            await order(api, f"order-{number}-{repeat}", customer_id=f"cust-{number}")

    two = await statements_of(api, MEMBER_PAGE, {"first": 2})
    six = await statements_of(api, MEMBER_PAGE, {"first": 6})
    small = await api.data(MEMBER_PAGE, {"first": 2})
    large = await api.data(MEMBER_PAGE, {"first": 6})

    assert [earned(edge["node"]) for edge in small["members"]["edges"]] == [
        ["First order"],
        ["First order", "Two orders"],
    ]
    assert [earned(edge["node"]) for edge in large["members"]["edges"]] == [
        ["First order"],
        ["First order", "Two orders"],
        [],
        ["First order"],
        ["First order", "Two orders"],
        [],
    ]
    # The program, the page of members, then every member's badges at once, and their names'
    # translations at once.
    assert two == [4, 4]
    assert six == two
