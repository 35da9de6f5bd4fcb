"""One redemption, inside its transaction: the checks in the order a member is told of them,
then points, stock and a code leave together.

Lock order: the member row, then the reward's stock, then the pool code. `member_price` is
the one answer to what a member pays, for the redemption and for the list of rewards alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import local_date
from app.domain.ids import encode_id
from app.domain.ledger import Account, TransactionKind
from app.domain.money import MAX_AMOUNT_MINOR
from app.domain.rewards import (
    MONEY_KINDS,
    CodeSource,
    LimitPeriod,
    RedemptionStatus,
    RewardKind,
    check_points_spend,
    code_expires_at,
    discount_for_points,
    new_redemption_code,
)
from app.services.analytics import rollups
from app.services.core.events import append_event
from app.services.experiments.enforcement import (
    program_plans,
    record_redemption_effects,
    withheld_rewards,
)
from app.services.ledger.service import Movement, lock_member_row, post_movement
from app.services.rewards import repository
from app.services.rewards.repository import NewRedemption, RedemptionRecord, RewardRecord
from app.services.rewards.terms import (
    REFUSED_BECAUSE,
    credit_for_store_credit_reward,
    member_reward_segments,
    member_reward_tier,
    reward_terms_for_tier,
)
from app.services.tiers.repository import TierRecord


def offer_refusal(reward: RewardRecord, now: datetime) -> tuple[ErrorCode, str] | None:
    """Why nobody can redeem `reward` now (retired, inactive, outside its window, no stock)."""
    if reward.retired_at is not None:
        return ErrorCode.REWARD_RETIRED, "the reward is retired"
    if not reward.active:
        return ErrorCode.REWARD_INACTIVE, "the reward is not active"
    if reward.starts_at is not None and now < reward.starts_at:
        return ErrorCode.REWARD_NOT_STARTED, "the reward cannot be redeemed before its start"
    if reward.ends_at is not None and now >= reward.ends_at:
        return ErrorCode.REWARD_ENDED, "the reward's redemption window has ended"
    if reward.stock is not None and reward.stock <= 0:
        return ErrorCode.REWARD_OUT_OF_STOCK, "the reward is out of stock"
    return None


@dataclass(frozen=True)
class MemberPrice:
    """What one member pays for a reward, and why they may not redeem it (None: they may)."""

    points: int
    refusal: ErrorCode | None


async def member_price(
    conn: BaseDBAsyncClient,
    *,
    program_id: int,
    member_id: int,
    reward: RewardRecord,
    points: int | None,
) -> MemberPrice:
    """The one answer to "what does this member pay, and may they", for both the redemption
    and the member's list of rewards (`reward_options`, which reads the tier once and asks
    `price_for_tier` for each reward), so the two cannot differ."""
    tier = await member_reward_tier(conn, program_id, member_id)
    segments = await member_reward_segments(conn, program_id, member_id, [reward])
    return price_for_tier(tier, reward, points, segments)


def price_for_tier(
    tier: TierRecord | None,
    reward: RewardRecord,
    points: int | None,
    segments: frozenset[str] = frozenset(),
) -> MemberPrice:
    """A fixed-cost reward costs its points less the tier's discount. PAY_WITH_POINTS is paid
    with the points the member chooses (`points`; the list shows `pointsMin`), never
    discounted: those points are what buys the discount's value. The tier may refuse either,
    and so may the reward's segments (`segments`: those of them the member is in)."""
    terms_cost, refusal = reward_terms_for_tier(tier, reward)
    if (
        refusal is None
        and reward.required_segments
        and not segments & set(reward.required_segments)
    ):
        refusal = ErrorCode.REWARD_SEGMENT_RESTRICTED
    if reward.kind is RewardKind.PAY_WITH_POINTS:
        assert reward.points_min is not None
        return MemberPrice(points=reward.points_min if points is None else points, refusal=refusal)
    return MemberPrice(points=terms_cost, refusal=refusal)


async def _lock_member(conn: BaseDBAsyncClient, member_id: int) -> int:
    """The member row first (as `lock_member`); their program. Refused while they owe points."""
    locked = await lock_member_row(conn, member_id, "program_id, points_debt")
    assert locked is not None
    if int(locked["points_debt"]) > 0:
        raise DomainError(
            ErrorCode.POINTS_OWED,
            "the member owes points from refunds: no redemption until they are repaid",
            ["input", "memberId"],
        )
    return int(locked["program_id"])


async def _value_of(
    conn: BaseDBAsyncClient, reward: RewardRecord, points: int | None, currency: str
) -> int | None:
    """The redemption's value in minor units: the reward's, or for PAY_WITH_POINTS what the
    chosen points buy."""
    if reward.kind is not RewardKind.PAY_WITH_POINTS:
        if points is not None:
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "points is only for PAY_WITH_POINTS rewards",
                ["input", "points"],
            )
        return reward.value_minor
    assert reward.points_min and reward.points_max and reward.points_step
    if points is None:
        raise DomainError(ErrorCode.REQUIRED, "PAY_WITH_POINTS needs points", ["input", "points"])
    problem = check_points_spend(
        points,
        points_min=reward.points_min,
        points_max=reward.points_max,
        points_step=reward.points_step,
    )
    if problem is not None:
        raise DomainError(problem[0], problem[1], ["input", "points"])
    settings = await repository.redemption_settings_of(conn, reward.program_id)
    return min(
        discount_for_points(points, currency, settings.points_per_currency_unit),
        MAX_AMOUNT_MINOR,
    )


