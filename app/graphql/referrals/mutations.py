"""Referral mutations: settings, recording a referral, reviewing a held one."""

from __future__ import annotations

import strawberry

from app.graphql.core.admin_writes import scoped_write
from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation
from app.graphql.core.records import service_input
from app.graphql.members.types import Referral
from app.graphql.referrals.types import (
    LimitPeriodEnum,
    ReferralSettings,
    ReferralSignalsInput,
    ReferralTriggerEnum,
    signals_of,
)
from app.services.referrals import service as referrals_service


@strawberry.input
class ReferralSideInput:
    points: int
    trigger: ReferralTriggerEnum  # type: ignore[valid-type]
    minimum_order_minor: int = 0
    max_orders: int = strawberry.field(default=1, description="EACH_ORDER only.")
    reward_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="An active Reward of the program given besides (or instead of) the points.",
    )

    def to_service(self, field: list[str]) -> referrals_service.SideInput:
        return service_input(
            self, referrals_service.SideInput, ids={"reward_id": "Reward"}, at=field
        )


@strawberry.input(description="Leave a field out to keep its current value.")
class UpdateReferralSettingsInput:
    program_slug: str
    enabled: bool | None = None
    url_template: str | None = None
    referrer: ReferralSideInput | None = None
    friend: ReferralSideInput | None = None
    referrer_limit: int | None = None
    referrer_limit_period: LimitPeriodEnum | None = None  # type: ignore[valid-type]
    ip_weekly_threshold: int | None = None
    attach_window_days: int | None = None


@strawberry.type
class UpdateReferralSettingsPayload:
    settings: ReferralSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RecordReferralInput:
    program_slug: str
    referral_code: str = strawberry.field(description="The referrer's code.")
    idempotency_key: str
    friend_customer_id: str | None = strawberry.field(
        default=None, description="The friend's customer id; give it or friendEmail."
    )
    friend_email: str | None = None
    friend_signals: ReferralSignalsInput | None = None
    referrer_signals: ReferralSignalsInput | None = None


@strawberry.type
class ReferralPayload:
    referral: Referral | None = strawberry.field(
        default=None,
        description="A referral refused by a fraud rule is recorded: state REJECTED, with its"
        " rejectionReason, and no userErrors.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReviewReferralInput:
    id: strawberry.ID
    idempotency_key: str | None = strawberry.field(
        default=None, description="Required to approve (rewards may follow)."
    )
    note: str | None = None


@mutation(description="Admin only: a program's referral settings.")
async def update_referral_settings(
    info: Info, input: UpdateReferralSettingsInput
) -> UpdateReferralSettingsPayload:
    admin(info)
    record = await referrals_service.update_settings(
        service_input(
            input,
            referrals_service.UpdateReferralSettingsInput,
            referrer=None
            if input.referrer is None
            else input.referrer.to_service(["input", "referrer"]),
            friend=None if input.friend is None else input.friend.to_service(["input", "friend"]),
        )
    )
    return UpdateReferralSettingsPayload(settings=ReferralSettings.from_record(record))


@mutation(
    description="Attach a referral: invite a friend who is not a member yet, or a member who"
    " enrolled within the attach window and has no orders."
)
async def record_referral(info: Info, input: RecordReferralInput) -> ReferralPayload:
    recorded = await scoped_write(
        member_reader(info),
        input,
        referrals_service.RecordReferralInput,
        referrals_service.record_referral,
        friend_signals=signals_of(input.friend_signals),
        referrer_signals=signals_of(input.referrer_signals),
    )
    return ReferralPayload(referral=Referral.from_record(recorded.referral))


@mutation(
    description="Admin only: approve a HELD referral; the rewards it earned meanwhile follow."
)
async def approve_referral(info: Info, input: ReviewReferralInput) -> ReferralPayload:
    return await _review(info, input, approve=True)


@mutation(description="Admin only: reject a HELD referral (REJECTED_BY_ADMIN).")
async def reject_referral(info: Info, input: ReviewReferralInput) -> ReferralPayload:
    return await _review(info, input, approve=False)


async def _review(info: Info, input: ReviewReferralInput, *, approve: bool) -> ReferralPayload:
    admin(info)
    reviewed = await referrals_service.review_referral(
        service_input(
            input,
            referrals_service.ReviewReferralInput,
            referral_id=decode_id(input.id, "Referral", ["input", "id"]),
            approve=approve,
        )
    )
    return ReferralPayload(referral=Referral.from_record(reviewed.referral))
