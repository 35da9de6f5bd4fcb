"""What a cart would earn before it is ordered: the storefront's preview; writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app.db import (
    connection,
    utc_now,
)
from app.domain.earning import Earning
from app.domain.errors import ErrorCode
from app.domain.money import (
    MAX_AMOUNT_MINOR,
)
from app.domain.validation import Checker
from app.services.experiments.enforcement import program_plans, rules_for_member
from app.services.orders.cart import (
    OrderLineInput,
    check_cart,
    check_payments,
    check_placed_at,
    check_points_limit,
    earn_in_program_currency,
    normalised_lines,
    program_rate,
)
from app.services.orders.earning_rules import active_purchase_rules
from app.services.programs.service import ProgramScope, require_program
from app.services.segments.targeting import earning_member


@dataclass(frozen=True)
class CartPreviewInput:
    program_slug: str
    currency: str
    lines: list[OrderLineInput]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    placed_at: datetime | None = None
    exchange_rate: str | None = None
    paid_with_points_minor: int = 0
    paid_with_store_credit_minor: int = 0
    # A member session previews as its member: their tier's rules and multiplier apply.
    member_id: int | None = None


async def preview_order(data: CartPreviewInput, scope: ProgramScope) -> Earning:
    """What a cart would earn now (or at `placed_at`), with its breakdown; writes nothing."""
    program = await require_program(data.program_slug, scope)
    configured_rate = program_rate(program, data.currency)
    check = Checker()
    lines_total = check_cart(
        check, data, program_currency=program.currency, configured_rate=configured_rate
    )
    placed_at = data.placed_at or utc_now()
    check_placed_at(check, placed_at)
    if lines_total + data.shipping_minor + data.tax_minor > MAX_AMOUNT_MINOR:
        check.add(
            ErrorCode.INVALID_AMOUNT,
            f"the cart comes to more than {MAX_AMOUNT_MINOR} minor units",
            ["input", "lines"],
        )
    if not check.errors:
        check_payments(
            check,
            data.paid_with_points_minor,
            data.paid_with_store_credit_minor,
            lines_total + data.shipping_minor + data.tax_minor - data.discount_minor,
        )
    check.raise_if_any()
    placed_at = placed_at.astimezone(UTC)
    # As the order would: a rule an experiment tests counts for the members it gives it to.
    rules = rules_for_member(
        await active_purchase_rules(program.id),
        await program_plans(connection(), program.id, data.member_id),
        data.member_id,
        placed_at,
    )
    earning = earn_in_program_currency(
        program,
        rules,
        replace(data, currency=data.currency.strip().upper(), lines=normalised_lines(data.lines)),
        exchange_rate=data.exchange_rate or configured_rate,
        placed_at=placed_at,
        member=None
        if data.member_id is None
        else await earning_member(program.id, data.member_id, rules, placed_at),
    )
    check_points_limit(earning.points)
    return earning
