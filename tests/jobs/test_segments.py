"""Segments: each condition, AND/OR nesting, members entering and leaving as orders, refunds,
profile changes and the clock move them, targeting of earning rules and rewards, and the kept
memberships against a rebuild from scratch, on both databases."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

from app.clock import ManualClock
from app.db import connection, fetch_all
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from app.services.segments.membership import refresh_segment
from tests.graphql.conftest import Api
from tests.graphql.factories import REDEEM, create_program, create_reward, enroll, record_order
from tests.graphql.helpers import codes, pk_of
from tests.jobs.helpers import events_of, run

SEGMENT_FIELDS = "id key name version timeBased refreshedAt memberCount condition"
CREATE = f"""
mutation($input: CreateSegmentInput!) {{
  createSegment(input: $input) {{
    segment {{ {SEGMENT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
UPDATE = f"""
mutation($input: UpdateSegmentInput!) {{
  updateSegment(input: $input) {{
    segment {{ {SEGMENT_FIELDS} versions {{ version condition }} }}
    userErrors {{ field message code }}
  }}
}}"""
ARCHIVE = """
mutation($id: ID!) {
  archiveSegment(input: { id: $id }) { segment { archivedAt } userErrors { field code } }
}"""
PREVIEW = """
query($condition: SegmentConditionInput!) {
  segmentPreview(programSlug: "shop", condition: $condition, sampleSize: 50) {
    count sample { customerId }
  }
}"""
MEMBER_SEGMENTS = """
query($id: ID!) { member(id: $id) { segments { segment { key } enteredAt } } }"""
MEMBERS_IN = """
query($key: String!) {
  members(programSlug: "shop", filter: { segment: $key }, first: 100) {
    edges { node { customerId } }
  }
}"""
ATTRIBUTES = """
mutation($input: SetMemberAttributesInput!) {
  setMemberAttributes(input: $input) { userErrors { code } }
}"""
PROFILE = """
mutation($input: UpdateMemberProfileInput!) {
  updateMemberProfile(input: $input) { userErrors { field code } }
}"""
REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { userErrors { field code } }
}"""
CREATE_RULE = """
mutation($input: CreateEarningRuleInput!) {
  createEarningRule(input: $input) { rule { id } userErrors { field code } }
}"""
UPDATE_REWARD = """
mutation($input: UpdateRewardInput!) {
  updateReward(input: $input) { reward { id } userErrors { field code } }
}"""


def cmp(field: str, operator: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value, **extra}


async def create_segment(api: Api, key: str, condition: dict[str, Any]) -> dict[str, Any]:
    data = await api.data(
        CREATE,
        {"input": {"programSlug": "shop", "key": key, "name": key.title(), "condition": condition}},
    )
    payload: dict[str, Any] = data["createSegment"]
    assert payload["userErrors"] == [], payload["userErrors"]
    segment: dict[str, Any] = payload["segment"]
    return segment


async def preview(api: Api, condition: dict[str, Any]) -> list[str]:
    data = await api.data(PREVIEW, {"condition": condition})
    found = data["segmentPreview"]
    customers = sorted(member["customerId"] for member in found["sample"])
    assert found["count"] == len(customers)
    return customers


async def order(
    api: Api, clock: ManualClock, customer: str, order_id: str, euros: int, **fields: Any
) -> None:
    result = await record_order(
        api,
        order_id=order_id,
        customer_id=customer,
        unit_price_minor=euros * 100,
        quantity=1,
        placedAt=clock.now().isoformat(),
        **fields,
    )
    assert result["userErrors"] == [], result["userErrors"]


async def kept(key: str) -> list[str]:
    rows = await fetch_all(
        connection(),
        "SELECT m.customer_id FROM segment_members sm JOIN segments s ON s.id = sm.segment_id"
        " JOIN members m ON m.id = sm.member_id WHERE s.key = ? ORDER BY m.customer_id",
        (key,),
    )
    return [row["customer_id"] for row in rows]


async def people(api: Api, clock: ManualClock) -> dict[str, str]:
    """Five members whose facts differ in every way a condition can tell."""
    await api.data(
        ATTRIBUTES,
        {
            "input": {
                "programSlug": "shop",
                "attributes": [
                    {"name": "shoeSize", "type": "NUMBER"},
                    {"name": "club", "type": "STRING"},
                    {"name": "newsletter", "type": "BOOLEAN"},
                    {"name": "since", "type": "DATE"},
                ],
            }
        },
    )
    start = clock.now()
    ids = {}
    clock.set(start - timedelta(days=400))
    ids["ann"] = (
        await enroll(
            api,
            customer_id="ann",
            birthday="1990-03-14",
            tags=["vip", "runner"],
            attributes={"shoeSize": 38, "club": "north", "newsletter": True, "since": "2020-01-05"},
        )
    )["id"]
    await order(api, clock, "ann", "a-1", 100, channel="STORE")
    clock.set(start - timedelta(days=100))
    ids["bob"] = (
        await enroll(
            api,
            customer_id="bob",
            birthday="1985-07-02",
            tags=["runner"],
            attributes={"shoeSize": 44, "club": "south", "newsletter": False},
        )
    )["id"]
    await order(api, clock, "bob", "b-1", 20, channel="WEB")
    clock.set(start - timedelta(days=10))
    await order(api, clock, "bob", "b-2", 30, channel="APP")
    ids["cid"] = (await enroll(api, customer_id="cid", attributes={"club": "north"}))["id"]
    await order(api, clock, "cid", "c-1", 500, channel="WEB")
    clock.set(start - timedelta(days=1))
    ids["dan"] = (await enroll(api, customer_id="dan", tags=["VIP"]))["id"]
    clock.set(start)
    ids["eve"] = (await enroll(api, customer_id="eve"))["id"]
    data = await api.data(
        """mutation($id: ID!) { setMemberOptOut(input: { memberId: $id, optedOut: true })
        { userErrors { code } } }""",
        {"id": ids["eve"]},
    )
    assert data["setMemberOptOut"]["userErrors"] == []
    return ids


async def test_each_condition_selects_exactly_the_members_it_describes(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await people(api, clock)

    cases = [
        (cmp("DAYS_SINCE_LAST_ORDER", "GTE", 90), ["ann"]),
        (cmp("DAYS_SINCE_LAST_ORDER", "LT", 11), ["bob", "cid"]),
        (cmp("DAYS_SINCE_LAST_ORDER", "EQ", 10), ["bob", "cid"]),
        (cmp("DAYS_SINCE_LAST_ORDER", "NE", 10), ["ann"]),
        (cmp("ORDER_COUNT", "EQ", 0), ["dan", "eve"]),
        (cmp("ORDER_COUNT", "GTE", 2), ["bob"]),
        (cmp("ORDER_COUNT", "GTE", 1, windowDays=30), ["bob", "cid"]),
        (cmp("SPEND", "GTE", 10000), ["ann", "cid"]),
        (cmp("SPEND", "GT", 4000, windowDays=30), ["cid"]),
        (cmp("CHANNEL", "IN", ["WEB"]), ["bob", "cid"]),
        (cmp("CHANNEL", "IN", ["WEB"], windowDays=30), ["cid"]),
        (cmp("CHANNEL", "NOT_IN", ["WEB"]), ["ann"]),
        (cmp("ENROLLED_DAYS", "GTE", 100), ["ann", "bob"]),
        (cmp("ENROLLED_DAYS", "LTE", 1), ["dan", "eve"]),
        (cmp("BIRTHDAY_MONTH", "IN", [3, 12]), ["ann"]),
        (cmp("BIRTHDAY_MONTH", "NOT_IN", [3]), ["bob"]),
        (cmp("TAG", "IN", ["vip"]), ["ann", "dan"]),
        (cmp("TAG", "NOT_IN", ["runner"]), ["cid", "dan", "eve"]),
        (cmp("STATUS", "IN", ["OPTED_OUT"]), ["eve"]),
        (cmp("STATUS", "NOT_IN", ["OPTED_OUT"]), ["ann", "bob", "cid", "dan"]),
        (cmp("POINTS_AVAILABLE", "GTE", 100), ["ann", "cid"]),
        (cmp("REFERRAL_COUNT", "EQ", 0), ["ann", "bob", "cid", "dan", "eve"]),
        (cmp("TIER", "IN", ["Gold"]), []),
        (cmp("ATTRIBUTE", "GT", 40, attribute="shoeSize"), ["bob"]),
        (cmp("ATTRIBUTE", "LT", 38.5, attribute="shoeSize"), ["ann"]),
        (cmp("ATTRIBUTE", "IN", ["north"], attribute="club"), ["ann", "cid"]),
        (cmp("ATTRIBUTE", "NE", "north", attribute="club"), ["bob"]),
        (cmp("ATTRIBUTE", "EQ", True, attribute="newsletter"), ["ann"]),
        (cmp("ATTRIBUTE", "NE", True, attribute="newsletter"), ["bob"]),
        (cmp("ATTRIBUTE", "LT", "2021-01-01", attribute="since"), ["ann"]),
    ]
    found = [await preview(api, condition) for condition, _ in cases]

    assert found == [expected for _, expected in cases]


async def test_all_and_any_nest(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await people(api, clock)

    lapsed_or_big = {"any": [cmp("DAYS_SINCE_LAST_ORDER", "GTE", 90), cmp("SPEND", "GTE", 40000)]}
    nested = {
        "all": [
            cmp("STATUS", "IN", ["ACTIVE"]),
            {
                "any": [
                    cmp("TAG", "IN", ["vip"]),
                    {"all": [lapsed_or_big, cmp("ORDER_COUNT", "EQ", 1)]},
                ]
            },
        ]
    }

    assert await preview(api, lapsed_or_big) == ["ann", "cid"]
    assert await preview(api, nested) == ["ann", "cid", "dan"]


async def test_bad_definitions_are_refused_with_the_path_of_each_problem(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await people(api, clock)
    bad = {
        "all": [
            cmp("ORDER_COUNT", "IN", [1]),
            cmp("TAG", "GTE", 3),
            cmp("ENROLLED_DAYS", "GTE", 1, windowDays=5),
            cmp("ATTRIBUTE", "GT", 1, attribute="unknown"),
            cmp("CHANNEL", "IN", ["FAX"]),
            {"all": []},
        ]
    }
    data = await api.data(
        CREATE,
        {"input": {"programSlug": "shop", "key": "Bad Key", "name": "x", "condition": bad}},
    )
    errors = data["createSegment"]["userErrors"]
    assert [(error["code"], error["field"]) for error in errors] == [
        ("INVALID_VALUE", ["input", "key"]),
        ("INVALID_VALUE", ["input", "condition", "all", "0", "value"]),
        ("INVALID_VALUE", ["input", "condition", "all", "1", "value"]),
        ("INVALID_VALUE", ["input", "condition", "all", "2", "windowDays"]),
        ("UNKNOWN_ATTRIBUTE", ["input", "condition", "all", "3", "attribute"]),
        ("INVALID_VALUE", ["input", "condition", "all", "4", "value", "0"]),
        ("INVALID_VALUE", ["input", "condition", "all", "5", "all"]),
    ]
    assert await fetch_all(connection(), "SELECT id FROM segments") == []
    both = await api.post(
        PREVIEW, {"condition": {"field": "TAG", "all": [cmp("TAG", "IN", ["a"])]}}
    )
    assert [error["extensions"]["code"] for error in both.json()["errors"]] == ["INVALID_VALUE"]
    await create_segment(api, "vip", cmp("TAG", "IN", ["vip"]))
    again = await api.data(
        CREATE,
        {
            "input": {
                "programSlug": "shop",
                "key": "vip",
                "name": "x",
                "condition": cmp("TAG", "IN", ["x"]),
            }
        },
    )
    assert codes(again["createSegment"]["userErrors"]) == ["SEGMENT_KEY_TAKEN"]


async def test_members_enter_and_leave_as_orders_refunds_profiles_and_time_move_them(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await api.data(
        ATTRIBUTES,
        {"input": {"programSlug": "shop", "attributes": [{"name": "club", "type": "STRING"}]}},
    )
    ann = (await enroll(api, customer_id="ann"))["id"]
    recent = await create_segment(api, "recent", cmp("ORDER_COUNT", "GTE", 1, windowDays=30))
    north = await create_segment(api, "north", cmp("ATTRIBUTE", "EQ", "north", attribute="club"))
    assert (recent["timeBased"], north["timeBased"]) == (True, False)
    assert recent["refreshedAt"] is not None and recent["memberCount"] == 0

    await order(api, clock, "ann", "o-1", 10)
    after_order = await kept("recent")
    refunded = await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "o-1", "idempotencyKey": "r-1"}}
    )
    assert refunded["refundOrder"]["userErrors"] == []
    after_refund = await kept("recent")
    await order(api, clock, "ann", "o-2", 10)
    clock.advance(timedelta(days=29))
    still = (await run(JobName.SEGMENTS, clock)).summary
    clock.advance(timedelta(days=2))
    lapsed = (await run(JobName.SEGMENTS, clock)).summary
    changed = await api.data(PROFILE, {"input": {"memberId": ann, "attributes": {"club": "north"}}})
    assert changed["updateMemberProfile"]["userErrors"] == []
    shown = await api.data(MEMBER_SEGMENTS, {"id": ann})
    listed = await api.data(MEMBERS_IN, {"key": "north"})

    assert (after_order, after_refund) == (["ann"], [])
    assert (still["entered"], still["left"]) == (0, 0)
    assert (lapsed["entered"], lapsed["left"]) == (0, 1)
    assert await kept("recent") == [] and await kept("north") == ["ann"]
    assert [item["segment"]["key"] for item in shown["member"]["segments"]] == ["north"]
    assert [edge["node"]["customerId"] for edge in listed["members"]["edges"]] == ["ann"]
    entered = await events_of(api, "segment.entered")
    left = await events_of(api, "segment.left")
    assert [event["payload"]["segmentKey"] for event in entered] == [
        "recent",
        "recent",
        "north",
    ]
    assert [event["payload"]["segmentKey"] for event in left] == ["recent", "recent"]
    assert all(event["memberId"] == ann for event in entered + left)
    assert await verify_ledger() == []


async def test_rules_and_rewards_target_segments(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await enroll(api, customer_id="vip-1", tags=["vip"])
    other = (await enroll(api, customer_id="other"))["id"]
    vip = (await enroll(api, customer_id="vip-2", tags=["vip"]))["id"]
    unknown = await api.data(
        CREATE_RULE,
        {
            "input": {
                "programSlug": "shop",
                "rule": {
                    "name": "VIP bonus",
                    "kind": "BONUS_PER_ORDER",
                    "points": 50,
                    "eligibleSegments": ["vip"],
                },
            }
        },
    )
    segment = await create_segment(api, "vip", cmp("TAG", "IN", ["vip"]))
    rule = await api.data(
        CREATE_RULE,
        {
            "input": {
                "programSlug": "shop",
                "rule": {
                    "name": "VIP bonus",
                    "kind": "BONUS_PER_ORDER",
                    "points": 50,
                    "eligibleSegments": ["vip"],
                },
            }
        },
    )
    assert rule["createEarningRule"]["userErrors"] == []
    reward = await create_reward(api, cost_points=5)
    restricted = await api.data(
        UPDATE_REWARD, {"input": {"id": reward["id"], "requiredSegments": ["vip"]}}
    )
    assert restricted["updateReward"]["userErrors"] == []

    vip_order = await record_order(
        api, order_id="v", customer_id="vip-2", placedAt=clock.now().isoformat()
    )
    other_order = await record_order(
        api, order_id="o", customer_id="other", placedAt=clock.now().isoformat()
    )
    refused = await api.data(
        REDEEM, {"input": {"memberId": other, "rewardId": reward["id"], "idempotencyKey": "k1"}}
    )
    allowed = await api.data(
        REDEEM, {"input": {"memberId": vip, "rewardId": reward["id"], "idempotencyKey": "k2"}}
    )
    in_use = await api.data(ARCHIVE, {"id": segment["id"]})

    assert codes(unknown["createEarningRule"]["userErrors"]) == ["SEGMENT_NOT_FOUND"]
    assert (vip_order["order"]["pointsEarned"], other_order["order"]["pointsEarned"]) == (75, 25)
    assert codes(refused["redeemReward"]["userErrors"]) == ["REWARD_SEGMENT_RESTRICTED"]
    assert allowed["redeemReward"]["userErrors"] == []
    assert codes(in_use["archiveSegment"]["userErrors"]) == ["SEGMENT_IN_USE"]


async def test_a_new_version_re_evaluates_and_archiving_stops_keeping(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await enroll(api, customer_id="a", tags=["x"])
    await enroll(api, customer_id="b", tags=["y"])
    segment = await create_segment(api, "tagged", cmp("TAG", "IN", ["x"]))
    first = await kept("tagged")

    data = await api.data(
        UPDATE, {"input": {"id": segment["id"], "condition": cmp("TAG", "IN", ["y"])}}
    )
    updated = data["updateSegment"]["segment"]
    second = await kept("tagged")
    archived = await api.data(ARCHIVE, {"id": segment["id"]})

    assert first == ["a"] and second == ["b"]
    assert updated["version"] == 2 and updated["memberCount"] == 1
    assert [item["version"] for item in updated["versions"]] == [2, 1]
    assert updated["versions"][1]["condition"] == cmp("TAG", "IN", ["x"])
    assert archived["archiveSegment"]["segment"]["archivedAt"] is not None
    assert await kept("tagged") == []


async def test_kept_memberships_equal_a_rebuild_from_scratch(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    chooser = random.Random(19)
    keys = {
        "big": cmp("SPEND", "GTE", 5000),
        "often": cmp("ORDER_COUNT", "GTE", 2, windowDays=20),
        "mixed": {"any": [cmp("TAG", "IN", ["t1"]), cmp("POINTS_AVAILABLE", "LT", 30)]},
    }
    for key, condition in keys.items():
        await create_segment(api, key, condition)
    customers = [f"c{index}" for index in range(12)]
    for customer in customers:
        await enroll(api, customer_id=customer, tags=chooser.sample(["t1", "t2", "t3"], 1))
    for index in range(40):
        clock.advance(timedelta(days=chooser.randint(0, 3)))
        await order(api, clock, chooser.choice(customers), f"o{index}", chooser.randint(5, 40))
        if chooser.random() < 0.2:
            refunded = await api.data(
                REFUND,
                {
                    "input": {
                        "programSlug": "shop",
                        "orderId": f"o{index}",
                        "idempotencyKey": f"r{index}",
                    }
                },
            )
            assert refunded["refundOrder"]["userErrors"] == []
    await run(JobName.SEGMENTS, clock)
    incremental = {key: await kept(key) for key in keys}

    await connection().execute_query("DELETE FROM segment_members")
    for row in await fetch_all(connection(), "SELECT id FROM segments ORDER BY id"):
        await refresh_segment(int(row["id"]), clock.now(), chunk=5)
    rebuilt = {key: await kept(key) for key in keys}
    previews = {key: await preview(api, condition) for key, condition in keys.items()}

    assert incremental == rebuilt == previews
    assert any(incremental.values())


async def test_members_entering_at_once_are_each_announced_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    customers = [f"c{index}" for index in range(30)]
    for customer in customers:
        await enroll(api, customer_id=customer)
    await create_segment(api, "buyers", cmp("ORDER_COUNT", "GTE", 1))

    results = await asyncio.gather(
        *(
            record_order(
                api,
                order_id=f"o-{customer}-{n}",
                customer_id=customer,
                placedAt=clock.now().isoformat(),
            )
            for customer in customers
            for n in range(2)
        )
    )

    assert all(result["userErrors"] == [] for result in results)
    assert await kept("buyers") == sorted(customers)
    entered = await fetch_all(
        connection(), "SELECT member_id FROM outbox_events WHERE type = 'segment.entered'"
    )
    assert sorted(int(row["member_id"]) for row in entered) == sorted(
        pk_of(member["id"]) for member in [await enroll_id(api, c) for c in customers]
    )


async def enroll_id(api: Api, customer: str) -> dict[str, Any]:
    data = await api.data(
        'query($c: String!) { memberByCustomerId(programSlug: "shop", customerId: $c) { id } }',
        {"c": customer},
    )
    found: dict[str, Any] = data["memberByCustomerId"]
    return found
