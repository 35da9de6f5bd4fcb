"""The earning engine: how many points each line of an order earns, and why.

Pure: no I/O, no database, no clock, no floats (integers, and `Decimal` only for multipliers).
The same cart, configuration and time always give the same result.

Stacking policy
---------------

1. Excluded products. A line whose SKU is in the program's `excluded_skus` or whose category is
   in its `excluded_categories` (gift cards, say) earns nothing, not even base points: its
   earning base is 0, it takes no share of the discount and no rule matches it.

2. Discount. The order discount is spread over the other lines in proportion to their amounts
   (quantity x unit price) by the largest-remainder method (ties go to the lower line index),
   so the line bases add up to exactly the amount of those lines minus the discount. No line
   base goes below 0: a discount larger than that amount brings every line base to 0, and the
   rest of it is taken neither from shipping nor from tax.

   Payments that do not earn. Unless the program earns on them (`earn_on_points_payments`),
   the money of the order paid with points or store credit is then taken off the line bases
   the same way: spread over the lines in proportion to their bases after the discount, by the
   largest-remainder method (ties to the lower line index), never below 0, never from shipping
   or tax. Each line's base is therefore fixed by the cart alone, and a refund of a line takes
   back exactly what that reduced base earned (rule 8).

3. Earning base. The order's earning base is the sum of the line bases, plus shipping when the
   program counts shipping and plus tax when it counts tax. An order whose earning base is
   below the program's minimum earns nothing at all: no base points and no rule points.

4. Base points. Computed once for the whole order, never per line:
   earning base x points per currency unit / 10^(currency exponent), rounded as the program
   says (FLOOR, NEAREST with halves up, or CEIL). They are then shared out between the lines,
   shipping and tax in proportion to their bases by the largest-remainder method (ties go to
   the lower line index; shipping and tax come after the lines), so the shares add up to
   exactly the order's base points.

5. Which rules count. A rule counts when its campaign window contains the order time
   (starts_at <= placed_at < ends_at; a missing bound is open), the order's earning base
   reaches the rule's minimum order amount, and, when the rule names eligible tiers or
   segments, the member is in one of those tiers or shares a segment with it (an unknown buyer,
   as in a preview, never is). A rule matches a line when the line is not
   excluded by the program, its SKU or category is not in the rule's exclude lists, and either
   both include lists are empty or its SKU or its category is in one of them. Exclusion wins
   over inclusion.

6. Stacking on a line. The rules that match a line are taken in order of priority (highest
   first), then id (lowest first).
   - Exclusive: if any of them is exclusive, only the first exclusive one applies on that line
     and every other rule is suppressed there.
   - MULTIPLIER: multipliers do not compound; only the highest matching multiplier applies (on
     equal multipliers, the first in rule order). It adds base points of the line x
     (multiplier - 1), rounded as the program says.
   - BONUS_PER_UNIT: every matching rule adds its points x the line's quantity.
   - BONUS_PER_ORDER: adds its points once per order, on the first line (lowest index) where
     it applies.

   - Tier multiplier. A member's tier (or paid membership) multiplier is a multiplier too, and
     multipliers do not compound: on each line, the higher of the member's multiplier and the
     line's best MULTIPLIER rule applies (on equal ones, the rule). When the member's wins, the
     rule's multiplier is dropped there and a TIER component adds base points of the line x
     (multiplier - 1), rounded as the program says. Bonus rules, exclusive or not, add to it.

7. Explanations. Each line lists its components: BASE (for every line that is not excluded,
   in an order that earns) and then one RULE component per applied rule, in rule order. The
   order lists a SHIPPING and a TAX component when they are counted. A component that rounds
   to 0 points is kept: it records that the reason applied. A line's points are the sum of its
   components; the order's points are the sum of the line points and the order components.

8. Refunds. Refunding units of a line takes back its points in proportion, rounded down at
   each cumulative step: floor(points x refunded so far / quantity) - floor(points x refunded
   before / quantity). However the refund is split, all units take back exactly the line's
   points and never more.

Values no program or order could have (negative amounts, unknown currencies, a multiplier
outside (1, 100], naive datetimes, ...) raise ValueError: the service validates its input first,
this is a safety net.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from app.domain.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT_MINOR,
    MAX_POINTS_PER_CURRENCY_UNIT,
    MAX_POINTS_PER_MOVEMENT,
    MAX_QUANTITY,
)

__all__ = [
    "MAX_MULTIPLIER",
    "Cart",
    "CartLine",
    "CheckedConfig",
    "Component",
    "Earning",
    "EarningConfig",
    "LineEarning",
    "LineFilter",
    "MemberAttributes",
    "PurchaseRule",
    "Rounding",
    "RuleKind",
    "Source",
    "check_config",
    "evaluate",
    "evaluate_checked",
    "points_checked",
    "refund_share",
    "without_points",
]

MAX_MULTIPLIER = Decimal(100)
_MULTIPLIER_SCALE = 100  # multipliers have at most 2 decimal places


class Rounding(StrEnum):
    FLOOR = "FLOOR"
    NEAREST = "NEAREST"  # halves round up
    CEIL = "CEIL"


class RuleKind(StrEnum):
    MULTIPLIER = "MULTIPLIER"  # base points of matching lines x multiplier (2 = double)
    BONUS_PER_UNIT = "BONUS_PER_UNIT"  # fixed points per unit bought of matching lines
    BONUS_PER_ORDER = "BONUS_PER_ORDER"  # fixed points once per order, on the first matching line


class Source(StrEnum):
    """The values of `Component.source`."""

    BASE = "BASE"
    SHIPPING = "SHIPPING"
    TAX = "TAX"
    RULE = "RULE"
    TIER = "TIER"  # the member's tier or membership multiplier


@dataclass(frozen=True)
class CartLine:
    """One order line."""

    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None


@dataclass(frozen=True)
class Cart:
    currency: str
    lines: tuple[CartLine, ...]
    shipping_minor: int = 0
    tax_minor: int = 0
    discount_minor: int = 0
    # Money of the order paid with points or with store credit (not with money).
    paid_with_points_minor: int = 0
    paid_with_store_credit_minor: int = 0


@dataclass(frozen=True)
class LineFilter:
    """Which lines a rule matches: empty include lists mean every line; exclude wins."""

    include_skus: frozenset[str] = frozenset()
    include_categories: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PurchaseRule:
    """A purchase rule, or a campaign when it has a window (starts_at <= placed_at < ends_at)."""

    id: int
    kind: RuleKind
    filter: LineFilter
    multiplier: Decimal | None = None  # MULTIPLIER only: in (1, 100], at most 2 decimal places
    points: int | None = None  # BONUS_PER_UNIT and BONUS_PER_ORDER only
    priority: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    exclusive: bool = False  # when it matches a line, no non-exclusive rule applies there
    minimum_order_minor: int = 0  # applies only when the order's earning base reaches this
    # Only for members in one of these tiers / segments; empty means everyone.
    eligible_tiers: frozenset[str] = frozenset()
    eligible_segments: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MemberAttributes:
    """What rules may be restricted to. Tiers and segments are filled in as those land."""

    tier: str | None = None
    segments: frozenset[str] = frozenset()
    # The member's earning multiplier from their tier or paid membership: in (1, 100], at most
    # 2 decimal places; None: none.
    multiplier: Decimal | None = None


@dataclass(frozen=True)
class EarningConfig:
    points_per_currency_unit: int
    rounding: Rounding = Rounding.FLOOR
    count_shipping: bool = False
    count_tax: bool = False
    minimum_order_minor: int = 0  # below this earning base the order earns nothing at all
    excluded_skus: frozenset[str] = frozenset()  # gift cards etc.: earn nothing, not even base
    excluded_categories: frozenset[str] = frozenset()
    rules: tuple[PurchaseRule, ...] = ()
    # Whether money paid with points or store credit earns like money does.
    earn_on_points_payments: bool = False


@dataclass(frozen=True)
class Component:
    """One reason a line (or the order) earned points."""

    source: str  # a `Source`: "BASE", "SHIPPING", "TAX" or "RULE"
    rule_id: int | None
    base_minor: int
    multiplier: Decimal | None
    points: int


@dataclass(frozen=True)
class LineEarning:
    index: int
    sku: str
    category: str | None
    quantity: int
    # Line amount after its shares of the discount and of payments that do not earn; 0 for an
    # excluded line.
    base_minor: int
    points: int
    components: tuple[Component, ...]


@dataclass(frozen=True)
class Earning:
    points: int  # == sum of the line points + sum of the order component points
    base_minor: int  # the order's earning base
    lines: tuple[LineEarning, ...]
    order_components: tuple[Component, ...]  # shipping and tax base points
    # Money paid with points or store credit that was taken off the line bases.
    unearned_payment_minor: int = 0


# --- arithmetic -------------------------------------------------------------------------------


def _divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    """numerator / denominator rounded as asked; both non-negative, denominator > 0."""
    if rounding is Rounding.FLOOR:
        return numerator // denominator
    if rounding is Rounding.CEIL:
        return -(-numerator // denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def _largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly to `total`.

    Each share is floor(total x weight / sum); the units left over go one each to the largest
    remainders, ties to the lower index. All zero when the weights sum to 0.
    """
    if total == 0:
        # No discount, no payment in points: the usual order, spared the arithmetic.
        return [0] * len(weights)
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    shares: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        share, remainder = divmod(total * weight, weight_sum)
        shares.append(share)
        remainders.append(remainder)
    left_over = total - sum(shares)
    if not left_over:
        return shares
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left_over]:
        shares[index] += 1
    return shares


