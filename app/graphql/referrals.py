"""Referrals in the API: types, the queries and mutations (merged into Query and Mutation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.auth.api_keys import Principal
from app.domain.errors import DomainError, ErrorCode
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
    Signals,
)
from app.graphql.context import Info, admin, member_reader
from app.graphql.errors import UserError, guarded, query_error
from app.graphql.ids import decode_id, encode_cursor, encode_id
from app.graphql.types import (
    Member,
    Node,
    PageInfo,
    Redemption,
    Reward,
    cursor_position,
    next_page_info,
    page_size,
    reward_for_reader,
)
from app.services.programs import service as programs_service
from app.services.referrals import service as referrals_service
from app.services.referrals.service import (
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


def _reader(info: Info) -> Principal:
    try:
        return member_reader(info)
    except DomainError as exc:
        raise query_error(exc) from exc


# --- types ------------------------------------------------------------------------------------


def _member_session(info: Info) -> bool:
    return info.context.principal.is_member_session


async def _member_side(info: Info, member_id: int) -> Member | None:
    principal = info.context.principal
    if principal.is_member_session and principal.member_id != member_id:
        return None
    record = await info.context.loaders.member.load(member_id)
    return None if record is None else Member.from_record(record)


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
        def side(rule: SideRule) -> ReferralSideRule:
            return ReferralSideRule(
                points=rule.points,
                trigger=rule.trigger,
                minimum_order_minor=rule.minimum_order_minor,
                max_orders=rule.max_orders,
                reward_pk=rule.reward_id,
            )

        return cls(
            enabled=record.enabled,
            url_template=record.url_template,
            referrer=side(record.referrer),
            friend=side(record.friend),
            referrer_limit=record.referrer_limit,
            referrer_limit_period=record.referrer_limit_period,
            ip_weekly_threshold=record.ip_weekly_threshold,
            attach_window_days=record.attach_window_days,
            updated_at=record.updated_at,
        )


async def _catalogue_reward(info: Info, reward_id: int | None) -> Reward | None:
    if reward_id is None:
        return None
    record = await info.context.loaders.reward.load(reward_id)
    return None if record is None else Reward.from_record(record)


@strawberry.type(description="What one side of a referral earned: points, a catalogue reward.")
class ReferralReward:
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
    def from_record(cls, record: ReferralRewardRecord) -> ReferralReward:
        return cls(
            side=record.side,
            points=record.points,
            status=record.status,
            order_id=None
            if record.order_id is None
            else strawberry.ID(encode_id("Order", record.order_id)),
            available_at=record.available_at,
            created_at=record.created_at,
            catalogue_status=record.reward_status,
            catalogue_failure=record.reward_failure,
            value_minor=record.reward_value_minor,
            reward_pk=record.reward_id,
            redemption_pk=record.redemption_id,
            member_pk=record.member_id,
        )

    @strawberry.field(description="The catalogue reward of this side, if it has one.")
    async def reward(self, info: Info) -> Reward | None:
        return await _catalogue_reward(info, self.reward_pk)

    @strawberry.field(
        description="The redemption of a GIVEN catalogue reward, with its code; null for a member"
        " token reading the other side's reward."
    )
    async def redemption(self, info: Info) -> Redemption | None:
        principal = info.context.principal
        if self.redemption_pk is None or (
            principal.is_member_session and principal.member_id != self.member_pk
        ):
            return None
        record = await info.context.loaders.redemption.load(self.redemption_pk)
        return None if record is None else Redemption.from_record(record)


@strawberry.type(description="A member inviting a friend, and what became of it.")
class Referral(Node):
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
    def from_record(cls, record: ReferralRecord) -> Referral:
        return cls(
            id=strawberry.ID(encode_id("Referral", record.id)),
            state=record.state,
            rejection_reason=record.rejection_reason,
            hold_reason_value=record.hold_reason,
            review_note_value=record.review_note,
            source=record.source,
            friend_customer_id_value=record.friend_customer_id,
            friend_email_value=record.friend_email,
            created_at=record.created_at,
            signed_up_at=record.signed_up_at,
            qualified_at=record.qualified_at,
            rewarded_at=record.rewarded_at,
            held_at=record.held_at,
            rejected_at=record.rejected_at,
            reviewed_at=record.reviewed_at,
            referrer_pk=record.referrer_id,
            friend_pk=record.friend_id,
            referral_pk=record.id,
        )

    @strawberry.field(
        description="The member who referred; null when a member token reads its own referral"
        " from the friend's side (one member never sees another's account)."
    )
    async def referrer(self, info: Info) -> Member | None:
        return await _member_side(info, self.referrer_pk)

    @strawberry.field(
        description="The friend, once they are a member; null when a member token reads its own"
        " referral from the referrer's side."
    )
    async def friend(self, info: Info) -> Member | None:
        return None if self.friend_pk is None else await _member_side(info, self.friend_pk)

    @strawberry.field
    async def rewards(self, info: Info) -> list[ReferralReward]:
        records = await info.context.loaders.referral_rewards.load(self.referral_pk)
        return [ReferralReward.from_record(record) for record in records]


@strawberry.type
class ReferralEdge:
    cursor: str
    node: Referral


@strawberry.type
class ReferralConnection:
    edges: list[ReferralEdge]
    page_info: PageInfo


async def referral_connection(
    program_id: int,
    *,
    referrer_id: int | None,
    state: ReferralState | None,
    first: int,
    after: str | None,
) -> ReferralConnection:
    limit = page_size(first)
    records = await referrals_service.list_referrals(
        program_id,
        referrer_id=referrer_id,
        state=state,
        before_id=cursor_position(after),
        limit=limit + 1,
    )
    edges = [
        ReferralEdge(cursor=encode_cursor(record.id), node=Referral.from_record(record))
        for record in records[:limit]
    ]
    return ReferralConnection(
        edges=edges,
        page_info=next_page_info(len(records), limit, edges),
    )


async def referred_by(info: Info, member_id: int) -> Referral | None:
    record = await info.context.loaders.referral_of_friend.load(member_id)
    return None if record is None else Referral.from_record(record)


@strawberry.type
class ReferralReasonCount:
    reason: str
    count: int


@strawberry.type
class ReferralAdvocate:
    qualified_referrals: int
    points_earned: int = strawberry.field(description="Referral points earned in the period.")
    member_pk: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: Info) -> Member:
        record = await info.context.loaders.member.load(self.member_pk)
        assert record is not None
        return Member.from_record(record)


@strawberry.type(description="A program's referral numbers for a period [from, to).")
class ReferralStats:
    invitations: int = strawberry.field(description="Referrals made (not refused at once).")
    sign_ups: int
    qualified: int
    conversion_rate: float = strawberry.field(
        description="The share of the period's invitations that have qualified by now."
    )
    points_paid: int = strawberry.field(description="Referral points given and final.")
    points_pending: int = strawberry.field(description="Referral points still pending.")
    points_cancelled: int = strawberry.field(description="Referral points cancelled by refunds.")
    money_paid_minor: int = strawberry.field(
        description="The face value (valueMinor when given) of the catalogue rewards given, in"
        " minor units of `currency`."
    )
    currency: str = strawberry.field(description="The program's currency.")
    catalogue_rewards: list[ReferralReasonCount] = strawberry.field(
        description="Catalogue rewards by ReferralCatalogueRewardStatus (in `reason`)."
    )
    held_by_reason: list[ReferralReasonCount]
    rejected_by_reason: list[ReferralReasonCount]
    top_advocates: list[ReferralAdvocate]


def _counts(by_reason: dict[str, int]) -> list[ReferralReasonCount]:
    return [ReferralReasonCount(reason=k, count=v) for k, v in sorted(by_reason.items())]


# --- inputs and payloads ----------------------------------------------------------------------


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
        return referrals_service.SideInput(
            points=self.points,
            trigger=self.trigger,
            minimum_order_minor=self.minimum_order_minor,
            max_orders=self.max_orders,
            reward_id=None
            if self.reward_id is None
            else decode_id(self.reward_id, "Reward", [*field, "rewardId"]),
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


# --- queries and mutations --------------------------------------------------------------------


@strawberry.type
class ReferralQueries:
    @strawberry.field(description="A program's referral settings (secret or admin key).")
    async def referral_settings(self, info: Info, program_slug: str) -> ReferralSettings | None:
        principal = _reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return None
        return ReferralSettings.from_record(await referrals_service.settings_of(program.id))

    @strawberry.field(description="A program's referrals, newest first; optionally in one state.")
    async def referrals(
        self,
        info: Info,
        program_slug: str,
        state: ReferralStateEnum | None = None,  # type: ignore[valid-type]
        first: int = 20,
        after: str | None = None,
    ) -> ReferralConnection:
        principal = _reader(info)
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return ReferralConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None)
            )
        return await referral_connection(
            program.id, referrer_id=None, state=state, first=first, after=after
        )

    @strawberry.field(description="Admin only: a program's referral numbers for [from, to).")
    async def referral_stats(
        self,
        info: Info,
        program_slug: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> ReferralStats | None:
        try:
            admin(info)
        except DomainError as exc:
            raise query_error(exc) from exc
        if from_.tzinfo is None or to.tzinfo is None or from_ >= to:
            raise query_error(
                DomainError(
                    ErrorCode.INVALID_VALUE, "from and to need time zones, and from before to"
                )
            )
        program = await programs_service.get_program_by_slug(program_slug, None)
        if program is None:
            return None
        stats = await referrals_service.referral_stats(program.id, from_, to)
        return ReferralStats(
            invitations=stats.invitations,
            sign_ups=stats.sign_ups,
            qualified=stats.qualified,
            conversion_rate=stats.conversion_rate,
            points_paid=stats.points_paid,
            points_pending=stats.points_pending,
            points_cancelled=stats.points_cancelled,
            money_paid_minor=stats.money_paid_minor,
            currency=program.currency,
            catalogue_rewards=_counts(stats.catalogue_rewards),
            held_by_reason=_counts(stats.held_by_reason),
            rejected_by_reason=_counts(stats.rejected_by_reason),
            top_advocates=[
                ReferralAdvocate(
                    qualified_referrals=advocate.qualified,
                    points_earned=advocate.points,
                    member_pk=advocate.member_id,
                )
                for advocate in stats.top_advocates
            ],
        )


@strawberry.type
class ReferralMutations:
    @strawberry.mutation(description="Admin only: a program's referral settings.")
    async def update_referral_settings(
        self, info: Info, input: UpdateReferralSettingsInput
    ) -> UpdateReferralSettingsPayload:
        async def work() -> UpdateReferralSettingsPayload:
            admin(info)
            record = await referrals_service.update_settings(
                referrals_service.UpdateReferralSettingsInput(
                    program_slug=input.program_slug,
                    enabled=input.enabled,
                    url_template=input.url_template,
                    referrer=None
                    if input.referrer is None
                    else input.referrer.to_service(["input", "referrer"]),
                    friend=None
                    if input.friend is None
                    else input.friend.to_service(["input", "friend"]),
                    referrer_limit=input.referrer_limit,
                    referrer_limit_period=input.referrer_limit_period,
                    ip_weekly_threshold=input.ip_weekly_threshold,
                    attach_window_days=input.attach_window_days,
                )
            )
            return UpdateReferralSettingsPayload(settings=ReferralSettings.from_record(record))

        return await guarded(lambda errors: UpdateReferralSettingsPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Attach a referral: invite a friend who is not a member yet, or a member who"
        " enrolled within the attach window and has no orders."
    )
    async def record_referral(self, info: Info, input: RecordReferralInput) -> ReferralPayload:
        async def work() -> ReferralPayload:
            principal = member_reader(info)
            recorded = await referrals_service.record_referral(
                referrals_service.RecordReferralInput(
                    program_slug=input.program_slug,
                    referral_code=input.referral_code,
                    idempotency_key=input.idempotency_key,
                    friend_customer_id=input.friend_customer_id,
                    friend_email=input.friend_email,
                    friend_signals=signals_of(input.friend_signals),
                    referrer_signals=signals_of(input.referrer_signals),
                ),
                principal.program_scope,
            )
            return ReferralPayload(referral=Referral.from_record(recorded.referral))

        return await guarded(lambda errors: ReferralPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: approve a HELD referral; the rewards it earned meanwhile follow."
    )
    async def approve_referral(self, info: Info, input: ReviewReferralInput) -> ReferralPayload:
        return await _review(info, input, approve=True)

    @strawberry.mutation(description="Admin only: reject a HELD referral (REJECTED_BY_ADMIN).")
    async def reject_referral(self, info: Info, input: ReviewReferralInput) -> ReferralPayload:
        return await _review(info, input, approve=False)


async def _review(info: Info, input: ReviewReferralInput, *, approve: bool) -> ReferralPayload:
    async def work() -> ReferralPayload:
        admin(info)
        reviewed = await referrals_service.review_referral(
            referrals_service.ReviewReferralInput(
                referral_id=decode_id(input.id, "Referral", ["input", "id"]),
                approve=approve,
                idempotency_key=input.idempotency_key,
                note=input.note,
            )
        )
        return ReferralPayload(referral=Referral.from_record(reviewed.referral))

    return await guarded(lambda errors: ReferralPayload(user_errors=errors), work)
