"""API keys: who may call at all, what each kind may read and change, and program isolation."""

from __future__ import annotations

from typing import Any

import httpx

from app.auth.api_keys import KeyKind
from app.services.access.api_keys import create_api_key
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    CREATE_PROGRAM,
    CREATE_REWARD,
    ENROLL,
    MEMBER,
    RECORD_ORDER,
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    order_input,
    program_key,
    record_order,
)
from tests.graphql.helpers import codes, revoke_key, snapshot, top_level_codes

PROGRAMS = "{ programs { slug } }"
PROGRAM = "query($slug: String!) { program(slug: $slug) { slug currency } }"
REWARDS = "query($slug: String!) { rewards(programSlug: $slug) { name costPoints } }"
MEMBER_BY_CUSTOMER_ID = """
query($slug: String!, $customerId: String!) {
  memberByCustomerId(programSlug: $slug, customerId: $customerId) { id }
}"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
PROGRAM_ID = "query($slug: String!) { program(slug: $slug) { id } }"
ACTIVITY_IDS = "query($id: ID!) { member(id: $id) { activity { edges { node { id } } } } }"
EVENTS = """
query($slug: String!, $first: Int!, $after: String, $type: String) {
  events(programSlug: $slug, first: $first, after: $after, type: $type) {
    edges { cursor node { id type memberId payload createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def unauthenticated_body(response: httpx.Response) -> dict[str, Any]:
    """The 401 body; its request id is the one in the response header."""
    return {
        "errors": [
            {
                "message": "the API key is not valid",
                "extensions": {
                    "code": "UNAUTHENTICATED",
                    "requestId": response.headers["x-request-id"],
                },
            }
        ]
    }


def enroll_input(slug: str = "shop", customer_id: str = "cust-9") -> dict[str, Any]:
    return {"input": {"programSlug": slug, "customerId": customer_id}}


def redeem_input(member_id: str, reward_id: str) -> dict[str, Any]:
    return {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": "r-1"}}


def reward_input(slug: str = "shop") -> dict[str, Any]:
    return {
        "input": {
            "programSlug": slug,
            "name": "Mug",
            "kind": "FREE_PRODUCT",
            "costPoints": 10,
            "skus": ["MUG"],
        }
    }


def program_input(slug: str = "new") -> dict[str, Any]:
    return {"input": {"slug": slug, "name": "New", "currency": "EUR", "pointsPerCurrencyUnit": 1}}


async def two_programs(api: Api) -> dict[str, Any]:
    """Programs `a` and `b`, each with a member `cust-1` holding 100 points and a reward."""
    made: dict[str, Any] = {}
    for slug in ("a", "b"):
        await create_program(api, slug=slug)
        member = await enroll(api, program_slug=slug)
        await grant_points(api, member["id"], 100, key=f"grant-{slug}")
        made[slug] = {
            "member": member,
            "reward": await create_reward(api, program_slug=slug, cost_points=10),
        }
    return made


# --- Who may call at all ----------------------------------------------------------------------


async def test_a_request_without_a_key_is_refused_with_401(api: Api) -> None:
    await create_program(api)

    response = await api.http.post("/graphql", json={"query": PROGRAMS})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {
        "errors": [
            {
                "message": "send an API key as `Authorization: Bearer <key>`",
                "extensions": {
                    "code": "UNAUTHENTICATED",
                    "requestId": response.headers["x-request-id"],
                },
            }
        ]
    }
    assert "data" not in body


async def test_a_wrong_key_is_refused_with_401(api: Api) -> None:
    for key in ("laurel_admin_not-a-real-key", "nonsense", "laurel_" + "x" * 300):
        response = await api.post(PROGRAMS, key=key)

        assert response.status_code == 401, key
        assert response.json() == unauthenticated_body(response)


async def test_a_key_sent_with_another_scheme_is_refused_with_401(api: Api) -> None:
    for header in (f"Basic {api.admin_key}", api.admin_key, f"Token {api.admin_key}"):
        response = await api.http.post(
            "/graphql", json={"query": PROGRAMS}, headers={"Authorization": header}
        )

        assert response.status_code == 401, header
        assert response.json() == unauthenticated_body(response)


async def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = await api.http.post(
        "/graphql", json={"query": PROGRAMS}, headers={"Authorization": f"bearer {api.admin_key}"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"programs": []}}


async def test_a_revoked_key_is_refused_with_401(api: Api) -> None:
    await create_program(api)
    revoked = await create_api_key(KeyKind.SECRET, "shop", "to be revoked")
    kept = await create_api_key(KeyKind.SECRET, "shop", "kept")
    await revoke_key(revoked.id)

    response = await api.post(PROGRAMS, key=revoked.secret)

    assert response.status_code == 401
    assert response.json() == unauthenticated_body(response)
    assert await api.data(PROGRAMS, key=kept.secret) == {"programs": [{"slug": "shop"}]}


async def test_a_refused_request_writes_nothing(api: Api) -> None:
    await create_program(api)
    before = await snapshot()

    response = await api.post(ENROLL, enroll_input(), key="laurel_admin_wrong")

    assert response.status_code == 401
    assert await snapshot() == before


# --- Publishable keys -------------------------------------------------------------------------


async def test_a_publishable_key_reads_its_program_and_rewards(api: Api) -> None:
    await create_program(api)
    await create_reward(api, name="Mug", cost_points=10)
    key = await program_key("shop", KeyKind.PUBLISHABLE)

    program = await api.data(PROGRAM, {"slug": "shop"}, key=key)
    rewards = await api.data(REWARDS, {"slug": "shop"}, key=key)
    programs = await api.data(PROGRAMS, key=key)

    assert program == {"program": {"slug": "shop", "currency": "EUR"}}
    assert rewards == {"rewards": [{"name": "Mug", "costPoints": 10}]}
    assert programs == {"programs": [{"slug": "shop"}]}


async def test_a_publishable_key_cannot_read_members(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    key = await program_key("shop", KeyKind.PUBLISHABLE)

    by_id = await api.gql(MEMBER, {"id": member["id"]}, key=key)
    by_customer = await api.gql(
        MEMBER_BY_CUSTOMER_ID, {"slug": "shop", "customerId": "cust-1"}, key=key
    )
    as_node = await api.gql(NODE, {"id": member["id"]}, key=key)

    assert by_id["data"] == {"member": None}
    assert by_customer["data"] == {"memberByCustomerId": None}
    assert as_node["data"] == {"node": None}
    for body, path in ((by_id, "member"), (by_customer, "memberByCustomerId"), (as_node, "node")):
        assert top_level_codes(body) == ["FORBIDDEN"], body
        assert body["errors"][0]["path"] == [path]
        assert body["errors"][0]["message"] == (
            "a publishable key cannot read or change member data"
        )


async def test_a_publishable_key_cannot_change_members(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10)
    await grant_points(api, member["id"], 100)
    key = await program_key("shop", KeyKind.PUBLISHABLE)
    before = await snapshot()

    enrolled = await api.data(ENROLL, enroll_input(), key=key)
    recorded = await api.data(RECORD_ORDER, {"input": order_input()}, key=key)
    redeemed = await api.data(REDEEM, redeem_input(member["id"], reward["id"]), key=key)

    forbidden = [
        {
            "field": None,
            "message": "a publishable key cannot read or change member data",
            "code": "FORBIDDEN",
        }
    ]
    assert enrolled["enrollMember"] == {"member": None, "userErrors": forbidden}
    assert recorded["recordOrder"] == {
        "order": None,
        "alreadyRecorded": False,
        "userErrors": forbidden,
    }
    assert redeemed["redeemReward"] == {"redemption": None, "userErrors": forbidden}
    assert await snapshot() == before


# --- Secret keys: one program only ------------------------------------------------------------


async def test_a_secret_key_sees_only_its_own_program(api: Api) -> None:
    made = await two_programs(api)
    key = await program_key("a")

    programs = await api.data(PROGRAMS, key=key)
    program_b = await api.data(PROGRAM, {"slug": "b"}, key=key)
    rewards_b = await api.data(REWARDS, {"slug": "b"}, key=key)
    member_b = await api.data(MEMBER, {"id": made["b"]["member"]["id"]}, key=key)
    member_b_by_customer = await api.data(
        MEMBER_BY_CUSTOMER_ID, {"slug": "b", "customerId": "cust-1"}, key=key
    )
    member_a = await api.data(MEMBER, {"id": made["a"]["member"]["id"]}, key=key)

    assert programs == {"programs": [{"slug": "a"}]}
    assert program_b == {"program": None}
    assert rewards_b == {"rewards": []}
    assert member_b == {"member": None}
    assert member_b_by_customer == {"memberByCustomerId": None}
    assert member_a["member"]["id"] == made["a"]["member"]["id"]
    assert member_a["member"]["points"]["available"] == 100


async def test_a_secret_key_finds_no_node_of_another_program(api: Api) -> None:
    made = await two_programs(api)
    ids: dict[str, dict[str, str]] = {}
    for slug in ("a", "b"):
        member_id = made[slug]["member"]["id"]
        order = await record_order(api, program_slug=slug, order_id=f"order-{slug}")
        redeemed = await api.data(REDEEM, redeem_input(member_id, made[slug]["reward"]["id"]))
        activity = await api.data(ACTIVITY_IDS, {"id": member_id})
        ids[slug] = {
            "Program": (await api.data(PROGRAM_ID, {"slug": slug}))["program"]["id"],
            "Member": member_id,
            "Reward": made[slug]["reward"]["id"],
            "Order": order["order"]["id"],
            "Redemption": redeemed["redeemReward"]["redemption"]["id"],
            "Activity": activity["member"]["activity"]["edges"][0]["node"]["id"],
        }
    key = await program_key("a")

    found_a = {name: await api.data(NODE, {"id": gid}, key=key) for name, gid in ids["a"].items()}
    found_b = {name: await api.data(NODE, {"id": gid}, key=key) for name, gid in ids["b"].items()}

    assert found_a == {
        name: {"node": {"__typename": name, "id": gid}} for name, gid in ids["a"].items()
    }
    assert found_b == {name: {"node": None} for name in ids["b"]}


async def test_a_publishable_key_finds_program_and_reward_nodes_only(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api)
    order = await record_order(api)
    program_id = (await api.data(PROGRAM_ID, {"slug": "shop"}))["program"]["id"]
    key = await program_key("shop", KeyKind.PUBLISHABLE)

    program = await api.data(NODE, {"id": program_id}, key=key)
    reward_node = await api.data(NODE, {"id": reward["id"]}, key=key)
    order_node = await api.gql(NODE, {"id": order["order"]["id"]}, key=key)
    member_node = await api.gql(NODE, {"id": member["id"]}, key=key)

    assert program == {"node": {"__typename": "Program", "id": program_id}}
    assert reward_node == {"node": {"__typename": "Reward", "id": reward["id"]}}
    for body in (order_node, member_node):
        assert body["data"] == {"node": None}
        assert top_level_codes(body) == ["FORBIDDEN"]


async def test_only_an_admin_may_read_an_event_node(api: Api) -> None:
    await create_program(api)
    events = await api.data(EVENTS, {"slug": "shop", "first": 1})
    event_id = events["events"]["edges"][0]["node"]["id"]
    key = await program_key("shop")

    as_admin = await api.data(NODE, {"id": event_id})
    as_secret = await api.gql(NODE, {"id": event_id}, key=key)

    assert as_admin == {"node": {"__typename": "Event", "id": event_id}}
    assert as_secret["data"] == {"node": None}
    assert top_level_codes(as_secret) == ["FORBIDDEN"]


async def test_a_secret_key_cannot_write_to_another_program(api: Api) -> None:
    made = await two_programs(api)
    key = await program_key("a")
    before = await snapshot()

    enrolled = await api.data(ENROLL, enroll_input("b"), key=key)
    recorded = await api.data(RECORD_ORDER, {"input": order_input(program_slug="b")}, key=key)
    redeemed = await api.data(
        REDEEM, redeem_input(made["b"]["member"]["id"], made["b"]["reward"]["id"]), key=key
    )
    redeemed_foreign_reward = await api.data(
        REDEEM, redeem_input(made["a"]["member"]["id"], made["b"]["reward"]["id"]), key=key
    )

    assert enrolled["enrollMember"]["member"] is None
    assert enrolled["enrollMember"]["userErrors"] == [
        {
            "field": ["input", "programSlug"],
            "message": "no program with slug 'b'",
            "code": "PROGRAM_NOT_FOUND",
        }
    ]
    assert recorded["recordOrder"]["order"] is None
    assert codes(recorded["recordOrder"]["userErrors"]) == ["PROGRAM_NOT_FOUND"]
    assert redeemed["redeemReward"] == {
        "redemption": None,
        "userErrors": [
            {
                "field": ["input", "memberId"],
                "message": "no such member",
                "code": "MEMBER_NOT_FOUND",
            }
        ],
    }
    assert redeemed_foreign_reward["redeemReward"]["redemption"] is None
    assert codes(redeemed_foreign_reward["redeemReward"]["userErrors"]) == ["REWARD_NOT_FOUND"]
    assert await snapshot() == before


async def test_a_secret_key_works_on_its_own_program(api: Api) -> None:
    made = await two_programs(api)
    key = await program_key("a")

    enrolled = await api.data(ENROLL, enroll_input("a"), key=key)
    recorded = await api.data(
        RECORD_ORDER, {"input": order_input(program_slug="a", customer_id="cust-9")}, key=key
    )
    redeemed = await api.data(
        REDEEM, redeem_input(made["a"]["member"]["id"], made["a"]["reward"]["id"]), key=key
    )

    assert enrolled["enrollMember"]["userErrors"] == []
    assert recorded["recordOrder"]["userErrors"] == []
    assert recorded["recordOrder"]["order"]["pointsEarned"] == 25
    assert redeemed["redeemReward"]["userErrors"] == []
    assert redeemed["redeemReward"]["redemption"]["member"]["points"]["available"] == 90


async def test_only_an_admin_may_create_programs_and_rewards(api: Api) -> None:
    await create_program(api)
    keys = [await program_key("shop", kind) for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE)]
    before = await snapshot()

    for key in keys:
        program = await api.data(CREATE_PROGRAM, program_input(), key=key)
        reward = await api.data(CREATE_REWARD, reward_input(), key=key)

        forbidden = [{"field": None, "message": "this needs an admin key", "code": "FORBIDDEN"}]
        assert program["createProgram"] == {"program": None, "userErrors": forbidden}
        assert reward["createReward"] == {"reward": None, "userErrors": forbidden}
    assert await snapshot() == before


# --- The event outbox -------------------------------------------------------------------------


async def test_only_an_admin_may_read_events(api: Api) -> None:
    await create_program(api)
    keys = [await program_key("shop", kind) for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE)]

    for key in keys:
        body = await api.gql(EVENTS, {"slug": "shop", "first": 10}, key=key)

        assert top_level_codes(body) == ["FORBIDDEN"]
        assert body["errors"][0]["message"] == "this needs an admin key"
        assert body["data"] == {"events": None}


async def test_events_list_what_happened_in_order_with_keyset_pagination(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    member = await enroll(api)
    await enroll(api, program_slug="other")
    await record_order(api)
    await grant_points(api, member["id"], 100)
    reward = await create_reward(api, cost_points=30)
    await api.data(REDEEM, redeem_input(member["id"], reward["id"]))

    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        data = await api.data(EVENTS, {"slug": "shop", "first": 2, "after": after})
        pages.append(data["events"])
        if not data["events"]["pageInfo"]["hasNextPage"]:
            break
        after = data["events"]["pageInfo"]["endCursor"]

    edges = [edge for page in pages for edge in page["edges"]]
    assert [edge["node"]["type"] for edge in edges] == [
        "program.created",
        "member.enrolled",
        "points.earned",
        "order.recorded",
        "points.adjusted",
        "reward.created",
        "points.spent",
        "reward.redeemed",
    ]
    assert [len(page["edges"]) for page in pages] == [2, 2, 2, 2]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, True, False]
    for page in pages:
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    assert [edge["node"]["memberId"] for edge in edges] == [
        None,
        member["id"],
        member["id"],
        member["id"],
        member["id"],
        None,
        member["id"],
        member["id"],
    ]
    assert edges[0]["node"]["payload"] == {
        "programId": edges[0]["node"]["payload"]["programId"],
        "slug": "shop",
        "name": "shop rewards",
        "currency": "EUR",
    }
    assert edges[1]["node"]["payload"]["customerId"] == "cust-1"
    earned = edges[2]["node"]["payload"]
    assert earned["kind"] == "EARN_ORDER"
    assert earned["points"] == 25
    assert earned["availableAfter"] == 25
    assert earned["orderId"] == "order-1"
    recorded = edges[3]["node"]["payload"]
    assert recorded["orderId"] == "order-1"
    assert recorded["pointsEarned"] == 25
    assert recorded["totalMinor"] == 2500
    redeemed = edges[6]["node"]["payload"]
    assert redeemed["points"] == -30
    assert redeemed["availableAfter"] == 95


async def test_events_can_be_filtered_by_type(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api)
    await record_order(api, order_id="order-2")
    await grant_points(api, member["id"], 100)

    data = await api.data(EVENTS, {"slug": "shop", "first": 10, "type": "points.earned"})

    assert [edge["node"]["payload"]["orderId"] for edge in data["events"]["edges"]] == [
        "order-1",
        "order-2",
    ]
    assert data["events"]["pageInfo"]["hasNextPage"] is False


async def test_events_of_an_unknown_program_are_an_empty_page(api: Api) -> None:
    await create_program(api)

    data = await api.data(EVENTS, {"slug": "nope", "first": 10})

    assert data["events"] == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_events_page_size_must_be_between_1_and_100(api: Api) -> None:
    await create_program(api)

    for first in (0, 101):
        body = await api.gql(EVENTS, {"slug": "shop", "first": first})

        assert top_level_codes(body) == ["INVALID_VALUE"], first
        assert body["data"] == {"events": None}


async def test_a_malformed_or_foreign_events_cursor_is_an_invalid_cursor(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10)
    activity_page = await api.data(
        "query($id: ID!) { member(id: $id) { activity(first: 1) { pageInfo { endCursor } } } }",
        {"id": member["id"]},
    )
    foreign = activity_page["member"]["activity"]["pageInfo"]["endCursor"]
    assert foreign is not None

    for after in ("!!!", member["id"], foreign):
        body = await api.gql(EVENTS, {"slug": "shop", "first": 10, "after": after})

        assert top_level_codes(body) == ["INVALID_CURSOR"], after
        assert body["data"] == {"events": None}


# --- Routes -----------------------------------------------------------------------------------


async def test_a_query_by_get_is_answered_as_by_post(api: Api) -> None:
    await create_program(api)
    response = await api.http.get(
        "/graphql",
        params={"query": PROGRAMS},
        headers={"Authorization": f"Bearer {api.admin_key}"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == await api.gql(PROGRAMS)


async def test_healthz_needs_no_key(api: Api) -> None:
    response = await api.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_graphiql_page_needs_no_key(api: Api) -> None:
    response = await api.http.get("/graphiql")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="graphiql"' in response.text
