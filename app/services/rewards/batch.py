"""Rewards and redemptions read by the batch, for the API's DataLoaders
(app/graphql/loaders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from app.services.programs.service import ProgramScope, read_many_in_scope
from app.services.rewards.repository import (
    RedemptionRecord,
    RewardRecord,
    redemption_of,
    reward_of,
)


async def rewards_by_id(reward_ids: Sequence[int], scope: ProgramScope) -> dict[int, RewardRecord]:
    """`get_reward` for many ids in one statement: those found in the scope, by id."""
    return await read_many_in_scope(
        f"SELECT {reward_of.columns} FROM rewards", reward_ids, reward_of, scope
    )


async def redemptions_by_id(
    redemption_ids: Sequence[int], scope: ProgramScope
) -> dict[int, RedemptionRecord]:
    """`get_redemption` for many ids in one statement: those found in the scope, by id."""
    return await read_many_in_scope(
        f"SELECT {redemption_of.columns} FROM redemptions",
        redemption_ids,
        redemption_of,
        scope,
    )
