"""Webhooks end to end: endpoints through the admin API, the worker delivering to a real local
receiver, signatures checked with the reference `standardwebhooks` verifier, retries on a
manual clock, order per member, SSRF guards, and two workers sharing the work."""

from __future__ import annotations

import asyncio
import importlib
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from standardwebhooks import Webhook, WebhookVerificationError
from tortoise import connections

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from app.jobs.webhooks import WebhookWorker
from app.services.webhooks import catalogue
from app.services.webhooks.addresses import AddressGuard, UnsafeAddressError
from app.services.webhooks.delivery import RETRY_SCHEDULE, DeliveryOptions
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    record_order,
)
from tests.graphql.helpers import codes, rows
from tests.webhooks.receiver import Receiver, receiver

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url eventTypes enabled }
    secret
    userErrors { code field message }
  }
}"""
DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $id, status: $status, first: 50) {
    edges { node {
      id eventType status attempts lastStatusCode body
      attemptLog { attempt statusCode error }
    } }
  }
}"""
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    # The receiver listens on 127.0.0.1: the operator's allowance for private addresses.
    async with api_client(replace(settings, webhooks_allow_private=True)) as client:
        yield client


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def worker(seed: int = 7) -> WebhookWorker:
    return WebhookWorker(
        DeliveryOptions(timeout_seconds=5, allow_private_addresses=True), rng=random.Random(seed)
    )


