"""Global ids: `node(id:)` finds every object type; malformed ids are errors, missing ones null."""

from __future__ import annotations

from typing import Any

from tests.graphql.conftest import Api
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    record_order,
)
from tests.graphql.helpers import b64, global_id, pk_of, top_level_codes

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Program { slug }
    ... on Member { customerId }
    ... on Reward { name }
    ... on Order { orderId }
    ... on Redemption { code }
    ... on Activity { kind points }
    ... on Event { type }
  }
}"""

MEMBER_WITH_ACTIVITY = """
query($id: ID!) {
  member(id: $id) { id activity(first: 10) { edges { node { id kind points } } } }
}"""

EVENTS = 'query { events(programSlug: "shop", first: 1) { edges { node { id type } } } }'

MALFORMED_IDS = [
    "!!!",
    "",
    "a" * 500,
    b64("Member:abc"),
    b64("Member:"),
    b64("Member:-1"),
    b64("Member:1.5"),
    b64(":1"),
    b64("Member"),
    b64("Member:" + "9" * 19),
    "Member:1",
]

TYPES = ["Program", "Member", "Reward", "Order", "Redemption", "Activity", "Event"]


async def everything(api: Api) -> dict[str, dict[str, Any]]:
    """One object of every type, keyed by type name."""
    program = await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10)
    order = (await record_order(api))["order"]
    await grant_points(api, member["id"], 100)
    data = await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r-1"}},
    )
    redemption = data["redeemReward"]["redemption"]
    activity = (await api.data(MEMBER_WITH_ACTIVITY, {"id": member["id"]}))["member"]["activity"]
    event = (await api.data(EVENTS))["events"]["edges"][0]["node"]
    return {
        "Program": program,
        "Member": member,
        "Reward": reward,
        "Order": order,
        "Redemption": redemption,
        "Activity": activity["edges"][-1]["node"],
        "Event": event,
    }


async def test_node_resolves_every_type(api: Api) -> None:
    made = await everything(api)

    found = {name: (await api.data(NODE, {"id": made[name]["id"]}))["node"] for name in TYPES}

    assert found == {
        "Program": {"__typename": "Program", "id": made["Program"]["id"], "slug": "shop"},
        "Member": {"__typename": "Member", "id": made["Member"]["id"], "customerId": "cust-1"},
        "Reward": {"__typename": "Reward", "id": made["Reward"]["id"], "name": "Tote bag"},
        "Order": {"__typename": "Order", "id": made["Order"]["id"], "orderId": "order-1"},
        "Redemption": {
            "__typename": "Redemption",
            "id": made["Redemption"]["id"],
            "code": made["Redemption"]["code"],
        },
        "Activity": {
            "__typename": "Activity",
            "id": made["Activity"]["id"],
            "kind": "EARN_ORDER",
            "points": 25,
        },
        "Event": {"__typename": "Event", "id": made["Event"]["id"], "type": "program.created"},
    }


async def test_ids_are_base64_of_type_and_key_and_distinct_across_types(api: Api) -> None:
    made = await everything(api)

    ids = [made[name]["id"] for name in TYPES]

    assert len(set(ids)) == len(ids)
    for name in TYPES:
        assert made[name]["id"] == global_id(name, pk_of(made[name]["id"]))


async def test_malformed_ids_are_invalid_id_errors(api: Api) -> None:
    await create_program(api)
    await enroll(api)

    for bad in MALFORMED_IDS:
        body = await api.gql(NODE, {"id": bad})

        assert top_level_codes(body) == ["INVALID_ID"], (bad, body)
        assert body["data"] == {"node": None}
        assert body["errors"][0]["path"] == ["node"]


async def test_an_id_with_non_ascii_digits_is_an_invalid_id_error(api: Api) -> None:
    """`str.isdigit()` accepts "²" and Arabic-Indic digits; `int()` then refuses "²"."""
    await create_program(api)
    await enroll(api)

    for bad in (b64("Member:²"), b64("Member:\u0661")):
        body = await api.gql(NODE, {"id": bad})

        assert top_level_codes(body) == ["INVALID_ID"], (bad, body)


async def test_member_with_a_malformed_or_foreign_id_is_an_invalid_id_error(api: Api) -> None:
    await create_program(api)
    reward = await create_reward(api)

    for bad in ("!!!", reward["id"], global_id("Program", 1)):
        body = await api.gql(MEMBER_WITH_ACTIVITY, {"id": bad})

        assert top_level_codes(body) == ["INVALID_ID"], (bad, body)
        assert body["data"] == {"member": None}


async def test_well_formed_ids_of_missing_objects_are_null(api: Api) -> None:
    await everything(api)

    for name in TYPES:
        data = await api.data(NODE, {"id": global_id(name, 999_999)})

        assert data == {"node": None}, name


async def test_ids_beyond_32_bits_of_missing_objects_are_null(api: Api) -> None:
    """Ids carry up to 18 digits; programs, members and rewards have 32-bit keys."""
    await everything(api)

    failures: list[tuple[str, int, str]] = []
    for name in TYPES:
        for pk in (2**31, 10**18 - 1):
            body = await api.gql(NODE, {"id": global_id(name, pk)})

            if body != {"data": {"node": None}}:
                failures.append((name, pk, body["errors"][0]["message"]))
    assert failures == []


async def test_an_id_of_an_unknown_type_is_null(api: Api) -> None:
    await create_program(api)

    data = await api.data(NODE, {"id": global_id("Widget", 1)})

    assert data == {"node": None}


async def test_ids_are_stable_across_queries(api: Api) -> None:
    made = await everything(api)
    member_id = made["Member"]["id"]

    first = await api.data(MEMBER_WITH_ACTIVITY, {"id": member_id})
    second = await api.data(MEMBER_WITH_ACTIVITY, {"id": member_id})
    by_customer = await api.data(
        'query { memberByCustomerId(programSlug: "shop", customerId: "cust-1") { id } }'
    )
    programs = await api.data("{ programs { id } }")
    rewards = await api.data('{ rewards(programSlug: "shop") { id } }')

    assert first == second
    assert first["member"]["id"] == member_id
    assert by_customer["memberByCustomerId"]["id"] == member_id
    assert programs["programs"] == [{"id": made["Program"]["id"]}]
    assert rewards["rewards"] == [{"id": made["Reward"]["id"]}]
    activity_ids = [edge["node"]["id"] for edge in first["member"]["activity"]["edges"]]
    assert made["Activity"]["id"] in activity_ids


async def test_ids_beyond_32_bits_are_not_found_in_lookups_and_mutations(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10)
    await grant_points(api, member["id"], 100)
    far_member = global_id("Member", 2**31)
    far_reward = global_id("Reward", 2**31)

    looked_up = await api.gql(MEMBER_WITH_ACTIVITY, {"id": far_member})
    redeemed = await api.gql(
        REDEEM,
        {"input": {"memberId": far_member, "rewardId": reward["id"], "idempotencyKey": "k"}},
    )
    redeemed_far_reward = await api.gql(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": far_reward, "idempotencyKey": "k"}},
    )

    outcomes = {
        "member": looked_up,
        "redeem with far member": redeemed,
        "redeem with far reward": redeemed_far_reward,
    }
    assert outcomes == {
        "member": {"data": {"member": None}},
        "redeem with far member": {
            "data": {
                "redeemReward": {
                    "redemption": None,
                    "userErrors": [
                        {
                            "field": ["input", "memberId"],
                            "message": "no such member",
                            "code": "MEMBER_NOT_FOUND",
                        }
                    ],
                }
            }
        },
        "redeem with far reward": {
            "data": {
                "redeemReward": {
                    "redemption": None,
                    "userErrors": [
                        {
                            "field": ["input", "rewardId"],
                            "message": "no such reward",
                            "code": "REWARD_NOT_FOUND",
                        }
                    ],
                }
            }
        },
    }
