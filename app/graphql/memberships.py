"""Paid memberships in the API: plans, the subscription events, a member's memberships."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.errors import DomainError
from app.domain.memberships import BillingInterval, CancelMode, EndReason, MembershipStatus
from app.graphql.context import Info, admin, member_reader
from app.graphql.errors import UserError, guarded, query_error
from app.graphql.ids import decode_id, encode_id
from app.graphql.types import Node, Redemption, Reward, reward_for_reader
from app.services.memberships import service as memberships_service
from app.services.memberships.service import MembershipRecord, PlanRecord
from app.services.programs import service as programs_service

BillingIntervalEnum = strawberry.enum(BillingInterval, name="BillingInterval")
MembershipStatusEnum = strawberry.enum(
    MembershipStatus,
    name="MembershipStatus",
    description="TRIALING, ACTIVE, PAST_DUE (a payment failed: benefits last through the"
    " plan's grace days) or ENDED (see endReason).",
)
CancelModeEnum = strawberry.enum(
    CancelMode,
    name="MembershipCancelMode",
    description="AT_PERIOD_END: benefits until the paid period ends. NOW: ended at once.",
)
EndReasonEnum = strawberry.enum(EndReason, name="MembershipEndReason")


@strawberry.type(description="A paid membership a program sells; the store bills it.")
class MembershipPlan(Node):
    code: str = strawberry.field(description="The store's id for the plan.")
    name: str
    fee_minor: int
    currency: str
    interval: BillingIntervalEnum  # type: ignore[valid-type]
    trial_days: int = strawberry.field(description="Given with a member's first membership only.")
    grace_days: int = strawberry.field(
        description="Benefits last this long after an unpaid period ends or a payment fails."
    )
    tier_name: str | None = strawberry.field(
        description="The lowest tier a member holds while the membership is active."
    )
    earn_multiplier: str | None = strawberry.field(
        description="Purchase points x this while active (the higher of it and the tier's or a"
        " rule's applies; they do not compound)."
    )
    perks: list[str]
    active: bool
    welcome_reward_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: PlanRecord) -> MembershipPlan:
        return cls(
            id=strawberry.ID(encode_id("MembershipPlan", record.id)),
            code=record.code,
            name=record.name,
            fee_minor=record.fee_minor,
            currency=record.currency,
            interval=record.interval,
            trial_days=record.trial_days,
            grace_days=record.grace_days,
            tier_name=record.tier_name,
            earn_multiplier=None if record.earn_multiplier is None else str(record.earn_multiplier),
            perks=list(record.perks),
            active=record.active,
            welcome_reward_pk=record.welcome_reward_id,
        )

    @strawberry.field(description="Given with a member's first membership of the plan.")
    async def welcome_reward(self, info: Info) -> Reward | None:
        return await reward_for_reader(info, self.welcome_reward_pk)


@strawberry.type(description="A member's subscription to a plan.")
class Membership(Node):
    status: MembershipStatusEnum  # type: ignore[valid-type]
    started_at: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    ends_at: datetime = strawberry.field(
        description="When it ends unless renewed (or, once ended, when it did)."
    )
    ended_at: datetime | None
    end_reason: EndReasonEnum | None  # type: ignore[valid-type]
    plan_pk: strawberry.Private[int]
    member_pk: strawberry.Private[int]
    welcome_redemption_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: MembershipRecord) -> Membership:
        return cls(
            id=strawberry.ID(encode_id("Membership", record.id)),
            status=record.status,
            started_at=record.started_at,
            current_period_start=record.current_period_start,
            current_period_end=record.current_period_end,
            cancel_at_period_end=record.cancel_at_period_end,
            ends_at=record.ended_at or record.ends_at,
            ended_at=record.ended_at,
            end_reason=record.end_reason,
            plan_pk=record.plan_id,
            member_pk=record.member_id,
            welcome_redemption_pk=record.welcome_redemption_id,
        )

    @strawberry.field
    async def plan(self, info: Info) -> MembershipPlan:
        record = await info.context.loaders.membership_plan.load(self.plan_pk)
        assert record is not None
        return MembershipPlan.from_record(record)

    @strawberry.field(description="The welcome reward given with it, with its code.")
    async def welcome_redemption(self, info: Info) -> Redemption | None:
        if self.welcome_redemption_pk is None:
            return None
        principal = info.context.principal
        if principal.is_member_session and principal.member_id != self.member_pk:
            return None
        record = await info.context.loaders.redemption.load(self.welcome_redemption_pk)
        return None if record is None else Redemption.from_record(record)


async def memberships_of(info: Info, member_id: int) -> list[Membership]:
    records = await info.context.loaders.memberships.load(member_id)
    return [Membership.from_record(record) for record in records]


# --- inputs and payloads ----------------------------------------------------------------------


@strawberry.input(description="A plan, created or changed by its code.")
class UpsertMembershipPlanInput:
    program_slug: str
    code: str
    name: str
    fee_minor: int
    currency: str
    interval: BillingIntervalEnum  # type: ignore[valid-type]
    trial_days: int = 0
    grace_days: int = 0
    tier_name: str | None = None
    earn_multiplier: str | None = None
    perks: list[str] = strawberry.field(default_factory=list)
    welcome_reward_id: strawberry.ID | None = None
    active: bool = True


@strawberry.type
class MembershipPlanPayload:
    plan: MembershipPlan | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="What the store's billing reported, for one member and plan.")
class MembershipEventInput:
    program_slug: str
    customer_id: str
    plan_code: str
    idempotency_key: str


@strawberry.input
class StartMembershipInput:
    program_slug: str
    customer_id: str
    plan_code: str
    idempotency_key: str
    skip_trial: bool = strawberry.field(
        default=False, description="Start paid at once, without the plan's trial."
    )


@strawberry.input
class CancelMembershipInput:
    program_slug: str
    customer_id: str
    plan_code: str
    idempotency_key: str
    mode: CancelModeEnum = CancelMode.AT_PERIOD_END  # type: ignore[valid-type]


@strawberry.type
class MembershipPayload:
    membership: Membership | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# --- queries and mutations --------------------------------------------------------------------


@strawberry.type
class MembershipQueries:
    @strawberry.field(description="A program's membership plans (secret or admin key).")
    async def membership_plans(self, info: Info, program_slug: str) -> list[MembershipPlan]:
        try:
            principal = member_reader(info)
        except DomainError as exc:
            raise query_error(exc) from exc
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return []
        return [
            MembershipPlan.from_record(record)
            for record in await memberships_service.list_plans(program.id)
        ]


async def _event(
    info: Info,
    operation: str,
    data: memberships_service.MembershipEventInput,
) -> MembershipPayload:
    async def work() -> MembershipPayload:
        principal = member_reader(info)
        handler = {
            "start": memberships_service.start_membership,
            "renew": memberships_service.renew_membership,
            "cancel": memberships_service.cancel_membership,
            "paymentFailed": memberships_service.membership_payment_failed,
        }[operation]
        result = await handler(data, principal.program_scope)
        return MembershipPayload(membership=Membership.from_record(result.membership))

    return await guarded(lambda errors: MembershipPayload(user_errors=errors), work)


@strawberry.type
class MembershipMutations:
    @strawberry.mutation(description="Admin only: create or change a membership plan.")
    async def upsert_membership_plan(
        self, info: Info, input: UpsertMembershipPlanInput
    ) -> MembershipPlanPayload:
        async def work() -> MembershipPlanPayload:
            admin(info)
            record = await memberships_service.upsert_plan(
                memberships_service.UpsertPlanInput(
                    program_slug=input.program_slug,
                    code=input.code,
                    name=input.name,
                    fee_minor=input.fee_minor,
                    currency=input.currency,
                    interval=input.interval,
                    trial_days=input.trial_days,
                    grace_days=input.grace_days,
                    tier_name=input.tier_name,
                    earn_multiplier=input.earn_multiplier,
                    perks=tuple(input.perks),
                    welcome_reward_id=None
                    if input.welcome_reward_id is None
                    else decode_id(input.welcome_reward_id, "Reward", ["input", "welcomeRewardId"]),
                    active=input.active,
                )
            )
            return MembershipPlanPayload(plan=MembershipPlan.from_record(record))

        return await guarded(lambda errors: MembershipPlanPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="The member subscribed: a trial (first membership of a plan with trial"
        " days) or a first paid period; the welcome reward on a first membership of the plan."
    )
    async def start_membership(self, info: Info, input: StartMembershipInput) -> MembershipPayload:
        return await _event(
            info,
            "start",
            memberships_service.MembershipEventInput(
                program_slug=input.program_slug,
                customer_id=input.customer_id,
                plan_code=input.plan_code,
                idempotency_key=input.idempotency_key,
                skip_trial=input.skip_trial,
            ),
        )

    @strawberry.mutation(description="A payment succeeded: the next period.")
    async def renew_membership(self, info: Info, input: MembershipEventInput) -> MembershipPayload:
        return await _event(info, "renew", _event_input(input))

    @strawberry.mutation(description="The member cancelled: at the period's end, or now.")
    async def cancel_membership(
        self, info: Info, input: CancelMembershipInput
    ) -> MembershipPayload:
        return await _event(
            info,
            "cancel",
            memberships_service.MembershipEventInput(
                program_slug=input.program_slug,
                customer_id=input.customer_id,
                plan_code=input.plan_code,
                idempotency_key=input.idempotency_key,
                mode=input.mode,
            ),
        )

    @strawberry.mutation(
        description="A renewal payment failed: PAST_DUE, benefits kept through the grace days."
    )
    async def membership_payment_failed(
        self, info: Info, input: MembershipEventInput
    ) -> MembershipPayload:
        return await _event(info, "paymentFailed", _event_input(input))


def _event_input(input: MembershipEventInput) -> memberships_service.MembershipEventInput:
    return memberships_service.MembershipEventInput(
        program_slug=input.program_slug,
        customer_id=input.customer_id,
        plan_code=input.plan_code,
        idempotency_key=input.idempotency_key,
    )
