"""Subscriptions over graphql-transport-ws, on a real server in the test's event loop (so on
both databases): a member sees their own changes and never another member's; a socket without
a valid key or token is closed before anything starts; admins follow a program's events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app import clock as app_clock
from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.config import Settings
from app.main import create_app
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import (
    create_program,
    enroll,
    grant_points,
    member_token,
    program_key,
    update_program_settings,
)
from tests.live_server import free_port

MEMBER_UPDATED = """subscription {
  memberUpdated { event { type } member { customerId points { available } } }
}"""
WAIT_SECONDS = 10


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client


@asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    app = create_app(replace(settings, webhook_worker=False), manage_database=False)
    running = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(running.serve())
    while not running.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        running.should_exit = True
        await task


@asynccontextmanager
async def subscription(
    url: str,
    params: dict[str, Any],
    query: str,
    variables: dict[str, Any] | None = None,
    origin: str | None = None,
) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=["graphql-transport-ws"], origin=origin) as socket:  # type: ignore[list-item, arg-type]
        await socket.send(json.dumps({"type": "connection_init", "payload": params}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))
        assert ack["type"] == "connection_ack", ack
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        yield socket


async def next_message(socket: ClientConnection, seconds: float = WAIT_SECONDS) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), seconds))
    return message


async def test_a_member_sees_their_own_changes_and_nobody_elses(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    alice = await enroll(api, customer_id="alice")
    await enroll(api, customer_id="bob")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    alice_token = await member_token(api, "alice")
    bob_token = await member_token(api, "bob")

    async with (
        server(settings) as url,
        subscription(
            url,
            {"authorization": f"Bearer {publishable}", "memberToken": alice_token},
            MEMBER_UPDATED,
        ) as alices,
        subscription(
            url,
            {"authorization": f"Bearer {publishable}", "memberToken": bob_token},
            MEMBER_UPDATED,
        ) as bobs,
    ):
        # Both subscriptions follow the outbox from its newest event when they start: time to
        # start even on a loaded machine.
        await asyncio.sleep(2.0)
        await grant_points(api, alice["id"], 70)
        update = await next_message(alices)
        # Bob's subscription has had every chance to see it by now.
        with pytest.raises(TimeoutError):
            await next_message(bobs, 1.0)

    assert update["type"] == "next"
    assert update["payload"]["data"]["memberUpdated"] == {
        "event": {"type": "points.adjusted"},
        "member": {"customerId": "alice", "points": {"available": 70}},
    }


async def test_a_socket_without_a_valid_key_and_token_is_closed(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await enroll(api, customer_id="alice")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    secret = await program_key("shop")
    token = await member_token(api, "alice")

    async with server(settings) as url:
        for params in (
            {},
            {"authorization": "Bearer not-a-key", "memberToken": token},
            {"authorization": f"Bearer {publishable}", "memberToken": token + "x"},
            {"authorization": f"Bearer {secret}", "memberToken": token},
        ):
            async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
                await socket.send(json.dumps({"type": "connection_init", "payload": params}))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4403, params
        # A publishable key without a token may connect, but memberUpdated needs the token.
        async with subscription(
            url, {"authorization": f"Bearer {publishable}"}, MEMBER_UPDATED
        ) as anonymous:
            refused = await next_message(anonymous)
        # An error in execution comes as the subscription's result, then it completes.
        assert refused["type"] == "next"
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["FORBIDDEN"]


async def test_admins_follow_a_programs_events_by_type(api: Api, settings: Settings) -> None:
    await create_program(api)
    await create_program(api, "other")
    member = await enroll(api, customer_id="alice")
    async with (
        server(settings) as url,
        subscription(
            url,
            {"Authorization": f"Bearer {api.admin_key}"},
            'subscription($types: [String!]) { events(programSlug: "shop", types: $types)'
            " { type payload } }",
            {"types": ["points.*"]},
        ) as events,
    ):
        await asyncio.sleep(2.0)  # the subscription follows the outbox from when it starts
        await enroll(api, customer_id="bob")  # member.enrolled: not asked for
        await enroll(api, "other", customer_id="carol")  # another program
        await grant_points(api, member["id"], 5)
        event = await next_message(events)
        with pytest.raises(TimeoutError):
            await next_message(events, 1.0)

    assert event["payload"]["data"]["events"]["type"] == "points.adjusted"
    assert event["payload"]["data"]["events"]["payload"]["points"] == 5


async def test_a_subscription_ends_when_its_member_token_expires(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await enroll(api, customer_id="alice")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    # Issued 87 s ago for 60 s: still accepted within the 30 s clock skew, for 3 s more.
    with app_clock.using(ManualClock(datetime.now(UTC) - timedelta(seconds=87))):
        token = await member_token(api, "alice", lifetime_seconds=60)

    async with (
        server(settings) as url,
        subscription(
            url, {"authorization": f"Bearer {publishable}", "memberToken": token}, MEMBER_UPDATED
        ) as alices,
    ):
        ended = await next_message(alices)
        completed = await next_message(alices)

    assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["MEMBER_TOKEN_EXPIRED"]
    assert completed["type"] == "complete"


async def refused_code(url: str, params: dict[str, Any], origin: str | None = None) -> int:
    async with connect(url, subprotocols=["graphql-transport-ws"], origin=origin) as socket:  # type: ignore[list-item, arg-type]
        await socket.send(json.dumps({"type": "connection_init", "payload": params}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_a_socket_is_held_to_the_programs_origins_and_the_shoppers_budget(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await update_program_settings(api, corsOrigins=["https://shop.example"])
    await enroll(api, customer_id="alice")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    params = {
        "authorization": f"Bearer {publishable}",
        "memberToken": await member_token(api, "alice"),
    }
    # Two sockets at once, then one each thousand seconds: the shopper's budget.
    limited = replace(settings, shopper_per_second=0.001, shopper_burst=2)

    async with server(limited) as url:
        # A page of another site, with a visitor's key and token: cross-site WebSocket
        # hijacking. Refused before the budget is touched.
        assert await refused_code(url, params, origin="https://evil.example") == 4403
        async with subscription(url, params, MEMBER_UPDATED, origin="https://shop.example"):
            pass
        async with subscription(url, params, MEMBER_UPDATED):
            pass
        assert await refused_code(url, params, origin="https://shop.example") == 4403