async def create_endpoint(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": {"programSlug": "shop", "url": url, **fields}})
    payload: dict[str, Any] = data["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


async def deliver_all(*workers: WebhookWorker, rounds: int = 50) -> None:
    """Rounds until a round of every worker sends nothing."""
    for _ in range(rounds):
        sent = await asyncio.gather(*(each.run_round() for each in workers))
        if not any(sent):
            return
    raise AssertionError("deliveries still due after many rounds")


async def test_deliveries_are_signed_as_standard_webhooks_verify_them(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url, description="CRM")
    member = await enroll(api, customer_id="cust-ada")
    await record_order(api, customer_id="cust-ada")
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()

    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    verifier = Webhook(secret)
    bodies = [verifier.verify(got.body, got.headers) for got in hook.received]
    types = [body["type"] for body in bodies]
    assert types == ["member.enrolled", "points.earned", "order.recorded"]
    enrolled = bodies[0]
    assert enrolled["data"]["program"]["slug"] == "shop"
    assert enrolled["data"]["member"] == {
        "id": member["id"],
        "customerId": "cust-ada",
        "locale": "en",
    }
    assert {got.headers["webhook-id"] for got in hook.received} == {
        f"evt_{row['id']}"
        for row in await rows("SELECT id FROM outbox_events WHERE type <> 'program.created'")
    }
    # Another secret, or a changed body, does not verify.
    first = hook.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(first.body, first.headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(first.body.replace("shop", "shoq"), first.headers)


async def test_a_rotated_secret_overlaps_then_only_the_new_one_signs(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url)
    rotated = await api.data(
        """mutation($input: RotateWebhookSecretInput!) {
          rotateWebhookSecret(input: $input) { secret endpoint { previousSecretExpiresAt } }
        }""",
        {"input": {"id": endpoint["endpoint"]["id"], "overlapHours": 1}},
    )
    new_secret = rotated["rotateWebhookSecret"]["secret"]
    await enroll(api)
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()

    [got] = hook.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert new_secret != endpoint["secret"]
    for secret in (endpoint["secret"], new_secret):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "member.enrolled"


async def test_failures_are_retried_on_the_schedule_then_delivered(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url)
    hook.answer = lambda n, request: 503 if n < 3 else 200
    with app_clock.using(ManualClock(T0)) as clock:
        assert isinstance(clock, ManualClock)
        await enroll(api)
        sender = worker()
        try:
            await sender.run_round()
            for retry in range(3):
                # Not yet due: nothing is sent.
                clock.advance(timedelta(seconds=RETRY_SCHEDULE[retry] * 0.79))
                assert await sender.run_round() == 0
                clock.advance(timedelta(seconds=RETRY_SCHEDULE[retry] * 0.42))
                assert await sender.run_round() == 1
            clock.advance(timedelta(days=4))
            assert await sender.run_round() == 0
        finally:
            await sender.close()

    assert len(hook.received) == 4
    assert len(set(hook.ids())) == 1, "every attempt carries the same webhook-id"
    [delivery] = (await api.data(DELIVERIES, {"id": endpoint["endpoint"]["id"]}))[
        "webhookDeliveries"
    ]["edges"]
    node = delivery["node"]
    assert (node["status"], node["attempts"], node["lastStatusCode"]) == ("SUCCEEDED", 4, 200)
    assert [a["statusCode"] for a in node["attemptLog"]] == [503, 503, 503, 200]


async def test_an_endpoint_failing_for_days_is_disabled_with_an_event(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url)
    hook.answer = lambda n, request: 500
    with app_clock.using(ManualClock(T0)) as clock:
        assert isinstance(clock, ManualClock)
        await enroll(api)
        sender = worker()
        try:
            for _ in range(len(RETRY_SCHEDULE) + 1):
                assert await sender.run_round() == 1
                clock.advance(timedelta(hours=15))
            await enroll(api, customer_id="later")
            assert await sender.run_round() == 0, "a disabled endpoint gets nothing"
        finally:
            await sender.close()

    assert len(hook.received) == len(RETRY_SCHEDULE) + 1
    listed = await api.data(
        '{ webhookEndpoints(programSlug: "shop") { enabled disabledReason failingSince } }'
    )
    [state] = listed["webhookEndpoints"]
    assert state["enabled"] is False
    assert "failed" in state["disabledReason"]
    failed = await api.data(DELIVERIES, {"id": endpoint["endpoint"]["id"], "status": "FAILED"})
    assert len(failed["webhookDeliveries"]["edges"]) == 1
    disabled = await rows(
        "SELECT payload FROM outbox_events WHERE type = 'webhook_endpoint.disabled'"
    )
    assert len(disabled) == 1

    # Turned back on and asked to resend what failed: it arrives.
    hook.answer = lambda n, request: 204
    await api.data(
        """mutation($input: UpdateWebhookEndpointInput!) {
          updateWebhookEndpoint(input: $input) { endpoint { enabled } userErrors { code } }
        }""",
        {"input": {"id": endpoint["endpoint"]["id"], "enabled": True}},
    )
    resent = await api.data(
        """mutation($input: RedeliverFailedWebhooksInput!) {
          redeliverFailedWebhooks(input: $input) { redelivered userErrors { code } }
        }""",
        {"input": {"endpointId": endpoint["endpoint"]["id"], "since": "2000-01-01T00:00:00Z"}},
    )
    assert resent["redeliverFailedWebhooks"]["redelivered"] == 1
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()
    # What happened while it was disabled is not sent; the failed delivery is.
    assert len(hook.received) == len(RETRY_SCHEDULE) + 2
    assert hook.received[-1].headers["webhook-id"] == hook.received[0].headers["webhook-id"]


async def test_each_members_events_arrive_in_outbox_order(api: Api, hook: Receiver) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url, eventTypes=["member.*", "points.*"])
    members = [await enroll(api, customer_id=f"cust-{n}") for n in range(3)]
    for step in range(3):
        for member in members:
            await grant_points(api, member["id"], 10 + step)
    # Every member's first event fails once: their later events must wait for it.
    failed_once: set[str] = set()

    def answer(n: int, request: Any) -> int:
        body = json.loads(request.body)
        customer = body["data"]["member"]["customerId"]
        if customer not in failed_once:
            failed_once.add(customer)
            return 500
        return 204

    hook.answer = answer
    with app_clock.using(ManualClock(datetime.now(UTC))) as clock:
        assert isinstance(clock, ManualClock)
        sender = worker()
        try:
            for _ in range(10):
                await sender.run_round()
                clock.advance(timedelta(minutes=1))
        finally:
            await sender.close()

    delivered: dict[str, list[int]] = {}
    for got in hook.received:
        body = json.loads(got.body)
        event_id = int(got.headers["webhook-id"].removeprefix("evt_"))
        delivered.setdefault(body["data"]["member"]["customerId"], []).append(event_id)
    for customer, sent in delivered.items():
        # The failed first attempt, then the same event again, then the rest in order.
        assert sent[0] == sent[1], customer
        assert sent[1:] == sorted(sent[1:]), customer
        assert len(sent) == 5, customer


async def test_endpoints_on_private_addresses_are_refused(
    db: None, settings: Settings, hook: Receiver
) -> None:
    async with api_client(settings) as strict:
        await create_program(strict)
        for url, code in (
            ("http://127.0.0.1:9/hook", "UNSAFE_URL"),
            ("http://10.1.2.3/hook", "UNSAFE_URL"),
            ("http://[::1]/hook", "UNSAFE_URL"),
            ("http://169.254.169.254/latest/meta-data", "UNSAFE_URL"),
            ("http://localhost:8000/hook", "UNSAFE_URL"),
            ("ftp://example.com/hook", "INVALID_VALUE"),
            ("https://user:pw@example.com/hook", "INVALID_VALUE"),
        ):
            data = await strict.data(CREATE, {"input": {"programSlug": "shop", "url": url}})
            payload = data["createWebhookEndpoint"]
            assert codes(payload["userErrors"]) == [code], url
            assert payload["secret"] is None
        unknown = await strict.data(
            CREATE, {"input": {"programSlug": "shop", "url": hook.url, "eventTypes": ["nope"]}}
        )
        assert codes(unknown["createWebhookEndpoint"]["userErrors"]) == [
            "UNSAFE_URL",
            "INVALID_VALUE",
        ]

    # A name is checked by what it resolves to, when the request is made.
    strict_guard = AddressGuard(allow_private=False)
    with pytest.raises(UnsafeAddressError, match="not a public address"):
        await strict_guard.target("http://localhost:1/hook")
    assert (await AddressGuard(allow_private=True).target(hook.url)).address == "127.0.0.1"


async def test_a_refused_address_or_a_redirect_is_a_failed_attempt(
    api: Api, hook: Receiver
) -> None:
    await create_program(api)
    moved = hook.url.replace("/hook", "/moved")
    endpoint = await create_endpoint(api, moved)
    await enroll(api)
    strict = WebhookWorker(DeliveryOptions(timeout_seconds=5, allow_private_addresses=False))
    following = worker()
    try:
        await strict.run_round()
        [first] = await rows("SELECT last_error, last_status_code FROM webhook_deliveries")
        assert "not a public address" in first["last_error"]
        assert first["last_status_code"] is None
        [delivery] = (await api.data(DELIVERIES, {"id": endpoint["endpoint"]["id"]}))[
            "webhookDeliveries"
        ]["edges"]
        again = await api.data(
            """mutation($input: WebhookDeliveryIdInput!) {
              redeliverWebhook(input: $input) { delivery { status attempts } userErrors { code } }
            }""",
            {"input": {"id": delivery["node"]["id"]}},
        )
        assert again["redeliverWebhook"]["delivery"] == {"status": "PENDING", "attempts": 0}
        await following.run_round()
    finally:
        await strict.close()
        await following.close()
    [second] = await rows("SELECT last_status_code, status FROM webhook_deliveries")
    assert (second["last_status_code"], second["status"]) == (302, "PENDING")
    assert hook.received == [], "the redirect was not followed"


async def test_two_workers_deliver_every_event_once(backend: str, api: Api, hook: Receiver) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url)
    hook.pause_seconds = 0.01
    for n in range(40):
        await enroll(api, customer_id=f"cust-{n}")
    first, second = worker(1), worker(2)
    try:
        await deliver_all(first, second)
    finally:
        await first.close()
        await second.close()

    counts = Counter(hook.ids())
    assert len(counts) == 40
    assert set(counts.values()) == {1}, [key for key, n in counts.items() if n > 1]


async def test_test_events_and_the_catalogue(api: Api, hook: Receiver) -> None:
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url, eventTypes=["tier.changed"])
    other = await create_endpoint(api, hook.url.replace("/hook", "/moved"))
    sent = await api.data(
        """mutation($input: WebhookEndpointIdInput!) {
          sendTestWebhook(input: $input) { delivery { eventType status } userErrors { code } }
        }""",
        {"input": {"id": endpoint["endpoint"]["id"]}},
    )
    assert sent["sendTestWebhook"]["delivery"] == {"eventType": "webhook.test", "status": "PENDING"}
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()
    [got] = hook.received
    assert Webhook(endpoint["secret"]).verify(got.body, got.headers)["type"] == "webhook.test"
    # Only the endpoint asked gets the test event, whatever the others' filters.
    tests = await rows(
        "SELECT endpoint_id FROM webhook_deliveries WHERE event_type = 'webhook.test'"
    )
    assert len(tests) == 1
    assert other["endpoint"]["id"] != endpoint["endpoint"]["id"]

    listed = await api.data("{ webhookEventTypes { type description } }")
    assert {entry["type"] for entry in listed["webhookEventTypes"]} == set(catalogue.EVENT_TYPES)
    produced = {row["type"] for row in await rows("SELECT DISTINCT type FROM outbox_events")}
    assert produced <= set(catalogue.EVENT_TYPES)


