"""Store credit in the API: a member's balance and its movements."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.domain.ledger import TransactionKind
from app.graphql.core.connection import Connection, Edges, keyset_page
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.graphql.loaders import loads_in_batch
from app.services.store_credit import service as store_credit_service
from app.services.store_credit.service import StoreCreditRecord


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
        return from_record(cls, record, kind=_KINDS[record.kind], order_id=record.order_ref)

    @strawberry.field(description="REFUND: the spend it gives back.")
    async def spend(self, info: Info) -> StoreCreditMovement | None:
        if self.spend_pk is None:
            return None
        record = await info.context.loaders.store_credit_movement.load(self.spend_pk)
        return None if record is None else StoreCreditMovement.from_record(record)


async def store_credit_of(info: Info, member_id: int) -> StoreCredit:
    if loads_in_batch(info.path):
        balance = await info.context.loaders.store_credit_balance.load(member_id)
        assert balance is not None
    else:
        balance = await store_credit_service.balance_of(member_id)
    return StoreCredit(balance_minor=balance.balance_minor, currency=balance.currency)


async def store_credit_movements(
    info: Info, member_id: int, *, first: int, after: str | None
) -> Connection[StoreCreditMovement]:
    async def fetch(position: int | None, limit: int) -> list[StoreCreditRecord]:
        if position is None and loads_in_batch(info.path):
            return await info.context.loaders.first_store_credit_movements.load((member_id, limit))
        return await store_credit_service.list_movements(member_id, before_id=position, limit=limit)

    return await keyset_page(
        fetch,
        first=first,
        after=after,
        edges=Edges("StoreCreditMovement", StoreCreditMovement.from_record),
    )
