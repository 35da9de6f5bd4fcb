"""enrollMember, the member lookups and the paginated activity feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points, record_order
from tests.graphql.helpers import codes, global_id, snapshot, top_level_codes

ENROLL = """
mutation($input: EnrollMemberInput!) {
  enrollMember(input: $input) {
    member {
      id customerId email name birthday enrolledAt
      points { available pending lifetimeEarned lifetimeRedeemed }
      program { slug }
      activity(first: 10) { edges { cursor } pageInfo { hasNextPage endCursor } }
    }
    userErrors { field message code }
  }
}"""

MEMBER_FIELDS = "id customerId email name birthday enrolledAt points { available }"

MEMBER_BY_ID = f"query($id: ID!) {{ member(id: $id) {{ {MEMBER_FIELDS} }} }}"

MEMBER_BY_CUSTOMER_ID = f"""
query($slug: String!, $customerId: String!) {{
  memberByCustomerId(programSlug: $slug, customerId: $customerId) {{ {MEMBER_FIELDS} }}
}}"""

NODE = f"query($id: ID!) {{ node(id: $id) {{ __typename ... on Member {{ {MEMBER_FIELDS} }} }} }}"

ACTIVITY_PAGE = """
query($id: ID!, $first: Int!, $after: String) {
  member(id: $id) {
    activity(first: $first, after: $after) {
      edges { cursor node { kind points description } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

ZERO_POINTS = {"available": 0, "pending": 0, "lifetimeEarned": 0, "lifetimeRedeemed": 0}


async def enroll_payload(api: Api, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"programSlug": "shop", "customerId": "cust-1", **fields}
    data = await api.data(ENROLL, {"input": values})
    payload: dict[str, Any] = data["enrollMember"]
    return payload


async def test_enrolling_returns_the_new_member_with_zero_points(api: Api) -> None:
    await create_program(api)
    before = datetime.now(UTC)

    payload = await enroll_payload(
        api, email="ada@example.com", name="Ada Lovelace", birthday="1990-04-01"
    )

    assert payload["userErrors"] == []
    member = payload["member"]
    assert member["customerId"] == "cust-1"
    assert member["email"] == "ada@example.com"
    assert member["name"] == "Ada Lovelace"
    assert member["birthday"] == "1990-04-01"
    assert member["points"] == ZERO_POINTS
    assert member["program"] == {"slug": "shop"}
    assert member["activity"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    enrolled_at = datetime.fromisoformat(member["enrolledAt"])
    assert enrolled_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= enrolled_at <= datetime.now(UTC) + timedelta(seconds=1)


async def test_optional_fields_may_be_left_out_and_text_is_trimmed(api: Api) -> None:
    await create_program(api)

    payload = await enroll_payload(api, customerId="  cust-7  ", email="", name="   ")

    assert payload["userErrors"] == []
    member = payload["member"]
    assert member["customerId"] == "cust-7"
    assert member["email"] is None
    assert member["name"] is None
    assert member["birthday"] is None
    assert member["points"] == ZERO_POINTS


async def test_limits_are_inclusive(api: Api) -> None:
    await create_program(api)

    payload = await enroll_payload(
        api,
        customerId="c" * 128,
        name="n" * 200,
        email="a" * 242 + "@example.com",  # 254 characters
        birthday=datetime.now(UTC).date().isoformat(),
    )

    assert payload["userErrors"] == []
    assert payload["member"]["customerId"] == "c" * 128
    assert payload["member"]["name"] == "n" * 200


async def test_second_enrolment_of_a_customer_is_refused_and_the_first_is_unchanged(
    api: Api,
) -> None:
    await create_program(api)
    first = await enroll(api, email="first@example.com", name="First")
    before = await snapshot()

    second = await enroll_payload(api, email="second@example.com", name="Second")

    assert second["member"] is None
    assert second["userErrors"] == [
        {
            "field": ["input", "customerId"],
            "message": "customer 'cust-1' is already a member of 'shop'",
            "code": "MEMBER_ALREADY_ENROLLED",
        }
    ]
    assert await snapshot() == before
    data = await api.data(MEMBER_BY_CUSTOMER_ID, {"slug": "shop", "customerId": "cust-1"})
    assert data["memberByCustomerId"]["id"] == first["id"]
    assert data["memberByCustomerId"]["email"] == "first@example.com"
    assert data["memberByCustomerId"]["name"] == "First"


async def test_a_trimmed_duplicate_customer_id_is_the_same_customer(api: Api) -> None:
    await create_program(api)
    await enroll(api, customer_id="cust-1")
    before = await snapshot()

    again = await enroll_payload(api, customerId=" cust-1 ")

    assert codes(again["userErrors"]) == ["MEMBER_ALREADY_ENROLLED"]
    assert await snapshot() == before


async def test_the_same_customer_may_join_two_programs(api: Api) -> None:
    await create_program(api, slug="shop")
    await create_program(api, slug="other")
    in_shop = await enroll(api, program_slug="shop")

    in_other = await enroll(api, program_slug="other")

    assert in_other["id"] != in_shop["id"]
    assert in_other["customerId"] == in_shop["customerId"] == "cust-1"


async def test_enrolling_in_an_unknown_program_is_refused(api: Api) -> None:
    await create_program(api)
    before = await snapshot()

    payload = await enroll_payload(api, programSlug="nope")

    assert payload["member"] is None
    assert payload["userErrors"] == [
        {
            "field": ["input", "programSlug"],
            "message": "no program with slug 'nope'",
            "code": "PROGRAM_NOT_FOUND",
        }
    ]
    assert await snapshot() == before


async def test_bad_enrolments_are_refused_with_precise_codes_and_write_nothing(
    api: Api,
) -> None:
    await create_program(api)
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"customerId": ""}, "REQUIRED", ["input", "customerId"]),
        ({"customerId": "   "}, "REQUIRED", ["input", "customerId"]),
        ({"customerId": "c" * 129}, "TOO_LONG", ["input", "customerId"]),
        ({"name": "n" * 201}, "TOO_LONG", ["input", "name"]),
        ({"email": "a" * 250 + "@example.com"}, "TOO_LONG", ["input", "email"]),
        ({"email": "not-an-email"}, "INVALID_VALUE", ["input", "email"]),
        ({"email": "ada @example.com"}, "INVALID_VALUE", ["input", "email"]),
        ({"email": "ada@"}, "INVALID_VALUE", ["input", "email"]),
        ({"birthday": tomorrow}, "INVALID_VALUE", ["input", "birthday"]),
    ]
    before = await snapshot()
    for fields, code, field in cases:
        payload = await enroll_payload(api, **fields)

        assert payload["member"] is None, fields
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)], fields
    assert await snapshot() == before


