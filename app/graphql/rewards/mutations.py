"""Reward mutations: the catalogue, redeeming, and what happens to a code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.domain.errors import DomainError, ErrorCode
from app.domain.rewards import CodeSource, LimitPeriod
from app.graphql.core.admin_writes import RecordPayloads, admin_id
from app.graphql.core.context import Info, acting_for_member, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.core.records import service_input
from app.graphql.members.types import Redemption
from app.graphql.rewards.types import (
    CodeSourceEnum,
    RedemptionSettings,
    Reward,
    RewardKindEnum,
    RewardLimitPeriodEnum,
    spend_code_check,
)
from app.services.rewards import codes as codes_service
from app.services.rewards import service as rewards_service


@strawberry.input(description="A reward; each kind takes only its own terms (see RewardKind).")
class CreateRewardInput:
    program_slug: str
    name: str
    kind: RewardKindEnum  # type: ignore[valid-type]
    cost_points: int = strawberry.field(
        description="Points it costs; PAY_WITH_POINTS: the smallest spend, equal to pointsMin."
    )
    description: str = ""
    value_minor: int | None = strawberry.field(
        default=None, description="FIXED_DISCOUNT, STORE_CREDIT, CHARITY: the value (required)."
    )
    stock: int | None = strawberry.field(default=None, description="Null means unlimited.")
    active: bool = True
    currency: str | None = strawberry.field(
        default=None, description="Kinds worth money; the program's currency when left out."
    )
    minimum_order_minor: int | None = None
    percent_off: int | None = None
    max_value_minor: int | None = None
    skus: list[str] = strawberry.field(default_factory=list)
    categories: list[str] = strawberry.field(default_factory=list)
    charity_name: str | None = None
    points_min: int | None = None
    points_max: int | None = None
    points_step: int | None = None
    per_member_limit: int | None = None
    limit_period: RewardLimitPeriodEnum = LimitPeriod.EVER  # type: ignore[valid-type]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    code_source: CodeSourceEnum = CodeSource.GENERATED  # type: ignore[valid-type]
    code_valid_days: int | None = None
    image_urls: list[str] = strawberry.field(default_factory=list)
    required_tiers: list[str] = strawberry.field(default_factory=list)
    required_segments: list[str] = strawberry.field(default_factory=list)
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.type
class RewardPayload:
    reward: Reward | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Fields left out keep their value; send null to clear an optional one. The kind"
    " and the code source never change; codes already issued keep their terms."
)
class UpdateRewardInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    cost_points: int | None = strawberry.UNSET
    value_minor: int | None = strawberry.UNSET
    stock: int | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    minimum_order_minor: int | None = strawberry.UNSET
    percent_off: int | None = strawberry.UNSET
    max_value_minor: int | None = strawberry.UNSET
    skus: list[str] | None = strawberry.UNSET
    categories: list[str] | None = strawberry.UNSET
    charity_name: str | None = strawberry.UNSET
    points_min: int | None = strawberry.UNSET
    points_max: int | None = strawberry.UNSET
    points_step: int | None = strawberry.UNSET
    per_member_limit: int | None = strawberry.UNSET
    limit_period: RewardLimitPeriodEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    starts_at: datetime | None = strawberry.UNSET
    ends_at: datetime | None = strawberry.UNSET
    code_valid_days: int | None = strawberry.UNSET
    image_urls: list[str] | None = strawberry.UNSET
    required_tiers: list[str] | None = strawberry.UNSET
    required_segments: list[str] | None = strawberry.UNSET


# Fields that cannot be null: null is refused like a missing value.
_NOT_NULL = {"name", "cost_points", "active", "limit_period"}


_LISTS = {"skus", "categories", "image_urls", "required_tiers", "required_segments"}


def _changes(input: UpdateRewardInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in UpdateRewardInput.__annotations__:
        if name == "id":
            continue
        value = getattr(input, name)
        if value is strawberry.UNSET:
            continue
        if value is None and name in _NOT_NULL:
            camel = to_camel_case(name)
            raise DomainError(ErrorCode.REQUIRED, f"{camel} cannot be null", ["input", camel])
        if name in _LISTS:
            value = tuple(value or ())
        if name == "description" and value is None:
            value = ""
        changes[name] = value
    return changes


@strawberry.input
class RetireRewardInput:
    id: strawberry.ID


@strawberry.input
class UploadRewardCodesInput:
    reward_id: strawberry.ID
    codes: list[str] = strawberry.field(
        description="At most 10000 per upload; 8 to 64 characters each, compared without case."
    )


@strawberry.type
class UploadRewardCodesPayload:
    added: int = 0
    duplicates: list[str] = strawberry.field(
        default_factory=list,
        description="Codes skipped: repeated in the upload or already known (in any program).",
    )
    available: int = strawberry.field(default=0, description="Codes not yet handed out.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class MarkRedemptionUsedInput:
    program_slug: str
    code: str
    order_id: str = strawberry.field(description="The store's order that used the code.")


@strawberry.type
class MarkRedemptionUsedPayload:
    redemption: Redemption | None = None
    already_used: bool = strawberry.field(
        default=False, description="True when this same order had used it: nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancelRedemptionInput:
    id: strawberry.ID


@strawberry.type
class RedemptionPayload:
    redemption: Redemption | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_rewards = RecordPayloads("Reward", Reward.from_record, RewardPayload, "reward")
_redemptions = RecordPayloads("Redemption", Redemption.from_record, RedemptionPayload, "redemption")


@strawberry.input(description="Leave a field out to keep its value.")
class UpdateRedemptionSettingsInput:
    program_slug: str
    expired_codes_return_points: bool | None = None
    points_per_currency_unit: int | None = None


@strawberry.type
class UpdateRedemptionSettingsPayload:
    settings: RedemptionSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(description="Admin only.")
async def create_reward(info: Info, input: CreateRewardInput) -> RewardPayload:
    return await _rewards.created(
        info, input, rewards_service.CreateRewardInput, rewards_service.create_reward
    )


@mutation(description="Admin only: change a reward that is not retired.")
async def update_reward(info: Info, input: UpdateRewardInput) -> RewardPayload:
    changes = rewards_service.UpdateRewardInput(
        reward_id=admin_id(info, input.id, "Reward"), changes=_changes(input)
    )
    return _rewards.of(await rewards_service.update_reward(changes))


@mutation(description="Admin only: no new redemptions; issued codes stay valid and history stays.")
async def retire_reward(info: Info, input: RetireRewardInput) -> RewardPayload:
    return _rewards.of(await rewards_service.retire_reward(admin_id(info, input.id, "Reward")))


@mutation(description="Admin only: add the store's codes to a POOL reward.")
async def upload_reward_codes(
    info: Info, input: UploadRewardCodesInput
) -> UploadRewardCodesPayload:
    uploaded = await codes_service.upload_codes(
        admin_id(info, input.reward_id, "Reward", "rewardId"), input.codes
    )
    return UploadRewardCodesPayload(
        added=uploaded.added,
        duplicates=list(uploaded.duplicates),
        available=uploaded.available,
    )


@mutation(
    description="For the store's checkout: the code was used by this order. Repeating it"
    " with the same order succeeds (alreadyUsed); another order is REDEMPTION_ALREADY_USED."
    " Rate-limited per key with validateRedemptionCode."
)
async def mark_redemption_used(
    info: Info, input: MarkRedemptionUsedInput
) -> MarkRedemptionUsedPayload:
    principal = spend_code_check(info)
    marked = await codes_service.mark_used(
        input.program_slug, input.code, input.order_id, principal.program_scope
    )
    return MarkRedemptionUsedPayload(
        redemption=Redemption.from_record(marked.redemption),
        already_used=marked.already_used,
    )


@mutation(
    description="Cancel an unused code (secret or admin key): a bought one returns its"
    " points and stock, a given one is taken back. Cancelling again changes nothing."
)
async def cancel_redemption(info: Info, input: CancelRedemptionInput) -> RedemptionPayload:
    return await _redemptions.by_id(member_reader(info), input.id, codes_service.cancel_redemption)


@mutation(description="Admin only: a program's redemption settings.")
async def update_redemption_settings(
    info: Info, input: UpdateRedemptionSettingsInput
) -> UpdateRedemptionSettingsPayload:
    admin(info)
    record = await codes_service.update_redemption_settings(
        input.program_slug,
        expired_codes_return_points=input.expired_codes_return_points,
        points_per_currency_unit=input.points_per_currency_unit,
    )
    return UpdateRedemptionSettingsPayload(settings=RedemptionSettings.from_record(record))


@strawberry.input
class RedeemRewardInput:
    member_id: strawberry.ID
    reward_id: strawberry.ID
    idempotency_key: str
    points: int | None = strawberry.field(
        default=None, description="PAY_WITH_POINTS only: the points to spend (min, max, step)."
    )


@strawberry.type
class RedeemRewardPayload:
    redemption: Redemption | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(description="Spend a member's points on a reward and issue its code.")
async def redeem_reward(info: Info, input: RedeemRewardInput) -> RedeemRewardPayload:
    member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
    principal = acting_for_member(info, member_id)
    redeemed = await rewards_service.redeem_reward(
        service_input(
            input,
            rewards_service.RedeemRewardInput,
            ids={"reward_id": "Reward"},
            member_id=member_id,
            by_member=principal.is_member_session,
        ),
        principal.program_scope,
    )
    return RedeemRewardPayload(redemption=Redemption.from_record(redeemed.redemption))
