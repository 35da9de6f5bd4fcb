"""Many parallel requests on the catalogue: no oversold stock or pool, one winner per code."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from app.domain.ids import encode_id
from app.services.ledger.adjustments import AdjustPointsInput, adjust_points
from app.services.ledger.verify import verify_ledger
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points
from tests.graphql.helpers import rows
from tests.graphql.rewards.factories import (
    CANCEL,
    MARK_USED,
    REDEEM,
    UPLOAD,
    make_reward,
    points_of,
    redeemed,
)


async def _all(api: Api, query: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    responses = await asyncio.gather(*(api.post(query, {"input": i}) for i in inputs))
    assert sorted({r.status_code for r in responses}) == [200]
    bodies = [r.json() for r in responses]
    assert [b for b in bodies if "errors" in b] == []
    return [next(iter(b["data"].values())) for b in bodies]


async def _members_with_points(count: int, points: int) -> list[str]:
    """Members made through the services: quicker than the API for hundreds."""
    ids = []
    for n in range(count):
        member = await enroll_member(EnrollMemberInput("shop", f"cust-{n}"), None)
        await adjust_points(AdjustPointsInput(member.id, points, "test credit", f"g-{n}"), None)
        ids.append(encode_id("Member", member.id))
    return ids


def _outcomes(payloads: list[dict[str, Any]], key: str) -> Counter[str]:
    return Counter("OK" if p[key] is not None else p["userErrors"][0]["code"] for p in payloads)


async def test_500_redeemers_of_a_reward_with_stock_10_get_exactly_10(api: Api) -> None:
    await create_program(api)
    members = await _members_with_points(500, 100)
    reward = await make_reward(api, stock=10)
    inputs = [
        {"memberId": member_id, "rewardId": reward["id"], "idempotencyKey": f"redeem-{member_id}"}
        for member_id in members
    ]

    payloads = await _all(api, REDEEM, inputs)

    assert _outcomes(payloads, "redemption") == {"OK": 10, "REWARD_OUT_OF_STOCK": 490}
    assert [int(r["stock"]) for r in await rows("SELECT stock FROM rewards")] == [0]
    spent = await rows("SELECT COUNT(*) AS n FROM members WHERE points_available = 0")
    assert int(spent[0]["n"]) == 10
    assert len({p["redemption"]["code"] for p in payloads if p["redemption"]}) == 10
    assert await verify_ledger() == []


async def test_a_member_redeeming_two_rewards_at_once_with_points_for_one_gets_one(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 150)
    first = await make_reward(api, name="First", costPoints=100)
    second = await make_reward(api, name="Second", costPoints=100)
    inputs = [
        {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": f"k-{n}"}
        for n, reward in enumerate((first, second))
    ]

    payloads = await _all(api, REDEEM, inputs)

    assert _outcomes(payloads, "redemption") == {"OK": 1, "INSUFFICIENT_POINTS": 1}
    assert (await points_of(api, member["id"]))["available"] == 50
    assert await verify_ledger() == []


async def test_100_checkouts_marking_one_code_with_different_orders_one_wins(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 100)
    issued = await redeemed(api, member["id"], (await make_reward(api))["id"])
    inputs = [
        {"programSlug": "shop", "code": issued["code"], "orderId": f"order-{n}"} for n in range(100)
    ]

    payloads = await _all(api, MARK_USED, inputs)

    assert _outcomes(payloads, "redemption") == {"OK": 1, "REDEMPTION_ALREADY_USED": 99}
    winner = next(p for p in payloads if p["redemption"])
    stored = await rows("SELECT status, used_order_id FROM redemptions")
    assert stored == [{"status": "USED", "used_order_id": winner["redemption"]["orderId"]}]


async def test_concurrent_redeemers_of_a_pool_never_share_a_code(api: Api) -> None:
    await create_program(api)
    members = await _members_with_points(40, 100)
    reward = await make_reward(api, codeSource="POOL")
    upload = await api.data(
        UPLOAD,
        {"input": {"rewardId": reward["id"], "codes": [f"POOL-CODE-{n:02d}" for n in range(8)]}},
    )
    inputs = [
        {"memberId": member_id, "rewardId": reward["id"], "idempotencyKey": f"redeem-{member_id}"}
        for member_id in members
    ]

    payloads = await _all(api, REDEEM, inputs)

    assert upload["uploadRewardCodes"]["added"] == 8
    assert _outcomes(payloads, "redemption") == {"OK": 8, "REWARD_POOL_EMPTY": 32}
    handed = sorted(p["redemption"]["code"] for p in payloads if p["redemption"])
    assert handed == [f"POOL-CODE-{n:02d}" for n in range(8)]
    spent = await rows("SELECT COUNT(*) AS n FROM members WHERE points_available = 0")
    assert int(spent[0]["n"]) == 8
    assert await verify_ledger() == []


async def test_50_concurrent_cancellations_return_the_points_once(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 100)
    issued = await redeemed(api, member["id"], (await make_reward(api, stock=1))["id"])

    payloads = await _all(api, CANCEL, [{"id": issued["id"]}] * 50)

    assert _outcomes(payloads, "redemption") == {"OK": 50}
    assert (await points_of(api, member["id"]))["available"] == 100
    assert [int(r["stock"]) for r in await rows("SELECT stock FROM rewards")] == [1]
    assert await verify_ledger() == []
