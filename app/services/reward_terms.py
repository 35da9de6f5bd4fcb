"""The two points where a redemption asks other features: tier terms and store credit.

Each is ONE function so the features that own those rules (tiers, the store-credit account)
plug in by replacing its body, without the redemption code changing. Both run inside the
redemption's transaction, after the member row is locked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.errors import DomainError, ErrorCode

if TYPE_CHECKING:
    from app.services.rewards import RewardRecord


async def member_reward_terms(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    reward: RewardRecord,
    now: datetime,
) -> tuple[int, ErrorCode | None]:
    """What the member pays for `reward` and, when they may not redeem it, why.

    Until tiers exist every member pays the listed cost and may redeem. With tiers this asks
    `app.services.tiers.reward_terms_for_member` (a tier discount, or REWARD_TIER_RESTRICTED
    when the reward needs a tier the member does not hold).
    """
    return reward.cost_points, None


async def credit_for_store_credit_reward(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    amount_minor: int,
    currency: str,
    redemption_code: str,
    now: datetime,
) -> int:
    """Put a STORE_CREDIT reward's value on the member's store-credit balance; returns the
    store-credit transaction id.

    The store-credit account is its own ledger (`app.services.store_credit.credit_store_credit`);
    without it, STORE_CREDIT rewards cannot be redeemed and the redemption is refused whole.
    """
    raise DomainError(
        ErrorCode.REWARD_KIND_UNAVAILABLE,
        "store credit is not available in this installation: STORE_CREDIT rewards cannot be"
        " redeemed",
        ["input", "rewardId"],
    )
