"""Punch cards in the API: the cards, a member's progress, and the admin mutations."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.errors import DomainError
from app.domain.punch_cards import MinimumPer, PunchCardRefundPolicy
from app.graphql.context import Info, admin, member_reader, principal_of
from app.graphql.errors import UserError, guarded, query_error
from app.graphql.ids import decode_id, encode_id
from app.graphql.types import Node, Reward, reward_for_reader
from app.services.programs import service as programs_service
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
    active: bool = strawberry.field(description="False once retired: no new punches.")
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime
    reward_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: PunchCardRecord) -> PunchCard:
        return cls(
            id=strawberry.ID(encode_id("PunchCard", record.id)),
            name=record.name,
            description=record.description,
            punches_needed=record.punches_needed,
            skus=list(record.skus),
            categories=list(record.categories),
            minimum_quantity=record.minimum_quantity,
            minimum_per=record.minimum_per,
            active=record.active,
            retired_at=record.retired_at,
            created_at=record.created_at,
            updated_at=record.updated_at,
            reward_pk=record.reward_id,
        )

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
        return cls(
            card=PunchCard.from_record(record.card),
            punches=record.punches,
            punches_needed=record.card.punches_needed,
            rewards_earned=record.rewards_earned,
        )


async def member_punch_cards(member_id: int, program_id: int) -> list[MemberPunchCard]:
    records = await punch_cards_service.member_cards(member_id, program_id)
    return [MemberPunchCard.from_record(record) for record in records]


@strawberry.type
class PunchCardSettings:
    refund_policy: RefundPolicyEnum  # type: ignore[valid-type]


# --- inputs and payloads ----------------------------------------------------------------------


@strawberry.input
class CreatePunchCardInput:
    program_slug: str
    name: str
    reward_id: strawberry.ID = strawberry.field(
        description="An active Reward of the program (normally FREE_PRODUCT)."
    )
    punches_needed: int
    skus: list[str] = strawberry.field(default_factory=list)
    categories: list[str] = strawberry.field(default_factory=list)
    minimum_quantity: int = 1
    minimum_per: MinimumPerEnum = MinimumPer.LINE  # type: ignore[valid-type]
    description: str = ""


@strawberry.input(description="Leave a field out to keep its current value.")
class UpdatePunchCardInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    reward_id: strawberry.ID | None = None
    punches_needed: int | None = None
    skus: list[str] | None = None
    categories: list[str] | None = None
    minimum_quantity: int | None = None
    minimum_per: MinimumPerEnum | None = None  # type: ignore[valid-type]


@strawberry.input
class RetirePunchCardInput:
    id: strawberry.ID


@strawberry.input
class UpdatePunchCardSettingsInput:
    program_slug: str
    refund_policy: RefundPolicyEnum  # type: ignore[valid-type]


@strawberry.type
class PunchCardPayload:
    punch_card: PunchCard | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PunchCardSettingsPayload:
    settings: PunchCardSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# --- queries and mutations --------------------------------------------------------------------


@strawberry.type
class PunchCardQueries:
    @strawberry.field(description="A program's punch cards; retired ones too for secret keys.")
    async def punch_cards(
        self, info: Info, program_slug: str, include_retired: bool = False
    ) -> list[PunchCard]:
        principal = principal_of(info)
        if include_retired:
            try:
                member_reader(info)
            except DomainError as exc:
                raise query_error(exc) from exc
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return []
        records = await punch_cards_service.list_punch_cards(
            program.id, include_retired=include_retired
        )
        return [PunchCard.from_record(record) for record in records]

    @strawberry.field(description="A program's punch card settings (secret or admin key).")
    async def punch_card_settings(self, info: Info, program_slug: str) -> PunchCardSettings | None:
        try:
            principal = member_reader(info)
        except DomainError as exc:
            raise query_error(exc) from exc
        program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
        if program is None:
            return None
        return PunchCardSettings(refund_policy=await punch_cards_service.refund_policy(program.id))


@strawberry.type
class PunchCardMutations:
    @strawberry.mutation(description="Admin only: a punch card of a program.")
    async def create_punch_card(self, info: Info, input: CreatePunchCardInput) -> PunchCardPayload:
        async def work() -> PunchCardPayload:
            admin(info)
            record = await punch_cards_service.create_punch_card(
                punch_cards_service.CreatePunchCardInput(
                    program_slug=input.program_slug,
                    name=input.name,
                    reward_id=decode_id(input.reward_id, "Reward", ["input", "rewardId"]),
                    punches_needed=input.punches_needed,
                    skus=tuple(input.skus),
                    categories=tuple(input.categories),
                    minimum_quantity=input.minimum_quantity,
                    minimum_per=input.minimum_per,
                    description=input.description,
                )
            )
            return PunchCardPayload(punch_card=PunchCard.from_record(record))

        return await guarded(lambda errors: PunchCardPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: change a punch card.")
    async def update_punch_card(self, info: Info, input: UpdatePunchCardInput) -> PunchCardPayload:
        async def work() -> PunchCardPayload:
            principal = admin(info)
            record = await punch_cards_service.update_punch_card(
                punch_cards_service.UpdatePunchCardInput(
                    card_id=decode_id(input.id, "PunchCard", ["input", "id"]),
                    name=input.name,
                    description=input.description,
                    reward_id=None
                    if input.reward_id is None
                    else decode_id(input.reward_id, "Reward", ["input", "rewardId"]),
                    punches_needed=input.punches_needed,
                    skus=None if input.skus is None else tuple(input.skus),
                    categories=None if input.categories is None else tuple(input.categories),
                    minimum_quantity=input.minimum_quantity,
                    minimum_per=input.minimum_per,
                ),
                principal.program_scope,
            )
            return PunchCardPayload(punch_card=PunchCard.from_record(record))

        return await guarded(lambda errors: PunchCardPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Admin only: retire a punch card. Nothing punches it any more; members keep"
        " their cards and rewards, and refunds still take punches off."
    )
    async def retire_punch_card(self, info: Info, input: RetirePunchCardInput) -> PunchCardPayload:
        async def work() -> PunchCardPayload:
            principal = admin(info)
            record = await punch_cards_service.retire_punch_card(
                decode_id(input.id, "PunchCard", ["input", "id"]), principal.program_scope
            )
            return PunchCardPayload(punch_card=PunchCard.from_record(record))

        return await guarded(lambda errors: PunchCardPayload(user_errors=errors), work)

    @strawberry.mutation(description="Admin only: what refunds do to rewards punches earned.")
    async def update_punch_card_settings(
        self, info: Info, input: UpdatePunchCardSettingsInput
    ) -> PunchCardSettingsPayload:
        async def work() -> PunchCardSettingsPayload:
            admin(info)
            policy = await punch_cards_service.set_refund_policy(
                input.program_slug, input.refund_policy
            )
            return PunchCardSettingsPayload(settings=PunchCardSettings(refund_policy=policy))

        return await guarded(lambda errors: PunchCardSettingsPayload(user_errors=errors), work)
