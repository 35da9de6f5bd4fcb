"""Memberships in the API: the plans a program sells, and a membership's own fields."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from app.domain.memberships import BillingInterval, CancelMode, EndReason, MembershipStatus
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.rewards.types import Reward, reward_for_reader
from app.services.memberships.service import MembershipRecord, PlanRecord

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
        return from_record(
            cls,
            record,
            earn_multiplier=None if record.earn_multiplier is None else str(record.earn_multiplier),
        )

    @strawberry.field(description="Given with a member's first membership of the plan.")
    async def welcome_reward(self, info: Info) -> Reward | None:
        return await reward_for_reader(info, self.welcome_reward_pk)


# A Membership's own fields; the schema's Membership (app/graphql/members/types.py) adds
# its welcome redemption.
@strawberry.type
class MembershipFields(Node):
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
    def from_record(cls, record: MembershipRecord) -> Self:
        return from_record(cls, record, ends_at=record.ended_at or record.ends_at)

    @strawberry.field
    async def plan(self, info: Info) -> MembershipPlan:
        record = await info.context.loaders.membership_plan.load(self.plan_pk)
        assert record is not None
        return MembershipPlan.from_record(record)