async def test_every_problem_of_an_enrolment_is_reported_at_once(api: Api) -> None:
    await create_program(api)
    before = await snapshot()

    payload = await enroll_payload(
        api, customerId="", email="nope", name="n" * 201, birthday=date(2999, 1, 1).isoformat()
    )

    assert payload["member"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("REQUIRED", ["input", "customerId"]),
        ("INVALID_VALUE", ["input", "email"]),
        ("TOO_LONG", ["input", "name"]),
        ("INVALID_VALUE", ["input", "birthday"]),
    ]
    assert await snapshot() == before


async def test_a_member_is_found_by_id_by_customer_id_and_as_a_node(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, email="ada@example.com")
    await enroll(api, customer_id="cust-2")

    by_id = (await api.data(MEMBER_BY_ID, {"id": member["id"]}))["member"]
    customer = {"slug": "shop", "customerId": "cust-1"}
    by_customer = (await api.data(MEMBER_BY_CUSTOMER_ID, customer))["memberByCustomerId"]
    as_node = (await api.data(NODE, {"id": member["id"]}))["node"]

    assert by_id["id"] == member["id"]
    assert by_id["customerId"] == "cust-1"
    assert by_id["email"] == "ada@example.com"
    assert by_customer == by_id
    assert as_node == {"__typename": "Member", **by_id}


async def test_lookups_of_unknown_members_are_null(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    unknown_customer = await api.data(
        MEMBER_BY_CUSTOMER_ID, {"slug": "shop", "customerId": "stranger"}
    )
    unknown_program = await api.data(
        MEMBER_BY_CUSTOMER_ID, {"slug": "nope", "customerId": "cust-1"}
    )
    unknown_id = await api.data(MEMBER_BY_ID, {"id": global_id("Member", 999_999)})

    assert unknown_customer == {"memberByCustomerId": None}
    assert unknown_program == {"memberByCustomerId": None}
    assert unknown_id == {"member": None}
    assert (await api.data(MEMBER_BY_ID, {"id": member["id"]}))["member"] is not None


async def test_activity_is_paginated_newest_first_with_cursors(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    for points in (10, 20, 30, 40):
        await grant_points(api, member["id"], points, key=f"grant-{points}")
    await record_order(api)  # 25 points

    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = await api.data(ACTIVITY_PAGE, {"id": member["id"], "first": 2, "after": after})
        page = data["member"]["activity"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [[edge["node"]["points"] for edge in page["edges"]] for page in pages] == [
        [25, 40],
        [30, 20],
        [10],
    ]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    for page in pages:
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    cursors = [edge["cursor"] for page in pages for edge in page["edges"]]
    assert len(set(cursors)) == 5
    assert pages[0]["edges"][0]["node"] == {
        "kind": "EARN_ORDER",
        "points": 25,
        "description": "Order order-1",
    }
    assert pages[2]["edges"][0]["node"] == {
        "kind": "ADJUST",
        "points": 10,
        "description": "test credit",
    }


async def test_activity_after_the_last_cursor_is_an_empty_page(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10)
    first = await api.data(ACTIVITY_PAGE, {"id": member["id"], "first": 1, "after": None})
    last_cursor = first["member"]["activity"]["pageInfo"]["endCursor"]

    data = await api.data(ACTIVITY_PAGE, {"id": member["id"], "first": 1, "after": last_cursor})

    assert first["member"]["activity"]["pageInfo"]["hasNextPage"] is False
    assert data["member"]["activity"] == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }


async def test_activity_page_size_must_be_between_1_and_100(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10)

    for first in (0, 101, -1):
        body = await api.gql(ACTIVITY_PAGE, {"id": member["id"], "first": first, "after": None})

        assert top_level_codes(body) == ["INVALID_VALUE"], (first, body)
        assert body["errors"][0]["message"] == "first must be between 1 and 100"
        assert body["errors"][0]["path"] == ["member", "activity"]
        assert body["data"] == {"member": {"activity": None}}
    for first in (1, 100):
        data = await api.data(ACTIVITY_PAGE, {"id": member["id"], "first": first, "after": None})
        assert len(data["member"]["activity"]["edges"]) == 1


async def test_a_malformed_or_foreign_activity_cursor_is_an_invalid_cursor(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    for after in ("!!!", global_id("Member", 1), global_id("cursor.Referral", 1)):
        body = await api.gql(ACTIVITY_PAGE, {"id": member["id"], "first": 5, "after": after})

        assert top_level_codes(body) == ["INVALID_CURSOR"], (after, body)
        assert body["errors"][0]["path"] == ["member", "activity"]
        assert body["data"] == {"member": {"activity": None}}
