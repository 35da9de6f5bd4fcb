"""Lock order of a change to a member's unique keys (their customer id, their card number), on
PostgreSQL.

An order's insert takes a key-share lock on its member's row through the foreign key, and only
then does its movement lock the member. An erasure or a new card number changes a column of a
unique key, which needs the strongest row lock: taken after the weaker member lock every writer
starts with, it waits for the order while the order waits for that weaker lock, and PostgreSQL
aborts one of them (once under load, as an order failing with an internal error).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from app.config import Settings
from app.graphql.core.ids import decode_id
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.graphql.helpers import rows
from tests.graphql.members.test_profiles import ERASE, UPDATE

CHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "erasure": (ERASE, {}),
    "new card number": (UPDATE, {"cardNumber": "LC-NEW-1"}),
}


@pytest.mark.parametrize("change", CHANGES)
async def test_a_key_change_waits_for_an_order_holding_the_members_key_lock(
    api: Api, backend: str, settings: Settings, change: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time: there is no lock order to get wrong")
    await create_program(api)
    member = await enroll(api, customer_id="busy", email="busy@example.com")
    member_pk = decode_id(member["id"], "Member")
    mutation, extra = CHANGES[change]
    variables: dict[str, Any] = (
        {"id": member["id"]} if not extra else {"input": {"memberId": member["id"], **extra}}
    )
    order = await asyncpg.connect(settings.database_url)
    try:
        # No deadlock waits the detector's timeout: the test fails at once instead.
        await order.execute("SET lock_timeout = '20s'")
        transaction = order.transaction()
        await transaction.start()
        # The order's insert: the lock its foreign key takes on the member's row...
        await order.execute("SELECT 1 FROM members WHERE id = $1 FOR KEY SHARE", member_pk)
        changing = asyncio.create_task(api.post(mutation, variables))
        waiting: list[asyncpg.Record] = []
        for _ in range(200):
            await asyncio.sleep(0.05)
            waiting = await order.fetch(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            if waiting:
                break
        # ...then its movement's lock on the member: granted, with the change waiting.
        await order.execute(
            "UPDATE members SET points_available = points_available + 10 WHERE id = $1",
            member_pk,
        )
        await transaction.commit()
    finally:
        await order.close()
    response = await changing

    assert waiting, "the change never waited for the order's lock"
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["userErrors"] == []
    assert await rows(f"SELECT points_available FROM members WHERE id = {member_pk}") == [
        {"points_available": 10}
    ]
