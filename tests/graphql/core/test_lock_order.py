"""Lock order on PostgreSQL: every writer locks the member's row first (services/ledger), then
the member's other rows (orders, referrals, point lots). Each test plays one side on a raw
connection holding what a real writer holds, starts the other side through the API, and then
takes what the first side takes next: with the order kept, the API's side waits and both
finish; out of order, PostgreSQL aborts one of them as a deadlock.

The first cases found in the wild: an order's insert takes a key-share lock on its member's
row through the foreign key before its movement locks the member, and a change of a unique key
(erasure, a new card number) needs the strongest row lock, so it must take it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.graphql.core.ids import decode_id
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    UPDATE_SETTINGS,
    create_program,
    enroll,
    grant_points,
    record_order,
    update_program_settings,
)
from tests.graphql.helpers import rows
from tests.graphql.lifecycle.test_lifecycle import PROGRESS
from tests.graphql.members.test_profiles import ERASE, UPDATE
from tests.graphql.orders.test_order_money import REFUND
from tests.graphql.referrals.test_referrals import APPROVE, enroll_with, setup

KEY_CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "erasure": (ERASE, {}),
    "new card number": (UPDATE, {"cardNumber": "LC-NEW-1"}),
}
LOCK_MEMBER = "UPDATE members SET points_available = points_available WHERE id = $1"


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time: there is no lock order to get wrong")


@asynccontextmanager
async def other_transaction(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A second connection in a transaction, committed at the end of the block."""
    other = await asyncpg.connect(settings.database_url)
    try:
        # A deadlock is found after a second; a lock wait this long is a hang: fail instead.
        await other.execute("SET lock_timeout = '20s'")
        async with other.transaction():
            yield other
    finally:
        await other.close()


async def started_and_waiting(
    other: asyncpg.Connection, request: Awaitable[httpx.Response]
) -> asyncio.Task[httpx.Response]:
    """`request` started, once some transaction waits on a lock (or after ten seconds)."""
    task = asyncio.ensure_future(request)
    for _ in range(200):
        await asyncio.sleep(0.05)
        waiting = await other.fetch(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        )
        if waiting:
            return task
    await task
    raise AssertionError("the request never waited for the other transaction's lock")


def answered(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    assert payload["userErrors"] == []
    return payload


@pytest.mark.parametrize("change", KEY_CHANGES)
async def test_a_key_change_waits_for_an_order_holding_the_members_key_lock(
    api: Api, settings: Settings, postgres_only: None, change: str
) -> None:
    await create_program(api)
    member = await enroll(api, customer_id="busy", email="busy@example.com")
    member_pk = decode_id(member["id"], "Member")
    mutation, extra = KEY_CHANGES[change]
    variables: dict[str, Any] = (
        {"id": member["id"]} if not extra else {"input": {"memberId": member["id"], **extra}}
    )
    async with other_transaction(settings) as order:
        # An order's insert: the lock its foreign key takes on the member's row...
        await order.execute("SELECT 1 FROM members WHERE id = $1 FOR KEY SHARE", member_pk)
        changing = await started_and_waiting(order, api.post(mutation, variables))
        # ...then its movement's lock on the member: granted, with the change waiting.
        await order.execute(
            "UPDATE members SET points_available = points_available + 10 WHERE id = $1",
            member_pk,
        )
    answered(await changing)
    assert await rows(f"SELECT points_available FROM members WHERE id = {member_pk}") == [
        {"points_available": 10}
    ]


ORDER_WRITERS: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
    "refund": lambda: (
        REFUND,
        {"programSlug": "shop", "orderId": "o-1", "idempotencyKey": "refund-1"},
    ),
    "progress": lambda: (
        PROGRESS,
        {"programSlug": "shop", "orderId": "o-1", "fulfilledAt": "2026-01-02T00:00:00Z"},
    ),
}


@pytest.mark.parametrize("writer", ORDER_WRITERS)
async def test_a_writer_of_an_order_locks_its_member_first(
    api: Api, settings: Settings, postgres_only: None, writer: str
) -> None:
    await create_program(api)
    member = await enroll(api, customer_id="cust-1", email="c@example.org")
    await record_order(api, order_id="o-1", customer_id="cust-1", placedAt="2026-01-01T00:00:00Z")
    member_pk = decode_id(member["id"], "Member")
    mutation, fields = ORDER_WRITERS[writer]()
    async with other_transaction(settings) as erasure:
        # An erasure holds the member, then changes the member's orders.
        await erasure.execute(LOCK_MEMBER, member_pk)
        writing = await started_and_waiting(erasure, api.post(mutation, {"input": fields}))
        await erasure.execute(
            "UPDATE orders SET customer_id = customer_id WHERE member_id = $1", member_pk
        )
    answered(await writing)


async def test_approving_a_referral_locks_the_friend_before_the_referral(
    api: Api, settings: Settings, postgres_only: None
) -> None:
    _referrer, code = await setup(api, referrerLimit=1, referrerLimitPeriod="MONTH")
    await enroll_with(api, "f1", referralCode=code)
    held = await enroll_with(api, "f2", referralCode=code, email="f2@example.org")
    assert held["referral"]["state"] == "HELD"
    friend_pk = decode_id(held["member"]["id"], "Member")
    approval = {"input": {"id": held["referral"]["id"], "idempotencyKey": "approve-1"}}
    async with other_transaction(settings) as erasure:
        # An erasure of the friend holds the friend, then changes the friend's referral.
        await erasure.execute(LOCK_MEMBER, friend_pk)
        approving = await started_and_waiting(erasure, api.post(APPROVE, approval))
        await erasure.execute(
            "UPDATE referrals SET friend_email = friend_email WHERE friend_id = $1", friend_pk
        )
    assert answered(await approving)["referral"]["state"] != "HELD"


EXPIRY_CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "turned on": ({"policy": "NONE"}, {"policy": "LOT_LIFETIME", "lifetime": 12}),
    "turned off": ({"policy": "LOT_LIFETIME", "lifetime": 12}, {"policy": "NONE"}),
}


@pytest.mark.parametrize("change", EXPIRY_CHANGES)
async def test_redating_the_lots_locks_their_members_first(
    api: Api, settings: Settings, postgres_only: None, change: str
) -> None:
    before, after = EXPIRY_CHANGES[change]
    await create_program(api)
    await update_program_settings(api, expiry={**before, "lifetimeUnit": "MONTHS"})
    member = await enroll(api, customer_id="cust-1")
    await grant_points(api, member["id"], 100)
    await grant_points(api, member["id"], 100)
    member_pk = decode_id(member["id"], "Member")
    lots = [
        row["id"]
        for row in await rows(
            f"SELECT id FROM point_lots WHERE member_id = {member_pk} ORDER BY id"
        )
    ]
    assert len(lots) == 2
    settings_change = {
        "input": {"programSlug": "shop", "expiry": {**after, "lifetimeUnit": "MONTHS"}}
    }
    async with other_transaction(settings) as spender:
        # A spender holds the member, then takes the member's lots one by one, here the newer
        # first (as when it expires sooner): not the order a scan of the table finds them in.
        await spender.execute(LOCK_MEMBER, member_pk)
        await spender.execute("UPDATE point_lots SET remaining = remaining WHERE id = $1", lots[1])
        redating = await started_and_waiting(spender, api.post(UPDATE_SETTINGS, settings_change))
        await spender.execute("UPDATE point_lots SET remaining = remaining WHERE id = $1", lots[0])
    answered(await redating)
