"""Orders in the API: an order, why it earned what it did, the earning rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.domain.earning import RuleKind
from app.domain.locales import TranslatableKind
from app.domain.orders import OrderChannel
from app.graphql.core.context import Info, member_reader
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record, service_input
from app.graphql.members.types import Member, member_of
from app.graphql.translations.types import TranslatedName
from app.services.orders import cart as order_cart
from app.services.orders.earning_rules import EarningRuleRecord
from app.services.orders.service import OrderRecord

strawberry.enum(OrderChannel, description="Where an order was placed.")


@strawberry.type(description="One reason a line (or the order's shipping or tax) earned points.")
class EarningComponent:
    source: str = strawberry.field(
        description="BASE, SHIPPING, TAX, RULE or TIER (the member's tier multiplier)."
    )
    rule_id: strawberry.ID | None = strawberry.field(description="The EarningRule, for RULE.")
    base_minor: int
    multiplier: str | None
    points: int


@strawberry.type
class LineEarning:
    index: int
    sku: str
    category: str | None
    quantity: int
    base_minor: int = strawberry.field(
        description="The line amount after its shares of the discount and of what was paid with"
        " points or store credit (when those do not earn)."
    )
    points: int
    components: list[EarningComponent]


@strawberry.type(description="Why an order earns what it does, line by line.")
class OrderEarning:
    points: int
    base_minor: int
    lines: list[LineEarning]
    order_components: list[EarningComponent]
    unearned_payment_minor: int = strawberry.field(
        description="Money paid with points or store credit, taken off the line bases."
    )
    no_points_reason: str | None = strawberry.field(
        description="Why the order earned nothing whatever its cart: MEMBER_OPTED_OUT."
    )

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> OrderEarning:
        def component(c: dict[str, Any]) -> EarningComponent:
            rule_id = c["ruleId"]
            return EarningComponent(
                source=c["source"],
                rule_id=None
                if rule_id is None
                else strawberry.ID(encode_id("EarningRule", rule_id)),
                base_minor=c["baseMinor"],
                multiplier=c["multiplier"],
                points=c["points"],
            )

        return cls(
            points=stored["points"],
            base_minor=stored["baseMinor"],
            lines=[
                LineEarning(
                    index=line["index"],
                    sku=line["sku"],
                    category=line["category"],
                    quantity=line["quantity"],
                    base_minor=line["baseMinor"],
                    points=line["points"],
                    components=[component(c) for c in line["components"]],
                )
                for line in stored["lines"]
            ],
            order_components=[component(c) for c in stored["orderComponents"]],
            unearned_payment_minor=stored.get("unearnedPaymentMinor", 0),
            no_points_reason=stored.get("noPointsReason"),
        )


@strawberry.type(description="An order the store reported, and what it earned.")
class Order(Node):
    order_id: str = strawberry.field(description="The store's own order id.")
    currency: str
    total_minor: int
    points_earned: int
    placed_at: datetime
    created_at: datetime
    status: str = strawberry.field(description="PLACED, PARTIALLY_REFUNDED, REFUNDED or CANCELLED.")
    exchange_rate: str | None = strawberry.field(
        description="Program-currency units per order-currency unit, for a foreign order."
    )
    paid_at: datetime | None
    fulfilled_at: datetime | None = strawberry.field(
        description="Delivery: the return window (pendingDays) runs from here."
    )
    points_refunded: int = strawberry.field(description="Points taken back by refunds so far.")
    refunded_minor: int = strawberry.field(
        description="Money refunded so far, in the order's currency: amount refunds add to it,"
        " a refund of every unit makes it totalMinor."
    )
    points_unrecovered: int = strawberry.field(
        description="Points refunds could not take back because the member had spent them"
        " (WRITE_OFF policy; under NEGATIVE_BALANCE they become the member's debt)."
    )
    earning: OrderEarning | None = strawberry.field(
        description="The breakdown stored when the order earned; refunds take back from it."
    )
    channel: OrderChannel | None = strawberry.field(description="Where the order was placed.")
    store_location: str | None
    customer_id: str | None = strawberry.field(
        description="The store's customer id the order was reported with (member or not)."
    )
    member_pk: strawberry.Private[int | None]

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return from_record(
            cls,
            record,
            earning=None if record.earning is None else OrderEarning.from_json(record.earning),
            channel=None if record.channel is None else OrderChannel(record.channel),
        )

    @strawberry.field(
        description="None for the order of a customer who is not a member (a guest order,"
        " earning nothing unless credited when the customer enrols)."
    )
    async def member(self, info: Info) -> Member | None:
        member_reader(info)
        if self.member_pk is None:
            return None
        return await member_of(info, self.member_pk)


RuleKindEnum = strawberry.enum(RuleKind, name="EarningRuleKind")


@strawberry.type(description="A purchase rule or campaign: how orders earn beyond the base rate.")
class EarningRule(TranslatedName, Node):
    translatable = TranslatableKind.EARNING_RULE
    kind: RuleKindEnum  # type: ignore[valid-type]
    multiplier: str | None = strawberry.field(description='MULTIPLIER rules, e.g. "2".')
    points: int | None = strawberry.field(description="BONUS_PER_UNIT and BONUS_PER_ORDER.")
    priority: int
    exclusive: bool
    minimum_order_minor: int
    include_skus: list[str]
    include_categories: list[str]
    exclude_skus: list[str]
    exclude_categories: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    eligible_tiers: list[str] = strawberry.field(
        description="Only members in one of these tiers earn it; empty means everyone."
    )
    eligible_segments: list[str] = strawberry.field(
        description="Only members in one of these segments earn it; empty means everyone."
    )
    paused: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: EarningRuleRecord) -> EarningRule:
        rule = record.rule
        return cls(
            id=strawberry.ID(encode_id("EarningRule", record.id)),
            pk=record.id,
            program_pk=record.program_id,
            name_value=record.name,
            kind=rule.kind,
            multiplier=None if rule.multiplier is None else str(rule.multiplier),
            points=rule.points,
            priority=rule.priority,
            exclusive=rule.exclusive,
            minimum_order_minor=rule.minimum_order_minor,
            include_skus=sorted(rule.filter.include_skus),
            include_categories=sorted(rule.filter.include_categories),
            exclude_skus=sorted(rule.filter.exclude_skus),
            exclude_categories=sorted(rule.filter.exclude_categories),
            starts_at=rule.starts_at,
            ends_at=rule.ends_at,
            eligible_tiers=sorted(rule.eligible_tiers),
            eligible_segments=sorted(rule.eligible_segments),
            paused=record.paused,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None

    def to_service(self) -> order_cart.OrderLineInput:
        return service_input(self, order_cart.OrderLineInput)