# --- validation -------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def _check_names(name: str, value: object) -> None:
    if not isinstance(value, frozenset) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a frozenset of strings")


def _check_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _multiplier_hundredths(rule: PurchaseRule) -> int:
    """The rule's multiplier x 100, checked: in (1, 100] with at most 2 decimal places."""
    multiplier = rule.multiplier
    if not isinstance(multiplier, Decimal) or not multiplier.is_finite():
        raise ValueError(f"rule {rule.id}: a MULTIPLIER rule needs a finite Decimal multiplier")
    if not 1 < multiplier <= MAX_MULTIPLIER:
        raise ValueError(f"rule {rule.id}: multiplier must be in (1, 100], got {multiplier}")
    # Exact, whatever the decimal context's precision: digits x 10^exponent x 100.
    _, digits, exponent = multiplier.as_tuple()
    assert isinstance(exponent, int)  # finite
    coefficient = int("".join(map(str, digits)))
    shift = exponent + 2
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        return coefficient * scale
    hundredths, rest = divmod(coefficient, scale)
    if rest:
        raise ValueError(f"rule {rule.id}: multiplier has more than 2 decimal places")
    return hundredths


def _member_multiplier_hundredths(member: MemberAttributes | None) -> int:
    """The member's multiplier x 100 (100 when none), checked like a rule's."""
    if member is None or member.multiplier is None:
        return _MULTIPLIER_SCALE
    multiplier = member.multiplier
    if isinstance(multiplier, Decimal) and multiplier.is_finite():
        return _multiplier_hundredths_of(multiplier)
    return _multiplier_hundredths(
        PurchaseRule(id=0, kind=RuleKind.MULTIPLIER, filter=LineFilter(), multiplier=multiplier)
    )


