"""Order mutations: report an order, its progress and refunds; the earning rules."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.orders import OrderChannel
from app.graphql.core.admin_writes import RecordPayloads, admin_id, scoped_write
from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import in_rule, mutation, optional_idempotency_key
from app.graphql.core.records import service_input
from app.graphql.orders.types import EarningRule, Order, OrderLineInput, RuleKindEnum
from app.services.orders import earning_rules as earning_rules_service
from app.services.orders import progress as order_progress
from app.services.orders import refunds as refunds_service
from app.services.orders import service as orders_service


@strawberry.input
class RecordOrderInput:
    program_slug: str
    customer_id: str
    order_id: str = strawberry.field(
        description="The store's order id: reporting it again never earns twice."
    )
    currency: str
    total_minor: int = strawberry.field(
        description="Must equal lines + shipping + tax - discount, in minor units."
    )
    lines: list[OrderLineInput]
    placed_at: datetime
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    idempotency_key: str | None = None
    exchange_rate: str | None = strawberry.field(
        default=None,
        description="For an order in another currency: program-currency units per order-currency"
        ' unit, e.g. "0.0921" for SEK in a EUR program. Points are earned on the converted cart.'
        " Omit to use the rate the program configures for the currency; this one wins.",
    )
    paid_with_points_minor: int = strawberry.field(
        default=0,
        description="Money of the order paid with points (0 to totalMinor). Unless the program"
        " earns on such payments, it is taken off the line bases in proportion.",
    )
    paid_with_store_credit_minor: int = strawberry.field(
        default=0,
        description="Money of the order paid with store credit; treated like paidWithPointsMinor.",
    )
    channel: OrderChannel | None = strawberry.field(
        default=None, description="Where the order was placed."
    )
    store_location: str | None = strawberry.field(
        default=None, description="The shop it was placed in, for STORE orders (your own name)."
    )


@strawberry.type
class RecordOrderPayload:
    order: Order | None = None
    already_recorded: bool = strawberry.field(
        default=False, description="True when this order was recorded before; nothing changed."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class EarningRuleDefinition:
    name: str
    kind: RuleKindEnum  # type: ignore[valid-type]
    multiplier: str | None = strawberry.field(
        default=None, description="MULTIPLIER rules: above 1, at most 100, 2 decimals at most."
    )
    points: int | None = strawberry.field(
        default=None, description="BONUS_PER_UNIT (per unit) and BONUS_PER_ORDER (once)."
    )
    priority: int = 0
    exclusive: bool = False
    minimum_order_minor: int = 0
    include_skus: list[str] = strawberry.field(default_factory=list)
    include_categories: list[str] = strawberry.field(default_factory=list)
    exclude_skus: list[str] = strawberry.field(default_factory=list)
    exclude_categories: list[str] = strawberry.field(default_factory=list)
    starts_at: datetime | None = strawberry.field(
        default=None, description="A campaign starts here (inclusive)."
    )
    ends_at: datetime | None = strawberry.field(
        default=None, description="A campaign ends here (exclusive)."
    )
    eligible_tiers: list[str] = strawberry.field(
        default_factory=list,
        description="Restrict to members of these tiers (by name; see configureTiers).",
    )
    eligible_segments: list[str] = strawberry.field(
        default_factory=list,
        description="Restrict to members of these segments (segments are not assigned yet).",
    )

    def to_service(self) -> earning_rules_service.RuleInput:
        return service_input(self, earning_rules_service.RuleInput)


@strawberry.input
class CreateEarningRuleInput:
    program_slug: str
    rule: EarningRuleDefinition
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input
class UpdateEarningRuleInput:
    id: strawberry.ID
    rule: EarningRuleDefinition


@strawberry.input
class SetEarningRulePausedInput:
    id: strawberry.ID
    paused: bool


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RefundLineInput:
    line_index: int = strawberry.field(description="The line's position in recordOrder's lines.")
    quantity: int


@strawberry.input
class RefundOrderInput:
    program_slug: str
    order_id: str
    idempotency_key: str
    lines: list[RefundLineInput] | None = strawberry.field(
        default=None,
        description="Omit (with amountMinor) to refund everything not refunded yet.",
    )
    amount_minor: int | None = strawberry.field(
        default=None,
        description="Money refunded, in the order's currency, instead of lines: takes back"
        " floor(pointsEarned x refunded money / totalMinor) cumulatively, at most what is left;"
        " refunding the rest of the total takes back the rest of the points.",
    )
    cancel: bool = strawberry.field(
        default=False, description="The order was cancelled rather than refunded."
    )
    reason: str | None = None


@strawberry.type
class RefundOrderPayload:
    order: Order | None = None
    points_reversed: int = 0
    points_unrecovered: int = strawberry.field(
        default=0,
        description="Points the member had already spent, written off (WRITE_OFF policy); under"
        " NEGATIVE_BALANCE they are taken back as a debt and counted in pointsReversed.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReportOrderProgressInput:
    program_slug: str
    order_id: str
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = strawberry.field(
        default=None, description="Delivery; pending points then mature pendingDays after it."
    )


@strawberry.type
class ReportOrderProgressPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_earning_rules = RecordPayloads("EarningRule", EarningRule.from_record, EarningRulePayload, "rule")
_order_progress = RecordPayloads("Order", Order.from_record, ReportOrderProgressPayload, "order")


@mutation(description="Report an order; it earns points once.")
async def record_order(info: Info, input: RecordOrderInput) -> RecordOrderPayload:
    recorded = await scoped_write(
        member_reader(info),
        input,
        orders_service.RecordOrderInput,
        orders_service.record_order,
        lines=[line.to_service() for line in input.lines],
    )
    return RecordOrderPayload(
        order=Order.from_record(recorded.order), already_recorded=recorded.already_recorded
    )


@mutation(errors_at=in_rule, description="Admin only: add a purchase rule or campaign.")
async def create_earning_rule(info: Info, input: CreateEarningRuleInput) -> EarningRulePayload:
    admin(info)
    record = await earning_rules_service.create_earning_rule(
        input.program_slug, input.rule.to_service(), input.idempotency_key
    )
    return EarningRulePayload(rule=EarningRule.from_record(record))


@mutation(errors_at=in_rule, description="Admin only: replace a rule; recorded orders keep theirs.")
async def update_earning_rule(info: Info, input: UpdateEarningRuleInput) -> EarningRulePayload:
    return _earning_rules.of(
        await earning_rules_service.update_earning_rule(
            admin_id(info, input.id, "EarningRule"), input.rule.to_service()
        )
    )


@mutation(errors_at=in_rule, description="Admin only: pause or resume a rule.")
async def set_earning_rule_paused(
    info: Info, input: SetEarningRulePausedInput
) -> EarningRulePayload:
    return _earning_rules.of(
        await earning_rules_service.set_earning_rule_paused(
            admin_id(info, input.id, "EarningRule"), input.paused
        )
    )


@mutation(description="Take back what refunded lines earned; replays are harmless.")
async def refund_order(info: Info, input: RefundOrderInput) -> RefundOrderPayload:
    result = await scoped_write(
        member_reader(info),
        input,
        refunds_service.RefundOrderInput,
        refunds_service.refund_order,
        lines=None
        if input.lines is None
        else [service_input(line, refunds_service.RefundLine) for line in input.lines],
    )
    return RefundOrderPayload(
        order=Order.from_record(result.order),
        points_reversed=result.points_reversed,
        points_unrecovered=result.points_unrecovered,
    )


@mutation(description="Report that an order was paid or delivered.")
async def report_order_progress(
    info: Info, input: ReportOrderProgressInput
) -> ReportOrderProgressPayload:
    return await _order_progress.scoped(
        member_reader(info),
        input,
        order_progress.OrderProgressInput,
        order_progress.report_order_progress,
    )
