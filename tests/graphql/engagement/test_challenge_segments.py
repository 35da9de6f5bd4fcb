"""Challenges restricted to segments (`eligibleSegments`): only members in one of them progress
and see the challenge, asked live when an order or action counts; unknown keys are refused;
a segment an active challenge targets cannot be archived. Both databases."""

from __future__ import annotations

from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.engagement.factories import (
    ARCHIVE_CHALLENGE,
    CREATE_ACTION_RULE,
    RECORD_ACTION,
    UPDATE_CHALLENGE,
    challenge,
    create_challenge,
    progress_rows,
    standing,
)
from tests.graphql.factories import create_program, enroll, record_order
from tests.graphql.helpers import codes, rows
from tests.graphql.test_query_counts import statements_of

CREATE_SEGMENT = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id } userErrors { field code } }
}"""
ARCHIVE_SEGMENT = """
mutation($id: ID!) {
  archiveSegment(input: { id: $id }) { segment { archivedAt } userErrors { field code message } }
}"""
PROFILE = """
mutation($input: UpdateMemberProfileInput!) {
  updateMemberProfile(input: $input) { userErrors { field code } }
}"""
ELIGIBLE = """
query($id: ID!) { node(id: $id) { ... on Challenge { eligibleSegments } } }"""
JANUARY = "2030-01-05T10:00:00+00:00"


async def segment(api: Api, key: str, tag: str) -> str:
    """A segment of the members tagged `tag`; its id."""
    data = await api.data(
        CREATE_SEGMENT,
        {
            "input": {
                "programSlug": "shop",
                "key": key,
                "name": key.title(),
                "condition": {"field": "TAG", "operator": "IN", "value": [tag]},
            }
        },
    )
    assert data["createSegment"]["userErrors"] == []
    segment_id: str = data["createSegment"]["segment"]["id"]
    return segment_id


async def order(api: Api, customer: str, order_id: str) -> None:
    recorded = await record_order(api, order_id=order_id, customer_id=customer, placedAt=JANUARY)
    assert recorded["userErrors"] == [], recorded["userErrors"]


async def tag(api: Api, member_id: str, tags: list[str]) -> None:
    changed = await api.data(PROFILE, {"input": {"memberId": member_id, "tags": tags}})
    assert changed["updateMemberProfile"]["userErrors"] == []


def shown(member: dict[str, Any]) -> list[tuple[str, int]]:
    return [(item["challenge"]["name"], item["progress"]) for item in member["challenges"]]


async def test_a_segment_challenge_counts_and_shows_only_for_members_in_the_segment(
    api: Api,
) -> None:
    # given a VIP segment, a VIP and another member, a challenge for VIPs and one for everyone
    await create_program(api)
    vip = await enroll(api, customer_id="vip", tags=["vip"])
    other = await enroll(api, customer_id="other")
    await segment(api, "vip", "vip")
    for_vips = await challenge(
        api, name="VIP orders", target=3, points=100, eligibleSegments=["vip", "vip"]
    )
    await challenge(api, name="Everyone's orders", target=3, points=100)
    # when each orders once
    await order(api, "vip", "vip-1")
    await order(api, "other", "other-1")
    # then the VIP advances on both, the other member only on the open one, and sees only it
    vip_rows = await progress_rows(vip["id"])
    other_rows_before = await progress_rows(other["id"])
    vip_sees = shown(await standing(api, vip["id"]))
    other_sees_before = shown(await standing(api, other["id"]))
    # when the other member joins the segment and orders again
    await tag(api, other["id"], ["vip"])
    await order(api, "other", "other-2")
    # then their counting starts with that order (the earlier one is not counted later)
    other_rows_after = await progress_rows(other["id"])
    other_sees_after = shown(await standing(api, other["id"]))
    eligible = await api.data(ELIGIBLE, {"id": for_vips["id"]})

    assert vip_rows == [("ALL", 1, False), ("ALL", 1, False)]
    assert other_rows_before == [("ALL", 1, False)]
    assert vip_sees == [("VIP orders", 1), ("Everyone's orders", 1)]
    assert other_sees_before == [("Everyone's orders", 1)]
    assert other_rows_after == [("ALL", 1, False), ("ALL", 2, False)]
    assert other_sees_after == [("VIP orders", 1), ("Everyone's orders", 2)]
    assert eligible["node"] == {"eligibleSegments": ["vip"]}


async def test_a_member_who_leaves_the_segment_stops_counting_actions_and_keeps_progress(
    api: Api,
) -> None:
    # given a review challenge for VIPs and a VIP member
    await create_program(api)
    vip = await enroll(api, customer_id="vip", tags=["vip"])
    await segment(api, "vip", "vip")
    rule = {"name": "Review", "action": "PRODUCT_REVIEW", "points": 5, "frequency": "UNLIMITED"}
    made = await api.data(CREATE_ACTION_RULE, {"input": {"programSlug": "shop", "rule": rule}})
    assert made["createActionRule"]["userErrors"] == []
    await challenge(
        api,
        name="Two reviews",
        goal="ACTION_COUNT",
        action="PRODUCT_REVIEW",
        target=2,
        points=50,
        eligibleSegments=["vip"],
    )

    async def review(key: str) -> None:
        values = {"memberId": vip["id"], "action": "PRODUCT_REVIEW", "idempotencyKey": key}
        done = await api.data(RECORD_ACTION, {"input": values})
        assert done["recordAction"]["userErrors"] == [], done

    # when the VIP reviews once, leaves the segment and reviews again
    await review("review-1")
    await tag(api, vip["id"], [])
    await review("review-2")
    # then only the first review counted; the progress stays, the challenge is not shown
    assert await progress_rows(vip["id"]) == [("ALL", 1, False)]
    assert shown(await standing(api, vip["id"])) == []


async def test_unknown_segment_keys_are_refused_and_nothing_is_written(api: Api) -> None:
    await create_program(api)
    await segment(api, "vip", "vip")
    archived = await segment(api, "gone", "gone")
    assert (await api.data(ARCHIVE_SEGMENT, {"id": archived}))["archiveSegment"]["userErrors"] == []
    open_one = await challenge(api, name="Open")

    unknown = await create_challenge(api, name="Ghosts", eligibleSegments=["vip", "nobody"])
    of_archived = await create_challenge(api, name="Gone", eligibleSegments=["gone"])
    blank = await create_challenge(api, name="Blank", eligibleSegments=[" "])
    changed = await api.data(
        UPDATE_CHALLENGE, {"input": {"id": open_one["id"], "eligibleSegments": ["nobody"]}}
    )
    challenges = len(await rows("SELECT id FROM challenges"))
    still_open = await api.data(ELIGIBLE, {"id": open_one["id"]})

    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        (["input", "eligibleSegments"], "SEGMENT_NOT_FOUND")
    ]
    assert codes(of_archived["userErrors"]) == ["SEGMENT_NOT_FOUND"]
    assert [(e["field"], e["code"]) for e in blank["userErrors"]] == [
        (["input", "eligibleSegments", "0"], "REQUIRED")
    ]
    assert [(e["field"], e["code"]) for e in changed["updateChallenge"]["userErrors"]] == [
        (["input", "eligibleSegments"], "SEGMENT_NOT_FOUND")
    ]
    assert challenges == 1
    assert still_open["node"] == {"eligibleSegments": []}


async def test_a_segment_a_challenge_targets_is_in_use_until_the_challenge_is_archived(
    api: Api,
) -> None:
    # given a challenge for VIPs, paused
    await create_program(api)
    vip = await segment(api, "vip", "vip")
    made = await challenge(api, name="VIP orders", eligibleSegments=["vip"])
    paused = await api.data(
        """mutation($input: SetChallengePausedInput!) {
          setChallengePaused(input: $input) { userErrors { code } } }""",
        {"input": {"id": made["id"], "paused": True}},
    )
    assert paused["setChallengePaused"]["userErrors"] == []
    # when the segment is archived while the challenge is paused, then once it is archived
    refused = (await api.data(ARCHIVE_SEGMENT, {"id": vip}))["archiveSegment"]
    archived_challenge = await api.data(ARCHIVE_CHALLENGE, {"input": {"id": made["id"]}})
    assert archived_challenge["archiveChallenge"]["userErrors"] == []
    allowed = (await api.data(ARCHIVE_SEGMENT, {"id": vip}))["archiveSegment"]

    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "id"], "SEGMENT_IN_USE")
    ]
    assert "challenge 'VIP orders'" in refused["userErrors"][0]["message"]
    assert refused["segment"] is None
    assert allowed["userErrors"] == []
    assert allowed["segment"]["archivedAt"] is not None


MEMBER_PAGE = """
query($first: Int!) {
  members(programSlug: "shop", first: $first, orderBy: OLDEST_FIRST) {
    edges { node { id challenges { challenge { name } progress } } }
  }
}"""


async def test_a_page_of_members_reads_their_challenges_in_a_fixed_number_of_statements(
    api: Api,
) -> None:
    # (each document once: with plans checked, every query would also run through its plan)
    api.check_plans = False
    # given VIPs and others, a challenge for VIPs and one for everyone, and some orders
    await create_program(api)
    await segment(api, "vip", "vip")
    for number in range(6):
        tags = ["vip"] if number % 2 == 0 else []
        await enroll(api, customer_id=f"cust-{number}", tags=tags)
    await challenge(api, name="VIP orders", target=3, points=100, eligibleSegments=["vip"])
    await challenge(api, name="Everyone's orders", target=3, points=100)
    for number in range(6):
        for repeat in range(number % 3):
            await order(api, f"cust-{number}", f"order-{number}-{repeat}")

    # when a page of 2 and a page of 6 are read
    two = await statements_of(api, MEMBER_PAGE, {"first": 2})
    six = await statements_of(api, MEMBER_PAGE, {"first": 6})
    page = (await api.data(MEMBER_PAGE, {"first": 6}))["members"]["edges"]

    # then they cost the same, and each member sees what reading them alone shows
    assert two == six, (two, six)
    for edge in page:
        assert shown(edge["node"]) == shown(await standing(api, edge["node"]["id"]))
    assert [shown(edge["node"]) for edge in page] == [
        [("VIP orders", 0), ("Everyone's orders", 0)],
        [("Everyone's orders", 1)],
        [("VIP orders", 2), ("Everyone's orders", 2)],
        [("Everyone's orders", 0)],
        [("VIP orders", 1), ("Everyone's orders", 1)],
        [("Everyone's orders", 2)],
    ]
