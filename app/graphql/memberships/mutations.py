"""Membership mutations: plans, and what the store's billing reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from app.domain.memberships import CancelMode
from app.graphql.core.admin_writes import ProgramScope, RecordPayloads, scoped_write
from app.graphql.core.context import Info, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation
from app.graphql.members.types import Membership
from app.graphql.memberships.types import BillingIntervalEnum, CancelModeEnum, MembershipPlan
from app.services.memberships import service as memberships_service


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


_plans = RecordPayloads("MembershipPlan", MembershipPlan.from_record, MembershipPlanPayload, "plan")


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


async def _event(
    info: Info,
    write: Callable[
        [memberships_service.MembershipEventInput, ProgramScope],
        Awaitable[memberships_service.MembershipResult],
    ],
    input: MembershipEventInput | StartMembershipInput | CancelMembershipInput,
) -> MembershipPayload:
    result = await scoped_write(
        member_reader(info), input, memberships_service.MembershipEventInput, write
    )
    return MembershipPayload(membership=Membership.from_record(result.membership))


@mutation(description="Admin only: create or change a membership plan.")
async def upsert_membership_plan(
    info: Info, input: UpsertMembershipPlanInput
) -> MembershipPlanPayload:
    return await _plans.created(
        info,
        input,
        memberships_service.UpsertPlanInput,
        memberships_service.upsert_plan,
        ids={"welcome_reward_id": "Reward"},
    )


@mutation(
    description="The member subscribed: a trial (first membership of a plan with trial"
    " days) or a first paid period; the welcome reward on a first membership of the plan."
)
async def start_membership(info: Info, input: StartMembershipInput) -> MembershipPayload:
    return await _event(info, memberships_service.start_membership, input)


@mutation(description="A payment succeeded: the next period.")
async def renew_membership(info: Info, input: MembershipEventInput) -> MembershipPayload:
    return await _event(info, memberships_service.renew_membership, input)


@mutation(description="The member cancelled: at the period's end, or now.")
async def cancel_membership(info: Info, input: CancelMembershipInput) -> MembershipPayload:
    return await _event(info, memberships_service.cancel_membership, input)


@mutation(description="A renewal payment failed: PAST_DUE, benefits kept through the grace days.")
async def membership_payment_failed(info: Info, input: MembershipEventInput) -> MembershipPayload:
    return await _event(info, memberships_service.membership_payment_failed, input)
