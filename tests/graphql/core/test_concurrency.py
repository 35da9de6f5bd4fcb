"""Many parallel requests over HTTP: no lost or doubled points, no oversold stock, no 5xx."""

from __future__ import annotations

import asyncio
from typing import Any

from tortoise.connection import connections

from app.db import fetch_one
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    RECORD_ORDER,
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    member_status,
    order_input,
)


async def _all(api: Api, query: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    responses = await asyncio.gather(*(api.post(query, {"input": i}) for i in inputs))
    assert sorted({r.status_code for r in responses}) == [200]
    bodies = [r.json() for r in responses]
    assert [b for b in bodies if "errors" in b] == []
    return bodies


async def _count(statement: str, params: tuple[Any, ...] = ()) -> int:
    row = await fetch_one(connections.get("default"), statement, params)
    assert row is not None
    return int(row["n"])


async def test_200_redemptions_of_exactly_the_balance_succeed_once(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 500)
    reward = await create_reward(api, cost_points=500)
    inputs = [
        {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": f"redeem-{n}"}
        for n in range(200)
    ]

    bodies = await _all(api, REDEEM, inputs)

    payloads = [b["data"]["redeemReward"] for b in bodies]
    succeeded = [p for p in payloads if p["redemption"] is not None]
    refused = [p["userErrors"][0]["code"] for p in payloads if p["redemption"] is None]
    assert len(succeeded) == 1
    assert refused == ["INSUFFICIENT_POINTS"] * 199
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 0
    assert status["points"]["lifetimeRedeemed"] == 500
    assert await _count("SELECT COUNT(*) AS n FROM redemptions") == 1
    assert await verify_ledger() == []


async def test_200_reports_of_one_order_write_one_journal_transaction(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    inputs = [order_input(order_id="order-42")] * 200

    bodies = await _all(api, RECORD_ORDER, inputs)

    payloads = [b["data"]["recordOrder"] for b in bodies]
    assert [p["userErrors"] for p in payloads if p["userErrors"]] == []
    assert len({p["order"]["id"] for p in payloads}) == 1
    assert sorted(p["alreadyRecorded"] for p in payloads) == [False] + [True] * 199
    transactions = await _count(
        "SELECT COUNT(*) AS n FROM ledger_transactions WHERE order_ref = ?", ("order-42",)
    )
    assert transactions == 1
    assert await _count("SELECT COUNT(*) AS n FROM orders") == 1
    assert (await member_status(api, member["id"]))["points"]["available"] == 25
    assert await verify_ledger() == []


async def test_100_redeemers_of_a_reward_with_stock_5_get_exactly_5(api: Api) -> None:
    await create_program(api)
    members = [await enroll(api, customer_id=f"cust-{n}") for n in range(100)]
    for member in members:
        await grant_points(api, member["id"], 300)
    reward = await create_reward(api, cost_points=200, stock=5)
    inputs = [
        {"memberId": m["id"], "rewardId": reward["id"], "idempotencyKey": f"stock-{n}"}
        for n, m in enumerate(members)
    ]

    bodies = await _all(api, REDEEM, inputs)

    payloads = [b["data"]["redeemReward"] for b in bodies]
    succeeded = [p for p in payloads if p["redemption"] is not None]
    refused = [p["userErrors"][0]["code"] for p in payloads if p["redemption"] is None]
    assert len(succeeded) == 5
    assert refused == ["REWARD_OUT_OF_STOCK"] * 95
    stock = await _count("SELECT stock AS n FROM rewards WHERE id = ?", (_pk(reward["id"]),))
    assert stock == 0
    spent = await _count(
        "SELECT COUNT(*) AS n FROM members WHERE points_available = 100 AND lifetime_redeemed = 200"
    )
    assert spent == 5
    assert await _count("SELECT COUNT(*) AS n FROM members WHERE points_available = 300") == 95
    assert await verify_ledger() == []


async def test_parallel_debits_of_one_member_never_go_below_zero(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await create_reward(api, cost_points=30)
    inputs = [
        {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": f"many-{n}"}
        for n in range(50)
    ]

    bodies = await _all(api, REDEEM, inputs)

    succeeded = [b for b in bodies if b["data"]["redeemReward"]["redemption"] is not None]
    assert len(succeeded) == 33  # 33 x 30 = 990 of 1000
    assert (await member_status(api, member["id"]))["points"]["available"] == 10
    assert await verify_ledger() == []


def _pk(global_id: str) -> int:
    from app.graphql.core.ids import decode_any_id

    decoded = decode_any_id(global_id)
    assert decoded is not None
    return decoded[1]