EVENT_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "docs" / "webhooks" / "event.schema.json").read_text()
)
REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { pointsReversed userErrors { code } }
}"""


async def test_every_body_sent_matches_the_published_event_schema(api: Api, hook: Receiver) -> None:
    await create_program(api)
    await create_endpoint(api, hook.url)
    reward = await create_reward(api, cost_points=10)
    member = await enroll(api, customer_id="cust-schema")
    await record_order(api, customer_id="cust-schema")
    await grant_points(api, member["id"], 40)
    redeemed = await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}},
    )
    assert redeemed["redeemReward"]["userErrors"] == []
    refunded = await api.data(
        REFUND,
        {
            "input": {
                "programSlug": "shop",
                "orderId": "order-1",
                "idempotencyKey": "refund",
                "lines": [{"lineIndex": 0, "quantity": 1}],
            }
        },
    )
    assert refunded["refundOrder"]["userErrors"] == []
    sender = worker()
    try:
        await deliver_all(sender)
    finally:
        await sender.close()

    validator = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
    types = set()
    for got in hook.received:
        body = json.loads(got.body)
        problems = [error.message for error in validator.iter_errors(body)]
        assert problems == [], (body["type"], problems)
        types.add(body["type"])
    assert {"member.enrolled", "order.recorded", "points.earned", "points.adjusted"} <= types
    assert {"points.spent", "reward.redeemed", "order.refunded", "points.reversed"} <= types
    assert set(EVENT_SCHEMA["properties"]["type"]["enum"]) == set(catalogue.EVENT_TYPES)
    # The schema is not one that anything passes.
    assert list(validator.iter_errors({"type": "points.earned", "timestamp": "x", "data": {}}))


async def test_the_catalogue_migration_renames_old_types_in_the_outbox_and_endpoint_lists(
    api: Api, hook: Receiver
) -> None:
    migration = importlib.import_module("app.migrations.0016_event_catalogue")
    await create_program(api)
    endpoint = await create_endpoint(api, hook.url, eventTypes=["reward.redeemed"])
    await enroll(api, customer_id="cust-old")
    # Rows as a database written before the catalogue had these names holds them.
    await rows("UPDATE outbox_events SET type = 'reward.code_used' WHERE type = 'member.enrolled'")
    await rows(
        "UPDATE webhook_endpoints SET event_types ="
        """ '["points.redeemed", "reward.redeemed", "points.redemption_cancelled"]'"""
    )

    editor = SimpleNamespace(client=connections.get("default"))
    await migration.rename_event_types(None, editor)

    types = {row["type"] for row in await rows("SELECT type FROM outbox_events")}
    assert "redemption.used" in types
    assert "reward.code_used" not in types
    listed = await api.data('{ webhookEndpoints(programSlug: "shop") { id eventTypes } }')
    [node] = listed["webhookEndpoints"]
    assert node["id"] == endpoint["endpoint"]["id"]
    assert node["eventTypes"] == ["points.spent", "reward.redeemed", "points.returned"]
