"""A program's earning configuration, and what an order earned as it is stored with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.earning import (
    Component,
    Earning,
    EarningConfig,
    PurchaseRule,
)
from app.services.programs.service import ProgramRecord


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
        earn_on_points_payments=program.earn_on_points_payments,
    )


def _component_json(component: Component) -> dict[str, Any]:
    return {
        "source": component.source,
        "ruleId": component.rule_id,
        "baseMinor": component.base_minor,
        "multiplier": None if component.multiplier is None else str(component.multiplier),
        "points": component.points,
    }


def earning_json(earning: Earning, no_points_reason: str | None = None) -> dict[str, Any]:
    """The breakdown as stored with the order: refunds and explanations read it back.

    `noPointsReason` says why an order that would have earned was given nothing
    (`MEMBER_OPTED_OUT`); `unearnedPaymentMinor` is the money paid with points or store credit
    taken off the line bases. Both are left out when they do not apply.
    """
    return {
        **({"noPointsReason": no_points_reason} if no_points_reason else {}),
        **(
            {"unearnedPaymentMinor": earning.unearned_payment_minor}
            if earning.unearned_payment_minor
            else {}
        ),
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
