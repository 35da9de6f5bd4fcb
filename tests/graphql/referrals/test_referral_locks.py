"""Lock order of a friend's order that gives referral rewards, on PostgreSQL.

Giving a stocked reward takes the program's reward lock (`reward_gifts.lock_reward_rows`);
after it, no member row may be locked. A friend's order pays the friend and then the referrer,
so it must hold the referrer's row before the friend's gift takes that lock: otherwise it
waits on the referrer while the referrer's own transaction (an order completing a punch card,
a membership's welcome reward, a cancelled gift) waits on the lock, and PostgreSQL aborts one.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.config import Settings
from app.graphql.core.ids import decode_id
from app.services.rewards.gifts import PROGRAM_REWARD_LOCK_CLASS
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, order_input
from tests.graphql.helpers import rows
from tests.graphql.referrals.test_referral_rewards import (
    configure,
    create_reward,
    enroll_with,
    side_with,
)
from tests.graphql.referrals.test_referrals import code_of

RECORD_ORDER = (
    "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { userErrors { code } } }"
)


async def test_a_friends_order_holds_the_referrer_before_the_reward_lock(
    api: Api, backend: str, settings: Settings
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite runs one writer at a time: there is no lock order to get wrong")
    await create_program(api, pendingDays=0)
    reward = await create_reward(api, stock=5)
    configured = await configure(
        api,
        friend=side_with(reward, points=0, trigger="FIRST_ORDER"),
        referrer={"points": 50, "trigger": "FIRST_ORDER", "minimumOrderMinor": 0},
    )
    assert configured["userErrors"] == []
    referrer = await enroll(api, customer_id="alice")
    await enroll_with(api, "bob", await code_of(api, referrer["id"]))
    referrer_pk = decode_id(referrer["id"], "Member")
    other = await asyncpg.connect(settings.database_url)
    try:
        program_pk = await other.fetchval(
            "SELECT program_id FROM members WHERE id = $1", referrer_pk
        )
        transaction = other.transaction()
        await transaction.start()
        # The referrer's own transaction holds her row...
        await other.execute(
            "UPDATE members SET points_available = points_available WHERE id = $1", referrer_pk
        )
        order = asyncio.create_task(
            api.post(RECORD_ORDER, {"input": order_input(customer_id="bob", order_id="b-1")})
        )
        waiting: list[asyncpg.Record] = []
        for _ in range(200):
            await asyncio.sleep(0.05)
            waiting = await other.fetch(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            if waiting:
                break
        # ...and now needs the program's reward lock: the friend's order must not hold it.
        await other.fetchval(
            "SELECT pg_advisory_xact_lock($1, $2) IS NULL", PROGRAM_REWARD_LOCK_CLASS, program_pk
        )
        await transaction.rollback()
    finally:
        await other.close()
    response = await order

    assert waiting, "the friend's order never waited on the referrer's row"
    assert response.status_code == 200
    assert response.json() == {"data": {"recordOrder": {"userErrors": []}}}
    # The friend's gift was given (so the reward lock was taken) and the referrer was paid.
    assert await rows("SELECT stock FROM rewards") == [{"stock": 4}]
    assert await rows(f"SELECT points_available FROM members WHERE id = {referrer_pk}") == [
        {"points_available": 50}
    ]
