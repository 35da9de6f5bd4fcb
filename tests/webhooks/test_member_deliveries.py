"""A member's webhook deliveries (memberWebhookDeliveries): the events about one member, to
every endpoint of the program, newest first, paged; readable by every staff role and no other
kind of key; a resend puts a delivery back to PENDING and the worker sends it again."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.api_keys import KeyKind
from app.domain.roles import StaffRole
from tests.graphql.access.test_staff_roles import staff_key
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points, program_key
from tests.graphql.helpers import codes, rows, top_level_codes
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import api, create_endpoint, deliver_all, hook, worker

__all__ = ["api", "hook"]

MEMBER_DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryStatus, $first: Int! = 20, $after: String) {
  memberWebhookDeliveries(memberId: $id, status: $status, first: $first, after: $after) {
    edges { node { id endpointId eventType status attempts lastStatusCode body } }
    pageInfo { hasNextPage endCursor }
  }
}"""
REDELIVER = """mutation($input: WebhookDeliveryIdInput!) {
  redeliverWebhook(input: $input) { userErrors { code field message } }
}"""


async def deliver(hook: Receiver) -> None:
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()


async def listed(api: Api, member_id: str, **variables: Any) -> dict[str, Any]:
    data = await api.data(MEMBER_DELIVERIES, {"id": member_id, **variables})
    connection: dict[str, Any] = data["memberWebhookDeliveries"]
    return connection


async def test_a_members_deliveries_span_endpoints_newest_first_and_page(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    crm = await create_endpoint(api, hook.url, eventTypes=["member.*", "points.*"])
    mail = await create_endpoint(api, hook.url + "?mail", eventTypes=["points.*"])
    ada = await enroll(api, customer_id="cust-ada")
    bob = await enroll(api, customer_id="cust-bob")
    await grant_points(api, ada["id"], 10)
    await grant_points(api, bob["id"], 20)
    await deliver(hook)

    got = await listed(api, ada["id"])
    nodes = [edge["node"] for edge in got["edges"]]
    # Ada's: her enrolment to the CRM, her points to both endpoints; none of Bob's.
    expected = await rows(
        "SELECT d.id, d.endpoint_id, d.event_type FROM webhook_deliveries d"
        " JOIN members m ON m.id = d.member_id WHERE m.customer_id = 'cust-ada'"
        " ORDER BY d.id DESC"
    )
    assert len(expected) == 3
    assert [n["eventType"] for n in nodes] == [r["event_type"] for r in expected]
    assert sorted(n["eventType"] for n in nodes) == [
        "member.enrolled",
        "points.adjusted",
        "points.adjusted",
    ]
    assert {n["endpointId"] for n in nodes} == {crm["endpoint"]["id"], mail["endpoint"]["id"]}
    assert all("cust-ada" in n["body"] and "cust-bob" not in n["body"] for n in nodes)
    assert {(n["status"], n["attempts"], n["lastStatusCode"]) for n in nodes} == {
        ("SUCCEEDED", 1, 204)
    }

    first_page = await listed(api, ada["id"], first=2)
    assert first_page["pageInfo"]["hasNextPage"] is True
    rest = await listed(api, ada["id"], first=2, after=first_page["pageInfo"]["endCursor"])
    assert rest["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["id"] for e in first_page["edges"] + rest["edges"]] == [
        n["id"] for n in nodes
    ]
    assert (await listed(api, ada["id"], status="FAILED"))["edges"] == []


async def test_a_resend_puts_the_delivery_back_then_it_is_sent_again(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url, eventTypes=["member.enrolled"])
    ada = await enroll(api, customer_id="cust-ada")
    await deliver(hook)
    [edge] = (await listed(api, ada["id"]))["edges"]
    assert edge["node"]["status"] == "SUCCEEDED"

    done = await api.data(REDELIVER, {"input": {"id": edge["node"]["id"]}})
    assert done["redeliverWebhook"]["userErrors"] == []
    [pending] = (await listed(api, ada["id"]))["edges"]
    assert (pending["node"]["status"], pending["node"]["attempts"]) == ("PENDING", 0)

    await deliver(hook)
    [sent] = (await listed(api, ada["id"]))["edges"]
    assert (sent["node"]["status"], sent["node"]["attempts"]) == ("SUCCEEDED", 1)
    assert len(hook.received) == 2
    assert hook.received[0].headers["webhook-id"] == hook.received[1].headers["webhook-id"]


@pytest.mark.parametrize("role", list(StaffRole))
async def test_every_staff_role_may_read_them(api: Api, hook: Receiver, role: StaffRole) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url, eventTypes=["member.enrolled"])
    ada = await enroll(api, customer_id="cust-ada")
    await deliver(hook)
    _, key = await staff_key(role)
    body = await api.gql(MEMBER_DELIVERIES, {"id": ada["id"]}, key=key)
    assert "errors" not in body, body["errors"]
    assert [e["node"]["eventType"] for e in body["data"]["memberWebhookDeliveries"]["edges"]] == [
        "member.enrolled"
    ]


@pytest.mark.parametrize("kind", [KeyKind.PUBLISHABLE, KeyKind.SECRET])
async def test_program_keys_may_not_read_them(api: Api, hook: Receiver, kind: KeyKind) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url, eventTypes=["member.enrolled"])
    ada = await enroll(api, customer_id="cust-ada")
    await deliver(hook)
    body = await api.gql(MEMBER_DELIVERIES, {"id": ada["id"]}, key=await program_key("shop", kind))
    assert body["data"]["memberWebhookDeliveries"] is None
    assert top_level_codes(body) == ["FORBIDDEN"]


async def test_unknown_members_are_null_and_bad_ids_are_errors(api: Api) -> None:
    await create_program(api)
    ada = await enroll(api, customer_id="cust-ada")
    assert (await listed(api, ada["id"]))["edges"] == []
    gone = await api.data(MEMBER_DELIVERIES, {"id": ada["id"][:-1] + "Z"})
    assert gone["memberWebhookDeliveries"] is None
    malformed = await api.gql(MEMBER_DELIVERIES, {"id": "not-an-id"})
    assert malformed["data"]["memberWebhookDeliveries"] is None
    assert top_level_codes(malformed) == ["INVALID_ID"]
    too_many = await api.gql(MEMBER_DELIVERIES, {"id": ada["id"], "first": 1000})
    assert too_many["data"]["memberWebhookDeliveries"] is None
    assert top_level_codes(too_many) != []
    refused = await api.data(REDELIVER, {"input": {"id": ada["id"]}})
    assert codes(refused["redeliverWebhook"]["userErrors"]) != []
