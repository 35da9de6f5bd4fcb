"""Store credit in the API: the balance and history on Member, and the three mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.domain.ledger import TransactionKind
from app.graphql.context import Info, admin, member_reader
from app.graphql.errors import UserError, guarded
from app.graphql.ids import decode_id, encode_cursor, encode_id
from app.graphql.types import (
    Member,
    Node,
    PageInfo,
    cursor_position,
    next_page_info,
    page_size,
)
from app.services.members import service as members_service
from app.services.store_credit import service as store_credit_service
from app.services.store_credit.service import StoreCreditRecord, StoreCreditResult


@strawberry.enum(name="StoreCreditMovementKind")
class StoreCreditMovementKind(Enum):
    ISSUE = "ISSUE"
    SPEND = "SPEND"
    REFUND = "REFUND"


_KINDS = {
    TransactionKind.STORE_CREDIT_ISSUE: StoreCreditMovementKind.ISSUE,
    TransactionKind.STORE_CREDIT_SPEND: StoreCreditMovementKind.SPEND,
    TransactionKind.STORE_CREDIT_REFUND: StoreCreditMovementKind.REFUND,
}


@strawberry.type(
    description="Money on the member's store-credit balance, which the store's checkout spends;"
    " in minor units of the program's currency (the only currency it can be in)."
)
class StoreCredit:
    balance_minor: int
    currency: str


@strawberry.type(description="One movement of a member's store credit.")
class StoreCreditMovement(Node):
    kind: StoreCreditMovementKind = strawberry.field(
        description="ISSUE (goodwill or a reward), SPEND (the checkout), REFUND (a spend back)."
    )
    amount_minor: int = strawberry.field(description="Signed change of the balance.")
    currency: str
    balance_after_minor: int
    reason: str
    order_id: str | None = strawberry.field(description="The store's order id, for spends.")
    refunded_minor: int = strawberry.field(
        description="SPEND: what refunds have given back so far; 0 for other kinds."
    )
    created_at: datetime
    spend_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: StoreCreditRecord) -> StoreCreditMovement:
        return cls(
            id=strawberry.ID(encode_id("StoreCreditMovement", record.id)),
            kind=_KINDS[record.kind],
            amount_minor=record.amount_minor,
            currency=record.currency,
            balance_after_minor=record.balance_after_minor,
            reason=record.reason,
            order_id=record.order_ref,
            refunded_minor=record.refunded_minor,
            created_at=record.created_at,
            spend_pk=record.spend_id,
        )

    @strawberry.field(description="REFUND: the spend it gives back.")
    async def spend(self, info: Info) -> StoreCreditMovement | None:
        if self.spend_pk is None:
            return None
        record = await info.context.loaders.store_credit_movement.load(self.spend_pk)
        return None if record is None else StoreCreditMovement.from_record(record)


@strawberry.type
class StoreCreditMovementEdge:
    cursor: str
    node: StoreCreditMovement


@strawberry.type
class StoreCreditMovementConnection:
    edges: list[StoreCreditMovementEdge]
    page_info: PageInfo


async def store_credit_of(member_id: int) -> StoreCredit:
    balance = await store_credit_service.balance_of(member_id)
    return StoreCredit(balance_minor=balance.balance_minor, currency=balance.currency)


async def store_credit_history(
    member_id: int, *, first: int, after: str | None
) -> StoreCreditMovementConnection:
    limit = page_size(first)
    records = await store_credit_service.list_movements(
        member_id, before_id=cursor_position(after), limit=limit + 1
    )
    edges = [
        StoreCreditMovementEdge(
            cursor=encode_cursor(record.id), node=StoreCreditMovement.from_record(record)
        )
        for record in records[:limit]
    ]
    return StoreCreditMovementConnection(
        edges=edges,
        page_info=next_page_info(len(records), limit, edges),
    )


# --- inputs and payloads ----------------------------------------------------------------------


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


# --- mutations --------------------------------------------------------------------------------


@strawberry.type
class StoreCreditMutations:
    @strawberry.mutation(
        description="Admin only: goodwill store credit for a member, with a reason."
    )
    async def issue_store_credit(
        self, info: Info, input: IssueStoreCreditInput
    ) -> StoreCreditPayload:
        async def work() -> StoreCreditPayload:
            principal = admin(info)
            result = await store_credit_service.issue_store_credit(
                store_credit_service.IssueStoreCreditInput(
                    member_id=decode_id(input.member_id, "Member", ["input", "memberId"]),
                    amount_minor=input.amount_minor,
                    currency=input.currency,
                    reason=input.reason,
                    idempotency_key=input.idempotency_key,
                ),
                principal.program_scope,
            )
            return await _payload(info, result)

        return await guarded(lambda errors: StoreCreditPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="The store's checkout pays for an order with the member's store credit"
        " (secret or admin key); more than the balance is INSUFFICIENT_STORE_CREDIT."
    )
    async def spend_store_credit(
        self, info: Info, input: SpendStoreCreditInput
    ) -> StoreCreditPayload:
        async def work() -> StoreCreditPayload:
            principal = member_reader(info)
            result = await store_credit_service.spend_store_credit(
                store_credit_service.SpendStoreCreditInput(
                    member_id=decode_id(input.member_id, "Member", ["input", "memberId"]),
                    amount_minor=input.amount_minor,
                    currency=input.currency,
                    order_id=input.order_id,
                    idempotency_key=input.idempotency_key,
                ),
                principal.program_scope,
            )
            return await _payload(info, result)

        return await guarded(lambda errors: StoreCreditPayload(user_errors=errors), work)

    @strawberry.mutation(
        description="Give back all or part of a store-credit spend (secret or admin key); all"
        " refunds of a spend together never give back more than it spent."
    )
    async def refund_store_credit(
        self, info: Info, input: RefundStoreCreditInput
    ) -> StoreCreditPayload:
        async def work() -> StoreCreditPayload:
            principal = member_reader(info)
            result = await store_credit_service.refund_store_credit(
                store_credit_service.RefundStoreCreditInput(
                    spend_id=decode_id(input.spend_id, "StoreCreditMovement", ["input", "spendId"]),
                    idempotency_key=input.idempotency_key,
                    amount_minor=input.amount_minor,
                    reason=input.reason,
                ),
                principal.program_scope,
            )
            return await _payload(info, result)

        return await guarded(lambda errors: StoreCreditPayload(user_errors=errors), work)