@functools.lru_cache(maxsize=256)
def _multiplier_hundredths_of(multiplier: Decimal) -> int:
    # A program has a handful of tier multipliers and evaluates every order with one of them.
    return _multiplier_hundredths(
        PurchaseRule(id=0, kind=RuleKind.MULTIPLIER, filter=LineFilter(), multiplier=multiplier)
    )


def _check_cart(cart: Cart) -> int:
    """Checks the cart; returns the currency exponent."""
    if cart.currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"unknown currency {cart.currency!r}")
    if not isinstance(cart.lines, tuple):
        raise ValueError("cart.lines must be a tuple")
    for name, value in (
        ("shipping_minor", cart.shipping_minor),
        ("tax_minor", cart.tax_minor),
        ("discount_minor", cart.discount_minor),
        ("paid_with_points_minor", cart.paid_with_points_minor),
        ("paid_with_store_credit_minor", cart.paid_with_store_credit_minor),
    ):
        if not _is_int_within(value, 0, MAX_AMOUNT_MINOR):
            _check_int(f"cart.{name}", value, 0, MAX_AMOUNT_MINOR)
    for index, line in enumerate(cart.lines):
        if not isinstance(line.sku, str):
            raise ValueError(f"line {index}: sku must be a string")
        if line.category is not None and not isinstance(line.category, str):
            raise ValueError(f"line {index}: category must be a string or None")
        # The messages are made only for a value that fails: a backtest checks millions.
        if not _is_int_within(line.quantity, 1, MAX_QUANTITY):
            _check_int(f"line {index}: quantity", line.quantity, 1, MAX_QUANTITY)
        if not _is_int_within(line.unit_price_minor, 0, MAX_AMOUNT_MINOR):
            _check_int(
                f"line {index}: unit_price_minor", line.unit_price_minor, 0, MAX_AMOUNT_MINOR
            )
    return CURRENCY_EXPONENTS[cart.currency]


