"""Store credit mutations: issue, spend, refund."""

from __future__ import annotations

import strawberry

from app.graphql.core.admin_writes import scoped_write
from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation
from app.graphql.members.types import Member
from app.graphql.store_credit.types import StoreCreditMovement
from app.services.members import service as members_service
from app.services.store_credit import service as store_credit_service
from app.services.store_credit.service import StoreCreditResult


@strawberry.input
class IssueStoreCreditInput:
    member_id: strawberry.ID
    amount_minor: int = strawberry.field(description="Positive, in minor units.")
    currency: str = strawberry.field(description="Must be the program's currency.")
    reason: str
    idempotency_key: str


@strawberry.input
class SpendStoreCreditInput:
    member_id: strawberry.ID
    amount_minor: int = strawberry.field(description="Positive, at most the balance.")
    currency: str = strawberry.field(description="Must be the program's currency.")
    order_id: str = strawberry.field(description="The store's order the credit pays for.")
    idempotency_key: str


@strawberry.input
class RefundStoreCreditInput:
    spend_id: strawberry.ID = strawberry.field(description="The StoreCreditMovement of a SPEND.")
    idempotency_key: str
    amount_minor: int | None = strawberry.field(
        default=None, description="What to give back; all that is left of the spend if omitted."
    )
    reason: str | None = None


@strawberry.type
class StoreCreditPayload:
    movement: StoreCreditMovement | None = None
    member: Member | None = None
    replayed: bool = strawberry.field(
        default=False, description="True when the idempotency key replayed an earlier result."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _payload(info: Info, result: StoreCreditResult) -> StoreCreditPayload:
    member = await members_service.get_member(
        result.movement.member_id, info.context.principal.program_scope
    )
    return StoreCreditPayload(
        movement=StoreCreditMovement.from_record(result.movement),
        member=None if member is None else Member.from_record(member),
        replayed=result.replayed,
    )


@mutation(description="Admin only: goodwill store credit for a member, with a reason.")
async def issue_store_credit(info: Info, input: IssueStoreCreditInput) -> StoreCreditPayload:
    result = await scoped_write(
        admin(info),
        input,
        store_credit_service.IssueStoreCreditInput,
        store_credit_service.issue_store_credit,
        ids={"member_id": "Member"},
    )
    return await _payload(info, result)


@mutation(
    description="The store's checkout pays for an order with the member's store credit"
    " (secret or admin key); more than the balance is INSUFFICIENT_STORE_CREDIT."
)
async def spend_store_credit(info: Info, input: SpendStoreCreditInput) -> StoreCreditPayload:
    result = await scoped_write(
        member_reader(info),
        input,
        store_credit_service.SpendStoreCreditInput,
        store_credit_service.spend_store_credit,
        ids={"member_id": "Member"},
    )
    return await _payload(info, result)


@mutation(
    description="Give back all or part of a store-credit spend (secret or admin key); all"
    " refunds of a spend together never give back more than it spent."
)
async def refund_store_credit(info: Info, input: RefundStoreCreditInput) -> StoreCreditPayload:
    result = await scoped_write(
        member_reader(info),
        input,
        store_credit_service.RefundStoreCreditInput,
        store_credit_service.refund_store_credit,
        ids={"spend_id": "StoreCreditMovement"},
    )
    return await _payload(info, result)
