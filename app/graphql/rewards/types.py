"""Rewards in the API: the catalogue's rewards, redemptions' own fields, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from app.auth.api_keys import Principal
from app.auth.code_checks import take_code_check
from app.domain.errors import DomainError, ErrorCode
from app.domain.locales import TranslatableKind
from app.domain.rewards import (
    CodeSource,
    LimitPeriod,
    RedemptionSource,
    RedemptionStatus,
    RewardKind,
)
from app.graphql.core.context import Info, member_reader, principal_of
from app.graphql.core.errors import UserErrorCode
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.translations.types import TranslatedNameAndDescription
from app.services.rewards import codes as codes_service
from app.services.rewards.repository import RedemptionRecord, RewardRecord

RewardKindEnum = strawberry.enum(RewardKind, name="RewardKind")


RedemptionStatusEnum = strawberry.enum(RedemptionStatus, name="RedemptionStatus")


RedemptionSourceEnum = strawberry.enum(
    RedemptionSource,
    name="RedemptionSource",
    description="PURCHASE: bought with the member's points. GIFT: given by the program.",
)


RewardLimitPeriodEnum = strawberry.enum(
    LimitPeriod,
    name="RewardLimitPeriod",
    description="A per-member limit counts over all time (EVER) or per calendar day, ISO week,"
    " month or year in the program's time zone.",
)


CodeSourceEnum = strawberry.enum(
    CodeSource,
    name="RewardCodeSource",
    description="GENERATED: Laurel makes a random code. POOL: the next code the store uploaded.",
)


@strawberry.type(description="Something members can buy with points.")
class Reward(TranslatedNameAndDescription, Node):
    translatable = TranslatableKind.REWARD
    kind: RewardKindEnum  # type: ignore[valid-type]
    cost_points: int = strawberry.field(
        description="PAY_WITH_POINTS: the smallest spend (pointsMin)."
    )
    value_minor: int | None = strawberry.field(
        description="Face value in minor units of `currency`: FIXED_DISCOUNT, STORE_CREDIT,"
        " CHARITY."
    )
    stock: int | None = strawberry.field(description="Units left; null means unlimited.")
    active: bool
    created_at: datetime
    currency: str | None = strawberry.field(description="For kinds worth money.")
    minimum_order_minor: int | None = strawberry.field(
        description="FIXED_DISCOUNT: the order must reach this."
    )
    percent_off: int | None = strawberry.field(description="PERCENT_DISCOUNT: 1 to 100.")
    max_value_minor: int | None = strawberry.field(
        description="PERCENT_DISCOUNT: the cap; FREE_SHIPPING: shipping free up to this."
    )
    skus: list[str] = strawberry.field(
        description="FREE_PRODUCT: any one of these; PERCENT_DISCOUNT: only on these."
    )
    categories: list[str] = strawberry.field(description="PERCENT_DISCOUNT: only on these.")
    charity_name: str | None = strawberry.field(description="CHARITY: who receives it.")
    points_min: int | None = strawberry.field(description="PAY_WITH_POINTS.")
    points_max: int | None = strawberry.field(description="PAY_WITH_POINTS.")
    points_step: int | None = strawberry.field(
        description="PAY_WITH_POINTS: spends are multiples of it."
    )
    per_member_limit: int | None = strawberry.field(
        description="Redemptions one member may buy per limitPeriod; null: no limit."
    )
    limit_period: RewardLimitPeriodEnum  # type: ignore[valid-type]
    starts_at: datetime | None
    ends_at: datetime | None
    retired_at: datetime | None = strawberry.field(
        description="Retired rewards stay for history; nobody can redeem them."
    )
    code_source: CodeSourceEnum  # type: ignore[valid-type]
    code_valid_days: int | None = strawberry.field(
        description="Codes expire this many days after they are issued; null: never."
    )
    image_urls: list[str]
    required_tiers: list[str] = strawberry.field(
        description="Tiers that may redeem it (empty: everyone)."
    )
    required_segments: list[str] = strawberry.field(
        description="Segments that may redeem it (empty: everyone)."
    )

    @classmethod
    def from_record(cls, record: RewardRecord) -> Reward:
        return from_record(cls, record)


async def reward_for_reader(info: Info, reward_id: int | None) -> Reward | None:
    """A catalogue reward as this reader may see it: a storefront (publishable key) sees only
    what `rewards` lists, never an inactive or retired reward; admin and secret keys see all.
    Every field that leads to a configured reward (node, PunchCard.reward,
    MembershipPlan.welcomeReward, Tier.entryReward...) answers through this one rule."""
    if reward_id is None:
        return None
    record = await info.context.loaders.reward.load(reward_id)
    if record is None:
        return None
    offered = record.active and record.retired_at is None
    if not (offered or principal_of(info).can_read_members):
        return None
    return Reward.from_record(record)


# A Redemption's own fields; the schema's Redemption (app/graphql/members/types.py) adds its
# member and its reward.
@strawberry.type
class RedemptionFields(Node):
    code: str
    points_spent: int
    status: RedemptionStatusEnum  # type: ignore[valid-type]
    created_at: datetime
    source: RedemptionSourceEnum  # type: ignore[valid-type]
    value_minor: int | None = strawberry.field(
        description="What the code is worth in `currency`, when the reward has a value."
    )
    currency: str | None
    charity_name: str | None = strawberry.field(description="CHARITY: the donation's receiver.")
    expires_at: datetime | None
    used_at: datetime | None
    order_id: str | None = strawberry.field(description="The order that used the code.")
    cancelled_at: datetime | None
    expired_at: datetime | None
    member_pk: strawberry.Private[int]
    reward_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: RedemptionRecord) -> Self:
        return from_record(cls, record, order_id=record.used_order_id)


@strawberry.type(description="How a program's codes expire and what its points are worth.")
class RedemptionSettings:
    expired_codes_return_points: bool = strawberry.field(
        description="False (default): an expired, unused code returns nothing. True: a bought"
        " code's points come back when it expires (given rewards never return points)."
    )
    points_per_currency_unit: int = strawberry.field(
        description="PAY_WITH_POINTS: points per whole unit of the program's currency."
    )

    @classmethod
    def from_record(cls, record: codes_service.RedemptionSettingsRecord) -> RedemptionSettings:
        return from_record(cls, record)


@strawberry.type(description="A reward as one member sees it now.")
class RewardOption:
    reward: Reward
    cost_points: int = strawberry.field(description="What this member would pay.")
    redeemable: bool
    reason: UserErrorCode | None = strawberry.field(  # type: ignore[valid-type]
        description="The code redeemReward would refuse with now."
    )
    message: str | None


@strawberry.type(description="Donations made in members' names to one charity, in one currency.")
class CharityDonationTotal:
    charity_name: str
    currency: str
    total_minor: int
    donations: int


def spend_code_check(info: Info) -> Principal:
    """A secret or admin key with code checks left (app/auth/code_checks.py)."""
    principal = member_reader(info)
    decision = take_code_check(info.context.code_checks, principal)
    if decision is not None and not decision.allowed:
        raise DomainError(
            ErrorCode.CODE_CHECKS_RATE_LIMITED,
            f"too many code checks for this key; retry in {decision.retry_after} s",
        )
    return principal
