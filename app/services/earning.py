"""What an order earns under a program's configuration and rules at the time it was placed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.domain.earning import (
    Cart,
    CartLine,
    Component,
    Earning,
    EarningConfig,
    MemberAttributes,
    PurchaseRule,
    evaluate,
)
from app.services.programs import ProgramRecord


def program_config(program: ProgramRecord, rules: Sequence[PurchaseRule]) -> EarningConfig:
    return EarningConfig(
        points_per_currency_unit=program.points_per_currency_unit,
        rounding=program.rounding,
        count_shipping=program.count_shipping,
        count_tax=program.count_tax,
        minimum_order_minor=program.minimum_order_minor,
        excluded_skus=program.excluded_skus,
        excluded_categories=program.excluded_categories,
        rules=tuple(rules),
    )


def earn(
    program: ProgramRecord,
    rules: Sequence[PurchaseRule],
    *,
    lines: Sequence[CartLine],
    shipping_minor: int,
    tax_minor: int,
    discount_minor: int,
    placed_at: datetime,
    member: MemberAttributes | None,
) -> Earning:
    cart = Cart(
        currency=program.currency,
        lines=tuple(lines),
        shipping_minor=shipping_minor,
        tax_minor=tax_minor,
        discount_minor=discount_minor,
    )
    return evaluate(cart, program_config(program, rules), placed_at, member)


def _component_json(component: Component) -> dict[str, Any]:
    return {
        "source": component.source,
        "ruleId": component.rule_id,
        "baseMinor": component.base_minor,
        "multiplier": None if component.multiplier is None else str(component.multiplier),
        "points": component.points,
    }


def earning_json(earning: Earning) -> dict[str, Any]:
    """The breakdown as stored with the order: refunds and explanations read it back."""
    return {
        "points": earning.points,
        "baseMinor": earning.base_minor,
        "lines": [
            {
                "index": line.index,
                "sku": line.sku,
                "category": line.category,
                "quantity": line.quantity,
                "baseMinor": line.base_minor,
                "points": line.points,
                "components": [_component_json(c) for c in line.components],
            }
            for line in earning.lines
        ],
        "orderComponents": [_component_json(c) for c in earning.order_components],
    }
