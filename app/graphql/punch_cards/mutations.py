"""Punch card mutations (admin)."""

from __future__ import annotations

import strawberry

from app.domain.punch_cards import MinimumPer
from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.punch_cards.types import (
    MinimumPerEnum,
    PunchCard,
    PunchCardSettings,
    RefundPolicyEnum,
)
from app.services.punch_cards import lifecycle as punch_card_lifecycle
from app.services.punch_cards import service as punch_cards_service


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
    idempotency_key: str | None = optional_idempotency_key()


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


@strawberry.input(
    description="Pause (no purchase punches it; members keep their punches and rewards) or"
    " resume a punch card that is not retired."
)
class SetPunchCardPausedInput:
    id: strawberry.ID
    paused: bool


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


_punch_cards = RecordPayloads("PunchCard", PunchCard.from_record, PunchCardPayload, "punch_card")


@mutation(description="Admin only: a punch card of a program.")
async def create_punch_card(info: Info, input: CreatePunchCardInput) -> PunchCardPayload:
    return await _punch_cards.created(
        info,
        input,
        punch_cards_service.CreatePunchCardInput,
        punch_cards_service.create_punch_card,
        ids={"reward_id": "Reward"},
    )


@mutation(description="Admin only: change a punch card.")
async def update_punch_card(info: Info, input: UpdatePunchCardInput) -> PunchCardPayload:
    return await _punch_cards.updated(
        info,
        input,
        punch_cards_service.UpdatePunchCardInput,
        punch_cards_service.update_punch_card,
        id_name="card_id",
        ids={"reward_id": "Reward"},
    )


@mutation(
    description="Admin only: retire a punch card. Nothing punches it any more; members keep"
    " their cards and rewards, and refunds still take punches off."
)
async def retire_punch_card(info: Info, input: RetirePunchCardInput) -> PunchCardPayload:
    return await _punch_cards.by_id(admin(info), input.id, punch_card_lifecycle.retire_punch_card)


@mutation(
    description="Admin only: pause or resume a punch card. A retired card is refused"
    " (INVALID_VALUE); a resume beyond the program's limit of active cards is TOO_MANY."
)
async def set_punch_card_paused(info: Info, input: SetPunchCardPausedInput) -> PunchCardPayload:
    return await _punch_cards.by_id(
        admin(info),
        input.id,
        lambda pk, scope: punch_card_lifecycle.set_punch_card_paused(pk, input.paused, scope),
    )


@mutation(description="Admin only: what refunds do to rewards punches earned.")
async def update_punch_card_settings(
    info: Info, input: UpdatePunchCardSettingsInput
) -> PunchCardSettingsPayload:
    admin(info)
    policy = await punch_cards_service.set_refund_policy(input.program_slug, input.refund_policy)
    return PunchCardSettingsPayload(settings=PunchCardSettings(refund_policy=policy))
