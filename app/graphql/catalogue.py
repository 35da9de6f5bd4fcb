"""The reward catalogue and redemption codes in the API (merged into Query and Mutation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.auth.api_keys import Principal
from app.auth.code_checks import take_code_check
from app.domain.errors import DomainError, ErrorCode
from app.domain.rewards import CodeSource, LimitPeriod
from app.graphql.compiled import SPENDS_ON_READ
from app.graphql.context import Info, acting_for_member, admin, member_reader
from app.graphql.errors import UserError, UserErrorCode, guarded, query_error
from app.graphql.ids import decode_id, encode_cursor
from app.graphql.types import (
    CodeSourceEnum,
    PageInfo,
    Redemption,
    RedemptionStatusEnum,
    Reward,
    RewardKindEnum,
    RewardLimitPeriodEnum,
    cursor_position,
    next_page_info,
    page_size,
)
from app.services.programs import service as programs_service
from app.services.rewards import codes as codes_service
from app.services.rewards import service as rewards_service


def _code_check(info: Info) -> Principal:
    """A secret or admin key with code checks left (app/auth/code_checks.py)."""
    principal = member_reader(info)
    decision = take_code_check(info.context.code_checks, principal)
    if decision is not None and not decision.allowed:
        raise DomainError(
            ErrorCode.CODE_CHECKS_RATE_LIMITED,
            f"too many code checks for this key; retry in {decision.retry_after} s",
        )
    return principal


# --- inputs and payloads ----------------------------------------------------------------------


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
        return cls(
            expired_codes_return_points=record.expired_codes_return_points,
            points_per_currency_unit=record.points_per_currency_unit,
        )


@strawberry.input(description="Leave a field out to keep its value.")
class UpdateRedemptionSettingsInput:
    program_slug: str
    expired_codes_return_points: bool | None = None
    points_per_currency_unit: int | None = None


@strawberry.type
class UpdateRedemptionSettingsPayload:
    settings: RedemptionSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# --- query results ----------------------------------------------------------------------------


@strawberry.type(description="What a checkout learns from a code.")
class RedemptionCodeCheck:
    code: str
    usable: bool = strawberry.field(description="True when the checkout may honour it now.")
    reason: UserErrorCode | None = strawberry.field(  # type: ignore[valid-type]
        description="Why not: REDEMPTION_CODE_NOT_FOUND (also for another program's code),"
        " REDEMPTION_ALREADY_USED, REDEMPTION_EXPIRED or REDEMPTION_CANCELLED."
    )
    redemption: Redemption | None = strawberry.field(
        description="The redemption: its value, member, reward and state; null when unknown."
    )


@strawberry.type(description="A reward as one member sees it now.")
class RewardOption:
    reward: Reward
    cost_points: int = strawberry.field(description="What this member would pay.")
    redeemable: bool
    reason: UserErrorCode | None = strawberry.field(  # type: ignore[valid-type]
        description="The code redeemReward would refuse with now."
    )
    message: str | None


@strawberry.type
class RewardEdge:
    cursor: str
    node: Reward


@strawberry.type
class RewardConnection:
    edges: list[RewardEdge]
    page_info: PageInfo


@strawberry.type
class RedemptionEdge:
    cursor: str
    node: Redemption


@strawberry.type
class RedemptionConnection:
    edges: list[RedemptionEdge]
    page_info: PageInfo


@strawberry.type(description="Donations made in members' names to one charity, in one currency.")
class CharityDonationTotal:
    charity_name: str
    currency: str
    total_minor: int
    donations: int


def _admin_query(info: Info) -> Principal:
    try:
        return admin(info)
    except DomainError as exc:
        raise query_error(exc) from exc


@strawberry.type
class CatalogueQueries:
    @strawberry.field(
        description="Admin only: the program's rewards by id, filtered (retired ones on request)."
    )
    async def reward_catalogue(
        self,
        info: Info,
        program_slug: str,
        kinds: list[RewardKindEnum] | None = None,  # type: ignore[valid-type]
        include_retired: bool = False,
        include_inactive: bool = True,
        first: int = 50,
        after: str | None = None,
    ) -> RewardConnection:
        _admin_query(info)
        limit = page_size(first)
        program = await programs_service.get_program_by_slug(program_slug, None)
        if program is None:
            return RewardConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None)
            )
        records = await rewards_service.search_rewards(
            program.id,
            rewards_service.RewardFilter(
                kinds=frozenset(kinds or ()),
                include_retired=include_retired,
                include_inactive=include_inactive,
            ),
            first=limit,
            after=cursor_position(after),
        )
        edges = [
            RewardEdge(cursor=encode_cursor(record.id), node=Reward.from_record(record))
            for record in records[:limit]
        ]
        return RewardConnection(
            edges=edges,
            page_info=next_page_info(len(records), limit, edges),
        )

    @strawberry.field(
        description="The program's active rewards for one member, cheapest first: what they"
        " would pay and, when they cannot redeem one now, why (secret or admin key, or the"
        " member's own token)."
    )
    async def member_rewards(self, info: Info, member_id: strawberry.ID) -> list[RewardOption]:
        try:
            pk = decode_id(member_id, "Member", ["memberId"])
            principal = acting_for_member(info, pk)
            options = await rewards_service.reward_options(pk, principal.program_scope)
        except DomainError as exc:
            raise query_error(exc) from exc
        return [
            RewardOption(
                reward=Reward.from_record(option.reward),
                cost_points=option.cost_points,
                redeemable=option.refusal is None,
                reason=None if option.refusal is None else option.refusal[0],
                message=None if option.refusal is None else option.refusal[1],
            )
            for option in options
        ]

    @strawberry.field(
        description="A member's redemptions and their codes, newest first, optionally of one"
        " status (secret or admin key, or the member's own token)."
    )
    async def member_redemptions(
        self,
        info: Info,
        member_id: strawberry.ID,
        status: RedemptionStatusEnum | None = None,  # type: ignore[valid-type]
        first: int = 20,
        after: str | None = None,
    ) -> RedemptionConnection:
        limit = page_size(first)
        before = cursor_position(after)
        try:
            pk = decode_id(member_id, "Member", ["memberId"])
            principal = acting_for_member(info, pk)
            records = await rewards_service.member_redemptions(
                pk, principal.program_scope, status=status, first=limit, before=before
            )
        except DomainError as exc:
            raise query_error(exc) from exc
        edges = [
            RedemptionEdge(cursor=encode_cursor(record.id), node=Redemption.from_record(record))
            for record in records[:limit]
        ]
        return RedemptionConnection(
            edges=edges,
            page_info=next_page_info(len(records), limit, edges),
        )

    @strawberry.field(
        description="For the store's checkout (secret or admin key): what a code is worth, for"
        " which member, and whether it can be used. Rate-limited per key (README).",
        metadata={SPENDS_ON_READ: True},
    )
    async def validate_redemption_code(
        self, info: Info, program_slug: str, code: str
    ) -> RedemptionCodeCheck:
        try:
            principal = _code_check(info)
            checked = await codes_service.validate_code(program_slug, code, principal.program_scope)
        except DomainError as exc:
            raise query_error(exc) from exc
        return RedemptionCodeCheck(
            code=checked.code,
            usable=checked.problem is None,
            reason=checked.problem,
            redemption=None
            if checked.redemption is None
            else Redemption.from_record(checked.redemption),
        )

    @strawberry.field(description="A program's redemption settings (secret or admin key).")
    async def redemption_settings(self, info: Info, program_slug: str) -> RedemptionSettings:
        try:
            principal = member_reader(info)
            record = await codes_service.redemption_settings(program_slug, principal.program_scope)
        except DomainError as exc:
            raise query_error(exc) from exc
        return RedemptionSettings.from_record(record)

    @strawberry.field(
        description="Admin only: charity donations made in members' names in [from, to), per"
        " charity and currency (cancelled redemptions excluded)."
    )
    async def charity_donations(
        self,
        info: Info,
        program_slug: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[CharityDonationTotal]:
        try:
            admin(info)
            totals = await codes_service.charity_totals(program_slug, from_, to, None)
        except DomainError as exc:
            raise query_error(exc) from exc
        return [
            CharityDonationTotal(
                charity_name=total.charity_name,
                currency=total.currency,
                total_minor=total.total_minor,
                donations=total.donations,
            )
            for total in totals
        ]


@strawberry.type
class CatalogueMutations:
    @strawberry.mutation(description="Admin only.")
    async def create_reward(self, info: Info, input: CreateRewardInput) -> RewardPayload:
        async def work() -> RewardPayload:
            admin(info)
            record = await rewards_service.create_reward(
                rewards_service.CreateRewardInput(
                    program_slug=input.program_slug,
                    name=input.name,
                    kind=input.kind,
                    cost_points=input.cost_points,
                    description=input.description,
                    value_minor=input.value_minor,
                    stock=input.stock,
                    active=input.active,
                    currency=input.currency,
                    minimum_order_minor=input.minimum_order_minor,
                    percent_off=input.percent_off,
                    max_value_minor=input.max_value_minor,
                    skus=tuple(input.skus),
                    categories=tuple(input.categories),
                    charity_name=input.charity_name,
                    points_min=input.points_min,
                    points_max=input.points_max,
                    points_step=input.points_step,
                    per_member_limit=input.per_member_limit,
                    limit_period=input.limit_period,
                    starts_at=input.starts_at,
                    ends_at=input.ends_at,
                    code_source=input.code_source,
                    code_valid_days=input.code_valid_days,
                    image_urls=tuple(input.image_urls),
                    required_tiers=tuple(input.required_tiers),
                    required_segments=tuple(input.required_segments),
                )
            )
            return RewardPayload(reward=Reward.from_record(record))

        return await guarded(lambda errors: RewardPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: change a reward that is not retired.")
    async def update_reward(self, info: Info, input: UpdateRewardInput) -> RewardPayload:
        async def work() -> RewardPayload:
            admin(info)
            record = await rewards_service.update_reward(
                rewards_service.UpdateRewardInput(
                    reward_id=decode_id(input.id, "Reward", ["input", "id"]),
                    changes=_changes(input),
                )
            )
            return RewardPayload(reward=Reward.from_record(record))

        return await guarded(lambda errors: RewardPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: no new redemptions; issued codes stay valid and history stays."
    )
    async def retire_reward(self, info: Info, input: RetireRewardInput) -> RewardPayload:
        async def work() -> RewardPayload:
            admin(info)
            record = await rewards_service.retire_reward(
                decode_id(input.id, "Reward", ["input", "id"])
            )
            return RewardPayload(reward=Reward.from_record(record))

        return await guarded(lambda errors: RewardPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: add the store's codes to a POOL reward.")
    async def upload_reward_codes(
        self, info: Info, input: UploadRewardCodesInput
    ) -> UploadRewardCodesPayload:
        async def work() -> UploadRewardCodesPayload:
            admin(info)
            uploaded = await codes_service.upload_codes(
                decode_id(input.reward_id, "Reward", ["input", "rewardId"]), input.codes
            )
            return UploadRewardCodesPayload(
                added=uploaded.added,
                duplicates=list(uploaded.duplicates),
                available=uploaded.available,
            )

        return await guarded(lambda errors: UploadRewardCodesPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="For the store's checkout: the code was used by this order. Repeating it"
        " with the same order succeeds (alreadyUsed); another order is REDEMPTION_ALREADY_USED."
        " Rate-limited per key with validateRedemptionCode."
    )
    async def mark_redemption_used(
        self, info: Info, input: MarkRedemptionUsedInput
    ) -> MarkRedemptionUsedPayload:
        async def work() -> MarkRedemptionUsedPayload:
            principal = _code_check(info)
            marked = await codes_service.mark_used(
                input.program_slug, input.code, input.order_id, principal.program_scope
            )
            return MarkRedemptionUsedPayload(
                redemption=Redemption.from_record(marked.redemption),
                already_used=marked.already_used,
            )

        return await guarded(lambda errors: MarkRedemptionUsedPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Cancel an unused code (secret or admin key): a bought one returns its"
        " points and stock, a given one is taken back. Cancelling again changes nothing."
    )
    async def cancel_redemption(
        self, info: Info, input: CancelRedemptionInput
    ) -> RedemptionPayload:
        async def work() -> RedemptionPayload:
            principal = member_reader(info)
            record = await codes_service.cancel_redemption(
                decode_id(input.id, "Redemption", ["input", "id"]), principal.program_scope
            )
            return RedemptionPayload(redemption=Redemption.from_record(record))

        return await guarded(lambda errors: RedemptionPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: a program's redemption settings.")
    async def update_redemption_settings(
        self, info: Info, input: UpdateRedemptionSettingsInput
    ) -> UpdateRedemptionSettingsPayload:
        async def work() -> UpdateRedemptionSettingsPayload:
            admin(info)
            record = await codes_service.update_redemption_settings(
                input.program_slug,
                expired_codes_return_points=input.expired_codes_return_points,
                points_per_currency_unit=input.points_per_currency_unit,
            )
            return UpdateRedemptionSettingsPayload(settings=RedemptionSettings.from_record(record))

        return await guarded(
            lambda errors: UpdateRedemptionSettingsPayload(user_errors=errors), work
        )
