"""configureTiers and a reward requiring one of its tiers, saved at the same moment."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from tortoise.backends.base.client import TransactionalDBClient

from app.services.rewards import service as rewards_service
from app.services.tiers import configuration as tier_configuration
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program
from tests.graphql.helpers import rows
from tests.graphql.rewards.factories import CREATE
from tests.graphql.tiers.test_tiers import configure


async def test_a_tier_is_never_retired_under_a_reward_that_requires_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await configure(api)  # Silver and Gold
    # Once its checks pass, each side waits up to half a second for the other to pass its own.
    # Without the tier configuration's lock both would, and both would commit.
    passed = {"tiers": asyncio.Event(), "reward": asyncio.Event()}

    async def meet(me: str, other: str) -> None:
        passed[me].set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(passed[other].wait(), 0.5)

    checked_changes = tier_configuration._checked_changes
    check_required_tiers = rewards_service.check_required_tiers  # type: ignore[attr-defined]

    async def changes_then_meet(*args: Any, **kwargs: Any) -> dict[str, str]:
        renames = await checked_changes(*args, **kwargs)
        await meet("tiers", "reward")
        return renames

    async def required_then_meet(conn: Any, *args: Any, **kwargs: Any) -> None:
        await check_required_tiers(conn, *args, **kwargs)
        # createReward checks once before its transaction (for the order of errors) and once
        # inside it, under the lock: the second check is the one that counts.
        if isinstance(conn, TransactionalDBClient):
            await meet("reward", "tiers")

    monkeypatch.setattr(tier_configuration, "_checked_changes", changes_then_meet)
    monkeypatch.setattr(rewards_service, "check_required_tiers", required_then_meet)

    retiring, creating = await asyncio.gather(
        configure(api, [{"name": "Silver", "threshold": 10_000}]),
        api.data(
            CREATE,
            {
                "input": {
                    "programSlug": "shop",
                    "name": "Gold lounge",
                    "kind": "CUSTOM",
                    "costPoints": 100,
                    "requiredTiers": ["Gold"],
                }
            },
        ),
    )

    outcomes = (
        tuple(error["code"] for error in retiring["userErrors"]),
        tuple(error["code"] for error in creating["createReward"]["userErrors"]),
    )
    assert outcomes in {((), ("TIER_NOT_FOUND",)), (("TIER_IN_USE",), ())}, outcomes
    stranded = [
        reward
        for reward in await rows("SELECT name, required_tiers FROM rewards")
        if "Gold" in str(reward["required_tiers"])
        and (await rows("SELECT retired_at FROM tiers WHERE name = 'Gold'"))[0]["retired_at"]
    ]
    assert stranded == []
