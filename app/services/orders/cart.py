"""A cart: its lines, the checks an order or a preview of one must pass, and what it earns
in the program's currency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from app.db import (
    utc_now,
)
from app.domain.earning import Cart, CartLine, Earning, MemberAttributes, PurchaseRule, evaluate
from app.domain.errors import DomainError, ErrorCode
from app.domain.money import (
    MAX_AMOUNT_MINOR,
    MAX_EXCHANGE_RATE,
    MAX_POINTS_PER_MOVEMENT,
    MAX_QUANTITY,
    MIN_EXCHANGE_RATE,
    convert_minor,
    is_known_currency,
    parse_exchange_rate,
)
from app.domain.validation import EXTERNAL_ID_MAX, Checker
from app.services.orders.earning import program_config
from app.services.programs.service import ProgramRecord

MAX_LINES = 500
EARLIEST_ORDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of the shop and of Laurel disagree a little; an order from tomorrow is a mistake.
ORDER_CLOCK_SKEW = timedelta(days=1)


@dataclass(frozen=True)
class OrderLineInput:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None


class CartInput(Protocol):
    """The cart as the input of an order or of a cart preview gives it."""

    @property
    def currency(self) -> str: ...
    @property
    def lines(self) -> Sequence[OrderLineInput]: ...
    @property
    def shipping_minor(self) -> int: ...
    @property
    def tax_minor(self) -> int: ...
    @property
    def discount_minor(self) -> int: ...
    @property
    def exchange_rate(self) -> str | None: ...
    @property
    def paid_with_points_minor(self) -> int: ...
    @property
    def paid_with_store_credit_minor(self) -> int: ...


def normalised_lines(lines: Sequence[OrderLineInput]) -> list[OrderLineInput]:
    """The lines with their SKUs and categories trimmed (a blank category is none)."""
    return [
        replace(
            line,
            sku=line.sku.strip(),
            category=line.category.strip() if line.category and line.category.strip() else None,
        )
        for line in lines
    ]


def check_cart(
    check: Checker,
    cart: CartInput,
    *,
    program_currency: str,
    configured_rate: str | None = None,
) -> int:
    """Check what an order and a cart preview share; returns the lines' total.

    `configured_rate` is the program's rate for the order's currency, used when the order
    gives none.
    """
    currency, lines, exchange_rate = cart.currency, cart.lines, cart.exchange_rate
    amounts = {
        "shippingMinor": cart.shipping_minor,
        "taxMinor": cart.tax_minor,
        "discountMinor": cart.discount_minor,
    }
    normalised = currency.strip().upper()
    if not is_known_currency(normalised):
        check.add(
            ErrorCode.UNKNOWN_CURRENCY,
            f"{currency!r} is not an ISO 4217 currency code",
            ["input", "currency"],
        )
    elif normalised != program_currency and exchange_rate is None and configured_rate is None:
        check.add(
            ErrorCode.CURRENCY_MISMATCH,
            f"the program counts in {program_currency}, the order is in {normalised}:"
            f" give exchangeRate (the program has no rate for {normalised})",
            ["input", "currency"],
        )
    elif normalised == program_currency and exchange_rate is not None:
        check.add(
            ErrorCode.INVALID_VALUE,
            "exchangeRate is only for orders in another currency than the program's",
            ["input", "exchangeRate"],
        )
    elif exchange_rate is not None and parse_exchange_rate(exchange_rate) is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"exchangeRate must be a decimal between {MIN_EXCHANGE_RATE} and"
            f" {MAX_EXCHANGE_RATE} with at most 10 significant digits",
            ["input", "exchangeRate"],
        )
    for name, value in amounts.items():
        check.int_range(["input", name], value, 0, MAX_AMOUNT_MINOR, ErrorCode.INVALID_AMOUNT)
    if not lines:
        check.add(ErrorCode.REQUIRED, "an order needs at least one line", ["input", "lines"])
    if len(lines) > MAX_LINES:
        check.add(ErrorCode.TOO_MANY, f"an order has at most {MAX_LINES} lines", ["input", "lines"])
        return 0
    lines_total = 0
    for index, line in enumerate(lines):
        path = ["input", "lines", str(index)]
        check.text([*path, "sku"], line.sku, EXTERNAL_ID_MAX)
        check.text([*path, "category"], line.category, EXTERNAL_ID_MAX, required=False)
        check.int_range(
            [*path, "quantity"], line.quantity, 1, MAX_QUANTITY, ErrorCode.INVALID_QUANTITY
        )
        # A zero price is a free gift line; negative prices belong in discountMinor.
        check.int_range(
            [*path, "unitPriceMinor"],
            line.unit_price_minor,
            0,
            MAX_AMOUNT_MINOR,
            ErrorCode.INVALID_AMOUNT,
        )
        lines_total += line.quantity * line.unit_price_minor
    return lines_total


def check_time(check: Checker, moment: datetime, field: str) -> None:
    if moment.tzinfo is None:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} needs a time zone, e.g. 2026-11-20T10:00:00Z",
            ["input", field],
        )
    elif not EARLIEST_ORDER_TIME <= moment <= utc_now() + ORDER_CLOCK_SKEW:
        check.add(
            ErrorCode.INVALID_VALUE,
            f"{field} must be after 2000 and not in the future",
            ["input", field],
        )


def check_placed_at(check: Checker, placed_at: datetime) -> None:
    check_time(check, placed_at, "placedAt")


def check_payments(check: Checker, points_minor: int, store_credit_minor: int, total: int) -> None:
    """Money paid with points and with store credit: each, and both together, within the total."""
    for name, value in (
        ("paidWithPointsMinor", points_minor),
        ("paidWithStoreCreditMinor", store_credit_minor),
    ):
        check.int_range(["input", name], value, 0, max(total, 0), ErrorCode.INVALID_AMOUNT)
    within = 0 <= points_minor <= total and 0 <= store_credit_minor <= total
    if within and points_minor + store_credit_minor > total:
        check.add(
            ErrorCode.INVALID_AMOUNT,
            f"paidWithPointsMinor + paidWithStoreCreditMinor is more than the total {total}",
            ["input", "paidWithStoreCreditMinor"],
        )


def program_rate(program: ProgramRecord, currency: str) -> str | None:
    """The program's rate for `currency`, normalised; None when it has no usable one."""
    currency = currency.strip().upper()
    if currency == program.currency:
        return None
    configured = program.exchange_rates.get(currency)
    parsed = None if configured is None else parse_exchange_rate(configured)
    return None if parsed is None else str(parsed)