async def _check_limit(
    conn: BaseDBAsyncClient, member_id: int, reward: RewardRecord, now: datetime, zone: str
) -> None:
    if reward.per_member_limit is None:
        return
    used = (await repository.purchases_in_windows(conn, member_id, [reward], now, zone)).get(
        reward.id, 0
    )
    if used >= reward.per_member_limit:
        raise DomainError(
            ErrorCode.REWARD_LIMIT_REACHED,
            f"the member already redeemed this reward {used} times"
            + ("" if reward.limit_period is LimitPeriod.EVER else " this period"),
            ["input", "rewardId"],
        )


async def _take_stock_and_code(
    conn: BaseDBAsyncClient, reward: RewardRecord
) -> tuple[int, str] | None:
    """One unit of stock, then for a pool reward its next code (None: a new random code)."""
    if reward.stock is not None and not await repository.take_stock(conn, reward.id):
        raise DomainError(
            ErrorCode.REWARD_OUT_OF_STOCK, "the reward is out of stock", ["input", "rewardId"]
        )
    if reward.code_source is not CodeSource.POOL:
        return None
    pool_code = await repository.take_pool_code(conn, reward.id)
    if pool_code is None:
        raise DomainError(
            ErrorCode.REWARD_POOL_EMPTY,
            "the reward's uploaded codes are all handed out: nothing was spent",
            ["input", "rewardId"],
        )
    return pool_code


async def redeem_in(
    conn: BaseDBAsyncClient, member_id: int, reward_id: int, points: int | None, now: datetime
) -> RedemptionRecord:
    """The redemption in the caller's transaction: every check, then the points, the stock,
    the code, the row, store credit when that is the reward, and the event."""
    program_id = await _lock_member(conn, member_id)
    # Read again inside the transaction: what was read before it may have changed.
    reward = await repository.read_reward(conn, reward_id, program_id)
    assert reward is not None
    refusal = offer_refusal(reward, now)
    if refusal is not None and refusal[0] is not ErrorCode.REWARD_OUT_OF_STOCK:
        raise DomainError(refusal[0], refusal[1], ["input", "rewardId"])
    # A reward an experiment tests is for the members of the variant that has it.
    plans = await program_plans(conn, program_id, member_id)
    if reward.id in withheld_rewards(plans, member_id, now):
        raise DomainError(
            ErrorCode.REWARD_NOT_IN_VARIANT,
            "the reward is part of an experiment that does not offer it to this member",
            ["input", "rewardId"],
        )
    zone, program_currency = await repository.program_zone(conn, program_id)
    currency = reward.currency or program_currency
    value_minor = await _value_of(conn, reward, points, currency)
    await _check_limit(conn, member_id, reward, now, zone)
    price = await member_price(
        conn, program_id=program_id, member_id=member_id, reward=reward, points=points
    )
    if price.refusal is not None:
        raise DomainError(price.refusal, REFUSED_BECAUSE[price.refusal], ["input", "rewardId"])
    posted = await post_movement(
        conn,
        Movement(
            program_id=program_id,
            member_id=member_id,
            kind=TransactionKind.REDEEM,
            points=-price.points,
            counter_account=Account.PROGRAM_REDEEMED,
            description=f"Redeemed {reward.name}",
            event_details={"rewardId": encode_id("Reward", reward.id)},
            # The member chose the points of a PAY_WITH_POINTS reward; any other sets its cost.
            asked_by=("input", "rewardId") if points is None else ("input", "points"),
            rollup=rollups.reward_rows(
                local_date(now, zone), reward.kind.value, value_minor, currency, program_currency
            ),
        ),
        now,
    )
    pool_code = await _take_stock_and_code(conn, reward)
    code = new_redemption_code() if pool_code is None else pool_code[1]
    # Store credit is on the balance at once, and a donation is made at once: the code is a
    # receipt, used on issue, so neither expires nor is cancelled (charity reports never change
    # after the fact).
    fulfilled = reward.kind in (RewardKind.STORE_CREDIT, RewardKind.CHARITY)
    redemption = await repository.insert_redemption(
        conn,
        NewRedemption(
            program_id=program_id,
            member_id=member_id,
            reward_id=reward.id,
            code=code,
            points_spent=price.points,
            status=RedemptionStatus.USED if fulfilled else RedemptionStatus.ISSUED,
            transaction_id=posted.transaction_id,
            created_at=now,
            value_minor=value_minor,
            currency=currency if reward.kind in MONEY_KINDS or value_minor is not None else None,
            charity_name=reward.charity_name,
            expires_at=None if fulfilled else code_expires_at(now, reward.code_valid_days),
            used_at=now if fulfilled else None,
            spent_points_expire_at=posted.spent_lots_expire_at,
        ),
    )
    if pool_code is not None:
        await repository.hand_out_pool_code(conn, pool_code[0], redemption.id)
    await record_redemption_effects(
        conn,
        plans,
        program_id=program_id,
        member_id=member_id,
        redemption_pk=redemption.id,
        reward_id=reward.id,
        points_spent=price.points,
        now=now,
    )
    if reward.kind is RewardKind.STORE_CREDIT:
        assert value_minor is not None
        await credit_for_store_credit_reward(
            conn,
            program_id=program_id,
            member_id=member_id,
            amount_minor=value_minor,
            currency=currency,
            redemption_code=code,
            now=now,
        )
    await append_event(
        conn,
        program_id=program_id,
        member_id=member_id,
        event_type="reward.redeemed",
        payload={
            "redemptionId": encode_id("Redemption", redemption.id),
            "rewardId": encode_id("Reward", reward.id),
            "rewardName": reward.name,
            "memberId": encode_id("Member", member_id),
            "kind": reward.kind.value,
            "pointsSpent": price.points,
            **({"valueMinor": value_minor, "currency": currency} if value_minor else {}),
        },
        now=now,
    )
    return redemption
