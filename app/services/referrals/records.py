"""What the referral tables hold, as records: one field per column, read by `RowMapper`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from app.domain.referrals import (
    CatalogueFailure,
    CatalogueRewardStatus,
    HoldReason,
    LimitPeriod,
    ReferralSide,
    ReferralState,
    ReferralTrigger,
    RejectionReason,
    RewardStatus,
    SideRule,
)

SOURCE_ENROLMENT = "ENROLMENT"
SOURCE_RECORDED = "RECORDED"
# A side's rule is stored as these columns, each prefixed with the side.
_SIDE_FIELDS = tuple(field.name for field in fields(SideRule))


@dataclass(frozen=True)
class ReferralSettingsRecord:
    """A program's referral settings; each side's rule is stored as columns of its own."""

    program_id: int
    enabled: bool
    url_template: str
    referrer_points: int
    referrer_trigger: ReferralTrigger
    referrer_minimum_order_minor: int
    referrer_max_orders: int
    referrer_reward_id: int | None
    friend_points: int
    friend_trigger: ReferralTrigger
    friend_minimum_order_minor: int
    friend_max_orders: int
    friend_reward_id: int | None
    referrer_limit: int
    referrer_limit_period: LimitPeriod
    ip_weekly_threshold: int
    attach_window_days: int
    signal_salt: str
    updated_at: datetime | None

    @property
    def referrer(self) -> SideRule:
        return self.rule(ReferralSide.REFERRER)

    @property
    def friend(self) -> SideRule:
        return self.rule(ReferralSide.FRIEND)

    def rule(self, side: ReferralSide) -> SideRule:
        prefix = side.value.lower()
        return SideRule(**{name: getattr(self, f"{prefix}_{name}") for name in _SIDE_FIELDS})


def side_columns(side: ReferralSide, rule: SideRule) -> dict[str, Any]:
    """The settings fields that hold `side`'s rule, as `dataclasses.replace` takes them."""
    prefix = side.value.lower()
    return {f"{prefix}_{name}": getattr(rule, name) for name in _SIDE_FIELDS}


def default_settings(program_id: int) -> ReferralSettingsRecord:
    """A program's settings before an admin saved any: referrals off."""
    return ReferralSettingsRecord(
        program_id=program_id,
        enabled=False,
        url_template="",
        **side_columns(
            ReferralSide.REFERRER, SideRule(points=0, trigger=ReferralTrigger.FIRST_ORDER)
        ),
        **side_columns(ReferralSide.FRIEND, SideRule(points=0, trigger=ReferralTrigger.SIGNUP)),
        referrer_limit=0,
        referrer_limit_period=LimitPeriod.MONTH,
        ip_weekly_threshold=0,
        attach_window_days=7,
        signal_salt="",
        updated_at=None,
    )


@dataclass(frozen=True)
class ReferralRecord:
    id: int
    program_id: int
    referrer_id: int
    friend_id: int | None
    friend_customer_id: str | None
    friend_email: str | None
    state: ReferralState
    rejection_reason: RejectionReason | None
    hold_reason: HoldReason | None
    review_note: str | None
    source: str
    created_at: datetime
    signed_up_at: datetime | None
    qualified_at: datetime | None
    rewarded_at: datetime | None
    held_at: datetime | None
    rejected_at: datetime | None
    reviewed_at: datetime | None
    ip_hash: str | None


@dataclass(frozen=True)
class ReferralRewardRecord:
    id: int
    referral_id: int
    member_id: int
    side: ReferralSide
    points: int
    status: RewardStatus
    order_id: int | None
    available_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    # The catalogue reward of the side, if it has one, and what became of it.
    reward_id: int | None
    reward_status: CatalogueRewardStatus | None
    reward_failure: CatalogueFailure | None
    reward_value_minor: int | None
    redemption_id: int | None


@dataclass(frozen=True)
class Referrer:
    """The member a code belongs to, as the fraud rules need them."""

    id: int
    program_id: int
    customer_id: str
    email: str | None
    code: str


@dataclass(frozen=True)
class Friend:
    """Who a new referral names as the friend: a member, or a customer who is not one yet."""

    member_id: int | None
    customer_id: str | None
    email: str | None
    enrolled_at: datetime | None
    # Enrolled by the very request that names the referrer.
    just_enrolled: bool


@dataclass(frozen=True)
class FriendOrder:
    """A friend's order, as its referral rewards need it."""

    id: int
    total_minor: int
    currency: str
    exchange_rate: str | None
    placed_at: datetime