def earn_in_program_currency(
    program: ProgramRecord,
    rules: Sequence[PurchaseRule],
    cart: CartInput,
    *,
    exchange_rate: str | None,
    placed_at: datetime,
    member: MemberAttributes | None,
) -> Earning:
    """Earn on the cart (its currency and lines normalised) converted into the program's
    currency (unit prices and amounts each converted and rounded half to even) when the order
    is in another currency."""
    return evaluate(
        cart_in_program_currency(program, cart, exchange_rate),
        program_config(program, rules),
        placed_at,
        member,
    )


def cart_in_program_currency(
    program: ProgramRecord, cart: CartInput, exchange_rate: str | None
) -> Cart:
    """The engine's cart of `cart`, converted into the program's currency (see
    `earn_in_program_currency`)."""
    rate = None if exchange_rate is None else parse_exchange_rate(exchange_rate)

    def converted(amount: int) -> int:
        if rate is None:
            return amount
        return convert_minor(amount, cart.currency, program.currency, rate)

    return Cart(
        currency=program.currency,
        lines=tuple(
            CartLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=converted(line.unit_price_minor),
                category=line.category,
            )
            for line in cart.lines
        ),
        shipping_minor=converted(cart.shipping_minor),
        tax_minor=converted(cart.tax_minor),
        discount_minor=converted(cart.discount_minor),
        paid_with_points_minor=converted(cart.paid_with_points_minor),
        paid_with_store_credit_minor=converted(cart.paid_with_store_credit_minor),
    )


def check_points_limit(points: int) -> None:
    if points > MAX_POINTS_PER_MOVEMENT:
        raise DomainError(
            ErrorCode.POINTS_LIMIT_EXCEEDED,
            f"the order would earn {points} points, more than {MAX_POINTS_PER_MOVEMENT}",
            ["input", "totalMinor"],
        )
