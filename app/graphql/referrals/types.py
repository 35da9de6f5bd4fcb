"""Referrals in the API: settings, and the fields of a referral and of its rewards."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import strawberry

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
    Signals,
)
from app.graphql.core.context import Info
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.rewards.types import Reward, reward_for_reader
from app.services.referrals.records import (
    ReferralRecord,
    ReferralRewardRecord,
    ReferralSettingsRecord,
)

ReferralStateEnum = strawberry.enum(
    ReferralState,
    name="ReferralState",
    description="INVITED (the friend is not a member yet), SIGNED_UP, QUALIFIED (the friend met"
    " the referrer's trigger; the referrer's reward is pending), REWARDED (final), HELD (for"
    " review), REJECTED (see rejectionReason).",
)


ReferralTriggerEnum = strawberry.enum(
    ReferralTrigger,
    name="ReferralTrigger",
    description="SIGNUP: the friend enrols. FIRST_ORDER: the friend's first order reaching the"
    " minimum. EACH_ORDER: each such order, up to maxOrders.",
)


RejectionReasonEnum = strawberry.enum(RejectionReason, name="ReferralRejectionReason")


HoldReasonEnum = strawberry.enum(HoldReason, name="ReferralHoldReason")


ReferralSideEnum = strawberry.enum(ReferralSide, name="ReferralSide")


RewardStatusEnum = strawberry.enum(RewardStatus, name="ReferralRewardStatus")


LimitPeriodEnum = strawberry.enum(LimitPeriod, name="ReferralLimitPeriod")


CatalogueRewardStatusEnum = strawberry.enum(
    CatalogueRewardStatus,
    name="ReferralCatalogueRewardStatus",
    description="PENDING until the side's reward is final, GIVEN (see redemption), FAILED (see"
    " catalogueFailure; the points were paid) or CANCELLED by a refund.",
)


CatalogueFailureEnum = strawberry.enum(CatalogueFailure, name="ReferralCatalogueFailure")


def _member_session(info: Info) -> bool:
    return info.context.principal.is_member_session


@strawberry.type(description="What one side of a referral earns, and when.")
class ReferralSideRule:
    points: int
    trigger: ReferralTriggerEnum  # type: ignore[valid-type]
    minimum_order_minor: int = strawberry.field(
        description="Order triggers: the order's total, in the program's currency, must reach it."
    )
    max_orders: int = strawberry.field(description="EACH_ORDER: orders that earn, at most.")
    reward_pk: strawberry.Private[int | None]

    @strawberry.field(
        description="A reward of the catalogue given besides (or instead of) the points: its"
        " cost is credited and redeemed at once, leaving the balance as it was."
    )
    async def reward(self, info: Info) -> Reward | None:
        return await reward_for_reader(info, self.reward_pk)


@strawberry.type(description="A program's referral settings; referrals are off until enabled.")
class ReferralSettings:
    enabled: bool
    url_template: str = strawberry.field(description="The link, with {code} for the code.")
    referrer: ReferralSideRule
    friend: ReferralSideRule
    referrer_limit: int = strawberry.field(
        description="Referrals per referrer and period before the next are held; 0: no limit."
    )
    referrer_limit_period: LimitPeriodEnum  # type: ignore[valid-type]
    ip_weekly_threshold: int = strawberry.field(
        description="Referrals from one IP address in 7 days before the next are held; 0: off."
    )
    attach_window_days: int = strawberry.field(
        description="How long after enrolling a member can still be attached by recordReferral."
    )
    updated_at: datetime | None

    @classmethod
    def from_record(cls, record: ReferralSettingsRecord) -> ReferralSettings:
        return from_record(
            cls,
            record,
            referrer=from_record(ReferralSideRule, record.referrer),
            friend=from_record(ReferralSideRule, record.friend),
        )


async def _catalogue_reward(info: Info, reward_id: int | None) -> Reward | None:
    if reward_id is None:
        return None
    record = await info.context.loaders.reward.load(reward_id)
    return None if record is None else Reward.from_record(record)


@strawberry.input(
    description="What the store knows of a customer's device and payment; stored only as"
    " salted SHA-256 hashes."
)
class ReferralSignalsInput:
    ip_address: str | None = None
    device_id: str | None = None
    payment_fingerprint: str | None = None
    shipping_address_hash: str | None = None

    def to_domain(self) -> Signals:
        return Signals(
            ip_address=self.ip_address,
            device_id=self.device_id,
            payment_fingerprint=self.payment_fingerprint,
            shipping_address_hash=self.shipping_address_hash,
        )


def signals_of(signals: ReferralSignalsInput | None) -> Signals | None:
    return None if signals is None else signals.to_domain()


# A ReferralReward's own fields; the schema's ReferralReward (app/graphql/members/types.py)
# adds its redemption.
@strawberry.type
class ReferralRewardFields:
    side: ReferralSideEnum  # type: ignore[valid-type]
    points: int
    status: RewardStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING through the order's return window, PAID, or CANCELLED by a refund."
    )
    order_id: strawberry.ID | None = strawberry.field(description="The Order that earned it.")
    available_at: datetime | None
    created_at: datetime
    catalogue_status: CatalogueRewardStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="What became of the catalogue reward; null when the side earns points only."
    )
    catalogue_failure: CatalogueFailureEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Why a FAILED catalogue reward could not be given."
    )
    value_minor: int | None = strawberry.field(
        description="The face value of the GIVEN catalogue reward when it was given, in minor"
        " units of the program's currency."
    )
    reward_pk: strawberry.Private[int | None]
    redemption_pk: strawberry.Private[int | None]
    member_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: ReferralRewardRecord) -> Self:
        return from_record(
            cls,
            record,
            order_id=None
            if record.order_id is None
            else strawberry.ID(encode_id("Order", record.order_id)),
            catalogue_status=record.reward_status,
            catalogue_failure=record.reward_failure,
            value_minor=record.reward_value_minor,
        )

    @strawberry.field(description="The catalogue reward of this side, if it has one.")
    async def reward(self, info: Info) -> Reward | None:
        return await _catalogue_reward(info, self.reward_pk)


# A Referral's own fields; the schema's Referral (app/graphql/members/types.py) adds the
# referrer, the friend and the rewards.
@strawberry.type
class ReferralFields(Node):
    state: ReferralStateEnum  # type: ignore[valid-type]
    rejection_reason: RejectionReasonEnum | None  # type: ignore[valid-type]
    source: str = strawberry.field(description="ENROLMENT (a code at enrolment) or RECORDED.")
    created_at: datetime
    signed_up_at: datetime | None
    qualified_at: datetime | None
    rewarded_at: datetime | None
    held_at: datetime | None
    rejected_at: datetime | None
    reviewed_at: datetime | None
    referrer_pk: strawberry.Private[int]
    friend_pk: strawberry.Private[int | None]
    referral_pk: strawberry.Private[int]
    # The store's view only: a member token reading its own referrals sees none of these.
    hold_reason_value: strawberry.Private[Any]
    review_note_value: strawberry.Private[str | None]
    friend_customer_id_value: strawberry.Private[str | None]
    friend_email_value: strawberry.Private[str | None]

    @strawberry.field(
        description="Why it was held for review (kept after the review); null for a member token."
    )
    def hold_reason(self, info: Info) -> HoldReasonEnum | None:  # type: ignore[valid-type]
        return None if _member_session(info) else self.hold_reason_value

    @strawberry.field(description="The reviewer's note; null for a member token.")
    def review_note(self, info: Info) -> str | None:
        return None if _member_session(info) else self.review_note_value

    @strawberry.field(description="The friend's customer id; null for a member token.")
    def friend_customer_id(self, info: Info) -> str | None:
        return None if _member_session(info) else self.friend_customer_id_value

    @strawberry.field(description="The friend's e-mail; null for a member token.")
    def friend_email(self, info: Info) -> str | None:
        return None if _member_session(info) else self.friend_email_value

    @classmethod
    def from_record(cls, record: ReferralRecord) -> Self:
        return from_record(cls, record, referral_pk=record.id)
