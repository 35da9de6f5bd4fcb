"""The two points where a redemption asks other features: tier terms and store credit.

Each is ONE function, so the redemption code does not know the rules of tiers or of the
store-credit account. Both run inside the redemption's transaction, after the member row is
locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import utc_now
from app.domain.errors import DomainError, ErrorCode
from app.services.rewards.repository import RewardRecord
from app.services.segments.membership import segments_of_member
from app.services.segments.service import unknown_segment_keys
from app.services.store_credit.service import credit_store_credit
from app.services.tiers.repository import TierRecord
from app.services.tiers.service import member_tier, reward_terms_under, unknown_tier_names


async def member_reward_tier(
    conn: BaseDBAsyncClient, program_id: int, member_id: int
) -> TierRecord | None:
    """The member's tier, the one fact of theirs a reward's terms depend on
    (`app.services.tiers.service.member_tier`)."""
    return await member_tier(conn, program_id, member_id)


# Why a member may not redeem a reward, in the redemption's error and the member's list alike.
REFUSED_BECAUSE = {
    ErrorCode.REWARD_TIER_RESTRICTED: "the member's tier may not redeem this reward",
    ErrorCode.REWARD_SEGMENT_RESTRICTED: "the reward is for segments the member is not in",
}


async def member_reward_segments(
    conn: BaseDBAsyncClient, program_id: int, member_id: int, rewards: Sequence[RewardRecord]
) -> frozenset[str]:
    """Which of the segments the rewards require the member is in now (nothing is read when
    none requires one)."""
    wanted = sorted({key for reward in rewards for key in reward.required_segments})
    if not wanted:
        return frozenset()
    return await segments_of_member(conn, program_id, member_id, wanted, utc_now())


def reward_terms_for_tier(
    tier: TierRecord | None, reward: RewardRecord
) -> tuple[int, ErrorCode | None]:
    """What a member of `tier` pays for `reward` and, when they may not redeem it, why: their
    tier's discount, or REWARD_TIER_RESTRICTED when the reward needs a tier the member does not
    hold (`app.services.tiers.service.reward_terms_under`)."""
    terms = reward_terms_under(tier, reward.required_tiers, reward.cost_points)
    return terms.cost_points, None if terms.allowed else ErrorCode.REWARD_TIER_RESTRICTED


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
    """Put a STORE_CREDIT reward's value on the member's store-credit balance (its own ledger
    account, `app.services.store_credit.service`); returns the new balance."""
    return await credit_store_credit(
        conn,
        program_id=program_id,
        member_id=member_id,
        amount_minor=amount_minor,
        currency=currency,
        reason="Reward redeemed",
        source_ref=f"redemption:{redemption_code}",
        now=now,
    )


async def check_required_tiers(
    conn: BaseDBAsyncClient, program_id: int, required_tiers: tuple[str, ...]
) -> None:
    """A reward may only require the program's active tiers (TIER_NOT_FOUND, on the first
    unknown name); configureTiers keeps the names right when a tier is renamed, and refuses to
    retire a tier a reward requires."""
    unknown = await unknown_tier_names(conn, program_id, required_tiers)
    if unknown:
        raise DomainError(
            ErrorCode.TIER_NOT_FOUND,
            f"no active tier {unknown[0]!r} in this program",
            ["input", "requiredTiers"],
        )


async def check_required_segments(
    conn: BaseDBAsyncClient, program_id: int, required_segments: tuple[str, ...]
) -> None:
    """A reward may only require segments the program keeps (SEGMENT_NOT_FOUND); archiving a
    segment a reward requires is refused."""
    unknown = await unknown_segment_keys(conn, program_id, required_segments)
    if unknown:
        raise DomainError(
            ErrorCode.SEGMENT_NOT_FOUND,
            f"no segment with key {unknown[0]!r} in this program",
            ["input", "requiredSegments"],
        )
