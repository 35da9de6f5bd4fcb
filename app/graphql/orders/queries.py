"""Order queries: what a cart would earn, and the earning rules."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.context import Info, principal_of
from app.graphql.core.errors import as_query_errors
from app.graphql.core.programs import program_one, readable_program_list
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.orders.types import EarningRule, Order, OrderEarning, OrderLineInput
from app.services.orders import earning_rules as earning_rules_service
from app.services.orders import preview as order_preview
from app.services.orders import service as orders_service
from app.services.orders.earning import earning_json


@strawberry.input
class PreviewOrderInput:
    program_slug: str
    currency: str
    lines: list[OrderLineInput]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    placed_at: datetime | None = strawberry.field(
        default=None, description="When the order would be placed; now by default."
    )
    exchange_rate: str | None = strawberry.field(
        default=None, description="Omit to use the program's configured rate for the currency."
    )
    paid_with_points_minor: int = strawberry.field(
        default=0, description="Money of the cart paid with points (see RecordOrderInput)."
    )
    paid_with_store_credit_minor: int = strawberry.field(
        default=0, description="Money of the cart paid with store credit."
    )


@strawberry.field(
    description="What a cart would earn, with the breakdown; writes nothing. With a member"
    " token, as that member would (their tier's rules and multiplier)."
)
async def preview_order_points(info: Info, input: PreviewOrderInput) -> OrderEarning:
    principal = principal_of(info)
    with as_query_errors():
        earning = await order_preview.preview_order(
            order_preview.CartPreviewInput(
                program_slug=input.program_slug,
                currency=input.currency,
                lines=[line.to_service() for line in input.lines],
                shipping_minor=input.shipping_minor,
                tax_minor=input.tax_minor,
                discount_minor=input.discount_minor,
                placed_at=input.placed_at,
                exchange_rate=input.exchange_rate,
                paid_with_points_minor=input.paid_with_points_minor,
                paid_with_store_credit_minor=input.paid_with_store_credit_minor,
                member_id=principal.member_id if principal.is_member_session else None,
            ),
            principal.program_scope,
        )
    return OrderEarning.from_json(earning_json(earning))


@strawberry.field(description="Purchase rules and campaigns of a program, by priority.")
async def earning_rules(info: Info, program_slug: str) -> list[EarningRule]:
    return await readable_program_list(
        info, program_slug, earning_rules_service.list_earning_rules, EarningRule.from_record
    )


@strawberry.field(
    description="An order the store reported, by its own order id, with what it earned and why"
    " (`earning`). Secret and admin keys; null for an unknown order or program."
)
async def order(info: Info, program_slug: str, order_id: str) -> Order | None:
    principal = member_reader_in_query(info)
    record = await program_one(
        program_slug,
        principal.program_scope,
        lambda program_id: orders_service.find_order(program_id, order_id),
    )
    return None if record is None else Order.from_record(record)
