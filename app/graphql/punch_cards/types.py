"""Punch cards in the API: the cards and a member's progress."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.punch_cards import MinimumPer, PunchCardRefundPolicy
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.loaders import loads_in_batch
from app.graphql.rewards.types import Reward, reward_for_reader
from app.services.punch_cards import service as punch_cards_service
from app.services.punch_cards.service import MemberPunchCard as MemberPunchCardRecord
from app.services.punch_cards.service import PunchCardRecord

MinimumPerEnum = strawberry.enum(
    MinimumPer,
    name="PunchCardMinimumPer",
    description="LINE: each qualifying order line with minimumQuantity units punches once."
    " ORDER: an order's qualifying units together punch once when they reach minimumQuantity.",
)


RefundPolicyEnum = strawberry.enum(
    PunchCardRefundPolicy,
    name="PunchCardRefundPolicy",
    description="When a refund removes punches whose card already gave its reward:"
    " KEEP_REWARD keeps it and the current card goes below zero (the next purchases fill it"
    " first); REVOKE_UNUSED_REWARD cancels the reward if its code is unused (a used code stays).",
)


@strawberry.type(
    description="N qualifying purchases give the card's reward, and a new card starts."
)
class PunchCard(Node):
    name: str
    description: str
    punches_needed: int
    skus: list[str] = strawberry.field(description="Lines with one of these SKUs qualify.")
    categories: list[str] = strawberry.field(
        description="Lines in one of these categories qualify."
    )
    minimum_quantity: int
    minimum_per: MinimumPerEnum  # type: ignore[valid-type]
    active: bool = strawberry.field(
        description="False while paused and once retired: no new punches."
    )
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    reward_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: PunchCardRecord) -> PunchCard:
        return from_record(cls, record)

    @strawberry.field(description="Inactive but not retired: setPunchCardPaused resumes it.")
    def paused(self) -> bool:
        return not self.active and self.retired_at is None

    @strawberry.field(description="The catalogue reward a full card gives.")
    async def reward(self, info: Info) -> Reward | None:
        return await reward_for_reader(info, self.reward_pk)


@strawberry.type(description="A member's progress on one punch card.")
class MemberPunchCard:
    card: PunchCard
    punches: int = strawberry.field(
        description="Punches on the current card; below zero when refunds took punches whose"
        " reward the member kept (KEEP_REWARD): the next purchases fill that first."
    )
    punches_needed: int
    rewards_earned: int = strawberry.field(description="Rewards the member's full cards gave.")

    @classmethod
    def from_record(cls, record: MemberPunchCardRecord) -> MemberPunchCard:
        return from_record(
            cls,
            record,
            card=PunchCard.from_record(record.card),
            punches_needed=record.card.punches_needed,
        )


async def member_punch_cards(info: Info, member_id: int, program_id: int) -> list[MemberPunchCard]:
    if loads_in_batch(info.path):
        records = await info.context.loaders.punch_cards.load(member_id)
    else:
        records = await punch_cards_service.member_cards(member_id, program_id)
    return [MemberPunchCard.from_record(record) for record in records]


@strawberry.type
class PunchCardSettings:
    refund_policy: RefundPolicyEnum  # type: ignore[valid-type]