def _is_int_within(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _check_config(config: EarningConfig) -> dict[int, int]:
    """Checks the configuration; returns each MULTIPLIER rule's multiplier x 100 by rule id."""
    _check_int(
        "points_per_currency_unit", config.points_per_currency_unit, 0, MAX_POINTS_PER_CURRENCY_UNIT
    )
    try:
        Rounding(config.rounding)
    except ValueError:
        raise ValueError(f"unknown rounding {config.rounding!r}") from None
    _check_int("minimum_order_minor", config.minimum_order_minor, 0)
    _check_names("excluded_skus", config.excluded_skus)
    _check_names("excluded_categories", config.excluded_categories)
    if not isinstance(config.earn_on_points_payments, bool):
        raise ValueError("earn_on_points_payments must be a bool")
    if not isinstance(config.rules, tuple):
        raise ValueError("config.rules must be a tuple")
    hundredths: dict[int, int] = {}
    seen: set[int] = set()
    for rule in config.rules:
        _check_int("rule id", rule.id, -(2**63), 2**63 - 1)
        if rule.id in seen:
            raise ValueError(f"rule id {rule.id} appears twice")
        seen.add(rule.id)
        try:
            kind = RuleKind(rule.kind)
        except ValueError:
            raise ValueError(f"rule {rule.id}: unknown kind {rule.kind!r}") from None
        if kind is RuleKind.MULTIPLIER:
            hundredths[rule.id] = _multiplier_hundredths(rule)
            if rule.points is not None:
                raise ValueError(f"rule {rule.id}: a MULTIPLIER rule has no points")
        else:
            if rule.multiplier is not None:
                raise ValueError(f"rule {rule.id}: a {kind} rule has no multiplier")
            _check_int(f"rule {rule.id}: points", rule.points, 1, MAX_POINTS_PER_MOVEMENT)
        _check_int(f"rule {rule.id}: priority", rule.priority, -(2**31), 2**31 - 1)
        _check_int(f"rule {rule.id}: minimum_order_minor", rule.minimum_order_minor, 0)
        if not isinstance(rule.exclusive, bool):
            raise ValueError(f"rule {rule.id}: exclusive must be a bool")
        if not isinstance(rule.filter, LineFilter):
            raise ValueError(f"rule {rule.id}: filter must be a LineFilter")
        for name in ("include_skus", "include_categories", "exclude_skus", "exclude_categories"):
            _check_names(f"rule {rule.id}: filter.{name}", getattr(rule.filter, name))
        if rule.starts_at is not None:
            _check_aware(f"rule {rule.id}: starts_at", rule.starts_at)
        if rule.ends_at is not None:
            _check_aware(f"rule {rule.id}: ends_at", rule.ends_at)
        if (
            rule.starts_at is not None
            and rule.ends_at is not None
            and rule.ends_at <= rule.starts_at
        ):
            raise ValueError(f"rule {rule.id}: ends_at must be after starts_at")
    return hundredths


# --- evaluation -------------------------------------------------------------------------------


def _is_excluded(line: CartLine, config: EarningConfig) -> bool:
    return line.sku in config.excluded_skus or (
        line.category is not None and line.category in config.excluded_categories
    )


def _matches(line_filter: LineFilter, line: CartLine) -> bool:
    category = line.category
    if line.sku in line_filter.exclude_skus:
        return False
    if category is not None and category in line_filter.exclude_categories:
        return False
    if not line_filter.include_skus and not line_filter.include_categories:
        return True
    return line.sku in line_filter.include_skus or (
        category is not None and category in line_filter.include_categories
    )


def _is_eligible(rule: PurchaseRule, member: MemberAttributes | None) -> bool:
    if rule.eligible_tiers and (member is None or member.tier not in rule.eligible_tiers):
        return False
    return not rule.eligible_segments or (
        member is not None and bool(member.segments & rule.eligible_segments)
    )


def _is_active(rule: PurchaseRule, placed_at: datetime, base_minor: int) -> bool:
    if rule.starts_at is not None and placed_at < rule.starts_at:
        return False
    if rule.ends_at is not None and placed_at >= rule.ends_at:
        return False
    return base_minor >= rule.minimum_order_minor


def _applied_rules(matching: list[PurchaseRule], hundredths: dict[int, int]) -> list[PurchaseRule]:
    """The rules that apply on a line, in rule order, from those that match it (in rule order)."""
    for rule in matching:
        if rule.exclusive:
            return [rule]
    best_multiplier: PurchaseRule | None = None
    for rule in matching:
        if rule.kind == RuleKind.MULTIPLIER and (
            best_multiplier is None or hundredths[rule.id] > hundredths[best_multiplier.id]
        ):
            best_multiplier = rule
    return [
        rule for rule in matching if rule.kind != RuleKind.MULTIPLIER or rule is best_multiplier
    ]


@dataclass(frozen=True)
class CheckedConfig:
    """A configuration that passed its checks, with each MULTIPLIER rule's multiplier x 100:
    what evaluating many orders under one configuration (a backtest) checks only once."""

    config: EarningConfig
    hundredths: dict[int, int]
    rounding: Rounding
    # The rules in stacking order: priority (highest first), then id.
    rules_in_order: tuple[PurchaseRule, ...]


def check_config(config: EarningConfig) -> CheckedConfig:
    hundredths = _check_config(config)
    return CheckedConfig(
        config=config,
        hundredths=hundredths,
        rounding=Rounding(config.rounding),
        rules_in_order=tuple(sorted(config.rules, key=lambda rule: (-rule.priority, rule.id))),
    )


def evaluate(
    cart: Cart,
    config: EarningConfig,
    placed_at: datetime,
    member: MemberAttributes | None = None,
) -> Earning:
    """The points an order earns, line by line, with the reasons (see the module docstring).

    `member` is None when the buyer is unknown (a cart preview): then rules restricted to tiers
    or segments do not apply.
    """
    return evaluate_checked(cart, check_config(config), placed_at, member)


def evaluate_checked(
    cart: Cart,
    checked: CheckedConfig,
    placed_at: datetime,
    member: MemberAttributes | None = None,
) -> Earning:
    """`evaluate` under a configuration checked beforehand by `check_config`."""
    return _evaluate(cart, checked, placed_at, member, explain=True)


def points_checked(
    cart: Cart,
    checked: CheckedConfig,
    placed_at: datetime,
    member: MemberAttributes | None = None,
) -> int:
    """`evaluate_checked(...).points`, without making the explanation: what a backtest, which
    plays millions of orders for their totals, needs."""
    return _evaluate(cart, checked, placed_at, member, explain=False).points


def _evaluate(
    cart: Cart,
    checked: CheckedConfig,
    placed_at: datetime,
    member: MemberAttributes | None,
    *,
    explain: bool,
) -> Earning:
    """The evaluation; without `explain` the Earning has its points and bases but neither lines
    nor components."""
    config, hundredths, rounding = checked.config, checked.hundredths, checked.rounding
    exponent = _check_cart(cart)
    _check_aware("placed_at", placed_at)
    lines = cart.lines

    # 1-2. Excluded lines, the discount spread over the others, then payments that do not earn.
    excluded = [_is_excluded(line, config) for line in lines]
    amounts = [
        0 if excluded[i] else line.quantity * line.unit_price_minor for i, line in enumerate(lines)
    ]
    discount = min(cart.discount_minor, sum(amounts))
    discount_shares = _largest_remainder(discount, amounts)
    discounted = [amount - share for amount, share in zip(amounts, discount_shares, strict=True)]
    unearned = 0
    if not config.earn_on_points_payments:
        unearned = min(
            cart.paid_with_points_minor + cart.paid_with_store_credit_minor, sum(discounted)
        )
    unearned_shares = _largest_remainder(unearned, discounted)
    line_bases = [base - share for base, share in zip(discounted, unearned_shares, strict=True)]

    # 3. The earning base and the order minimum.
    shipping_base = cart.shipping_minor if config.count_shipping else 0
    tax_base = cart.tax_minor if config.count_tax else 0
    base_minor = sum(line_bases) + shipping_base + tax_base
    if base_minor < config.minimum_order_minor:
        return Earning(
            points=0,
            base_minor=base_minor,
            lines=tuple(
                LineEarning(i, line.sku, line.category, line.quantity, line_bases[i], 0, ())
                for i, line in enumerate(lines)
            )
            if explain
            else (),
            order_components=(),
            unearned_payment_minor=unearned,
        )

    # 4. Base points, once for the order, shared out between lines, shipping and tax.
    order_base_points = _divide(
        base_minor * config.points_per_currency_unit, 10**exponent, rounding
    )
    shares = _largest_remainder(order_base_points, [*line_bases, shipping_base, tax_base])
    line_base_points = shares[: len(lines)]
    shipping_points, tax_points = shares[len(lines) :]

    # 5-6. Rules, and the member's own multiplier.
    member_hundredths = _member_multiplier_hundredths(member)
    rules = [
        rule
        for rule in checked.rules_in_order
        if _is_active(rule, placed_at, base_minor) and _is_eligible(rule, member)
    ]
    awarded_per_order: set[int] = set()
    line_earnings: list[LineEarning] = []
    total = 0
    for index, line in enumerate(lines):
        if excluded[index]:
            if explain:
                line_earnings.append(
                    LineEarning(index, line.sku, line.category, line.quantity, 0, 0, ())
                )
            continue
        line_base = line_bases[index]
        base_points = line_base_points[index]
        line_points = base_points
        components = [Component(Source.BASE, None, line_base, None, base_points)] if explain else []
        matching = [rule for rule in rules if _matches(rule.filter, line)]
        applied = _applied_rules(matching, hundredths)
        rule_multiplier = max(
            (hundredths[rule.id] for rule in applied if rule.kind == RuleKind.MULTIPLIER),
            default=_MULTIPLIER_SCALE,
        )
        member_wins = member_hundredths > rule_multiplier
        if member_wins:
            applied = [rule for rule in applied if rule.kind != RuleKind.MULTIPLIER]
        for rule in applied:
            if rule.kind == RuleKind.MULTIPLIER:
                extra = _divide(
                    base_points * (hundredths[rule.id] - _MULTIPLIER_SCALE),
                    _MULTIPLIER_SCALE,
                    rounding,
                )
                line_points += extra
                if explain:
                    components.append(
                        Component(Source.RULE, rule.id, line_base, rule.multiplier, extra)
                    )
                continue
            assert rule.points is not None  # checked in _check_config
            if rule.kind == RuleKind.BONUS_PER_UNIT:
                points = rule.points * line.quantity
            elif rule.id in awarded_per_order:
                continue
            else:
                awarded_per_order.add(rule.id)
                points = rule.points
            line_points += points
            if explain:
                components.append(Component(Source.RULE, rule.id, line_base, None, points))
        if member_wins:
            extra = _divide(
                base_points * (member_hundredths - _MULTIPLIER_SCALE), _MULTIPLIER_SCALE, rounding
            )
            assert member is not None and member.multiplier is not None
            line_points += extra
            if explain:
                components.append(Component(Source.TIER, None, line_base, member.multiplier, extra))
        total += line_points
        if explain:
            line_earnings.append(
                LineEarning(
                    index=index,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    base_minor=line_base,
                    points=line_points,
                    components=tuple(components),
                )
            )

    # 7. Shipping and tax, when counted.
    order_components: list[Component] = []
    if config.count_shipping:
        total += shipping_points
        if explain:
            order_components.append(
                Component(Source.SHIPPING, None, shipping_base, None, shipping_points)
            )
    if config.count_tax:
        total += tax_points
        if explain:
            order_components.append(Component(Source.TAX, None, tax_base, None, tax_points))
    return Earning(
        points=total,
        base_minor=base_minor,
        lines=tuple(line_earnings),
        order_components=tuple(order_components),
        unearned_payment_minor=unearned,
    )


def refund_share(line_points: int, line_quantity: int, refunded_before: int, refunding: int) -> int:
    """Points to take back when `refunding` more units of a line are refunded.

    floor(points x (before + refunding) / quantity) - floor(points x before / quantity): never
    negative, and refunding every unit, in any number of steps, takes back exactly `line_points`.
    """
    _check_int("line_points", line_points, 0)
    _check_int("line_quantity", line_quantity, 1)
    _check_int("refunded_before", refunded_before, 0)
    _check_int("refunding", refunding, 0)
    if refunded_before + refunding > line_quantity:
        raise ValueError(
            f"cannot refund {refunding} more of {line_quantity} units, "
            f"{refunded_before} already refunded"
        )
    after = line_points * (refunded_before + refunding) // line_quantity
    return after - line_points * refunded_before // line_quantity


def without_points(earning: Earning) -> Earning:
    """The same order earning nothing (its buyer earns nothing): every line keeps its base, and
    no line or order component has points, so refunds take nothing back."""
    return Earning(
        points=0,
        base_minor=earning.base_minor,
        lines=tuple(
            LineEarning(line.index, line.sku, line.category, line.quantity, line.base_minor, 0, ())
            for line in earning.lines
        ),
        order_components=(),
        unearned_payment_minor=earning.unearned_payment_minor,
    )
