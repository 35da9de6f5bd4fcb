"""The earning engine (app/domain/earning.py): worked examples and properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.earning import (
    Cart,
    CartLine,
    Component,
    Earning,
    EarningConfig,
    LineFilter,
    MemberAttributes,
    PurchaseRule,
    Rounding,
    RuleKind,
    check_config,
    evaluate,
    points_checked,
    refund_share,
)
from app.domain.money import CURRENCY_EXPONENTS

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EVERY_LINE = LineFilter()
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


def usd(*lines: CartLine, shipping: int = 0, tax: int = 0, discount: int = 0) -> Cart:
    return Cart("USD", lines, shipping_minor=shipping, tax_minor=tax, discount_minor=discount)


def multiplier_rule(
    rule_id: int,
    multiplier: str,
    line_filter: LineFilter = EVERY_LINE,
    *,
    priority: int = 0,
    exclusive: bool = False,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> PurchaseRule:
    return PurchaseRule(
        rule_id,
        RuleKind.MULTIPLIER,
        line_filter,
        multiplier=Decimal(multiplier),
        priority=priority,
        exclusive=exclusive,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def bonus_rule(
    rule_id: int,
    kind: RuleKind,
    points: int,
    line_filter: LineFilter = EVERY_LINE,
    *,
    priority: int = 0,
    exclusive: bool = False,
    ends_at: datetime | None = None,
    minimum_order_minor: int = 0,
) -> PurchaseRule:
    return PurchaseRule(
        rule_id,
        kind,
        line_filter,
        points=points,
        priority=priority,
        exclusive=exclusive,
        ends_at=ends_at,
        minimum_order_minor=minimum_order_minor,
    )


def rule_points(earning: Earning, index: int) -> dict[int, int]:
    """Rule id -> points of the RULE components of one line."""
    return {
        c.rule_id: c.points
        for c in earning.lines[index].components
        if c.source == "RULE" and c.rule_id is not None
    }


def base_points(earning: Earning, index: int) -> int:
    return next(c.points for c in earning.lines[index].components if c.source == "BASE")


# --- base points ------------------------------------------------------------------------------


def test_base_points_are_computed_once_for_the_order_and_shared_by_largest_remainder() -> None:
    cart = usd(CartLine("A", 2, 1050), CartLine("B", 1, 999))
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=1), T)
    # 30.99 USD: 30 points for the order (per-line flooring would give 21 + 9 = 30 as well,
    # but the shares are 20.33 and 9.67: B has the larger remainder and gets the spare point).
    assert earning.base_minor == 3099
    assert earning.points == 30
    assert [line.points for line in earning.lines] == [20, 10]
    assert earning.lines[0].components == (Component("BASE", None, 2100, None, 20),)
    assert earning.lines[1].components == (Component("BASE", None, 999, None, 10),)
    assert earning.order_components == ()


def test_order_level_rounding_is_not_per_line_rounding() -> None:
    # Three lines of 0.50 USD: 1.50 USD earns 1 point (FLOOR), although no line earns one alone.
    cart = usd(CartLine("A", 1, 50), CartLine("B", 1, 50), CartLine("C", 1, 50))
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=1), T)
    assert earning.points == 1
    assert [line.points for line in earning.lines] == [1, 0, 0]  # tie: lowest index


@pytest.mark.parametrize(
    ("amount", "rounding", "expected"),
    [
        (3049, Rounding.FLOOR, 30),
        (3049, Rounding.NEAREST, 30),
        (3049, Rounding.CEIL, 31),
        (3050, Rounding.FLOOR, 30),
        (3050, Rounding.NEAREST, 31),  # halves go up
        (3050, Rounding.CEIL, 31),
        (3099, Rounding.NEAREST, 31),
        (3000, Rounding.FLOOR, 30),
        (3000, Rounding.NEAREST, 30),
        (3000, Rounding.CEIL, 30),
        (0, Rounding.CEIL, 0),
    ],
)
def test_rounding(amount: int, rounding: Rounding, expected: int) -> None:
    config = EarningConfig(points_per_currency_unit=1, rounding=rounding)
    assert evaluate(usd(CartLine("A", 1, amount)), config, T).points == expected


def test_nearest_and_ceil_shares_still_sum_to_the_order_points() -> None:
    cart = usd(CartLine("A", 2, 1050), CartLine("B", 1, 999))
    for rounding in (Rounding.NEAREST, Rounding.CEIL):
        earning = evaluate(cart, EarningConfig(points_per_currency_unit=1, rounding=rounding), T)
        assert earning.points == 31
        assert [line.points for line in earning.lines] == [21, 10]


def test_jpy_has_no_minor_unit() -> None:
    cart = Cart("JPY", (CartLine("A", 1, 1234), CartLine("B", 2, 383)))
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=3), T)
    assert earning.base_minor == 2000
    assert earning.points == 6000
    assert [line.points for line in earning.lines] == [3702, 2298]


@pytest.mark.parametrize(
    ("amount", "rounding", "expected"),
    [
        (12345, Rounding.FLOOR, 123),  # 12.345 KWD x 10 = 123.45 points
        (12345, Rounding.NEAREST, 123),
        (12345, Rounding.CEIL, 124),
        (12350, Rounding.NEAREST, 124),  # 123.5
        (12349, Rounding.NEAREST, 123),
    ],
)
def test_kwd_has_three_decimals(amount: int, rounding: Rounding, expected: int) -> None:
    cart = Cart("KWD", (CartLine("A", 1, amount),))
    config = EarningConfig(points_per_currency_unit=10, rounding=rounding)
    assert evaluate(cart, config, T).points == expected


# --- discount ---------------------------------------------------------------------------------


def test_discount_is_spread_by_largest_remainder() -> None:
    cart = usd(CartLine("A", 1, 1000), CartLine("B", 1, 2000), CartLine("C", 1, 3000), discount=100)
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=100), T)
    # Shares 16.67, 33.33, 50: A has the largest remainder and takes the spare cent.
    assert [line.base_minor for line in earning.lines] == [983, 1967, 2950]
    assert earning.base_minor == 5900
    assert earning.points == 5900
    assert [line.points for line in earning.lines] == [983, 1967, 2950]


def test_discount_ties_go_to_the_lowest_index() -> None:
    cart = usd(CartLine("A", 1, 1000), CartLine("B", 1, 1000), CartLine("C", 1, 1000), discount=100)
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=1), T)
    assert [line.base_minor for line in earning.lines] == [966, 967, 967]


def test_discount_larger_than_the_merchandise_leaves_line_bases_at_zero() -> None:
    cart = usd(CartLine("A", 1, 500), CartLine("B", 1, 500), shipping=1500, discount=2000)
    config = EarningConfig(points_per_currency_unit=1, count_shipping=True)
    earning = evaluate(cart, config, T)
    assert [line.base_minor for line in earning.lines] == [0, 0]
    assert earning.base_minor == 1500  # the rest of the discount is not taken from shipping
    assert earning.points == 15
    assert earning.order_components == (Component("SHIPPING", None, 1500, None, 15),)


def test_excluded_lines_take_no_share_of_the_discount() -> None:
    cart = usd(CartLine("GIFT-50", 1, 5000), CartLine("SHIRT", 1, 1000), discount=300)
    config = EarningConfig(points_per_currency_unit=1, excluded_skus=frozenset({"GIFT-50"}))
    earning = evaluate(cart, config, T)
    assert [line.base_minor for line in earning.lines] == [0, 700]
    assert earning.points == 7


# --- shipping, tax and the minimum order ------------------------------------------------------


def test_shipping_and_tax_are_not_counted_by_default() -> None:
    cart = usd(CartLine("A", 1, 10000), shipping=999, tax=850)
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=1), T)
    assert earning.base_minor == 10000
    assert earning.points == 100
    assert earning.order_components == ()


def test_counted_shipping_shares_the_order_points() -> None:
    cart = usd(CartLine("A", 1, 10000), shipping=999, tax=850)
    earning = evaluate(cart, EarningConfig(points_per_currency_unit=1, count_shipping=True), T)
    # 109.99 USD -> 109 points: 99.1 for the line, 9.9 for shipping, which takes the spare one.
    assert earning.base_minor == 10999
    assert earning.points == 109
    assert earning.lines[0].points == 99
    assert earning.order_components == (Component("SHIPPING", None, 999, None, 10),)


def test_counted_shipping_and_tax() -> None:
    cart = usd(CartLine("A", 1, 10000), shipping=999, tax=850)
    config = EarningConfig(points_per_currency_unit=1, count_shipping=True, count_tax=True)
    earning = evaluate(cart, config, T)
    assert earning.base_minor == 11849
    assert earning.points == 118
    assert earning.lines[0].points == 100
    assert earning.order_components == (
        Component("SHIPPING", None, 999, None, 10),
        Component("TAX", None, 850, None, 8),
    )


def test_below_the_minimum_order_nothing_is_earned() -> None:
    cart = usd(CartLine("A", 1, 6000), CartLine("B", 1, 0), discount=1500)
    config = EarningConfig(
        points_per_currency_unit=1,
        minimum_order_minor=5000,
        count_shipping=True,
        rules=(bonus_rule(1, RuleKind.BONUS_PER_ORDER, 500),),
    )
    earning = evaluate(cart, config, T)
    assert earning.points == 0
    assert earning.base_minor == 4500
    assert [(line.base_minor, line.points, line.components) for line in earning.lines] == [
        (4500, 0, ()),
        (0, 0, ()),
    ]
    assert earning.order_components == ()


def test_the_minimum_order_is_inclusive() -> None:
    cart = usd(CartLine("A", 1, 6000), discount=1000)
    config = EarningConfig(points_per_currency_unit=1, minimum_order_minor=5000)
    assert evaluate(cart, config, T).points == 50


def test_shipping_counts_towards_the_minimum_order_when_counted() -> None:
    cart = usd(CartLine("A", 1, 4000), shipping=1000)
    assert evaluate(cart, EarningConfig(1, minimum_order_minor=5000), T).points == 0
    counted = EarningConfig(1, minimum_order_minor=5000, count_shipping=True)
    assert evaluate(cart, counted, T).points == 50


# --- excluded products ------------------------------------------------------------------------


def test_excluded_gift_card_earns_nothing_not_even_from_rules() -> None:
    cart = usd(
        CartLine("GIFT-50", 1, 5000, "gift-cards"),
        CartLine("SHIRT", 1, 2000, "apparel"),
        CartLine("GIFT-OTHER", 2, 2500, "gift-cards"),
    )
    config = EarningConfig(
        points_per_currency_unit=1,
        excluded_skus=frozenset({"GIFT-50"}),
        excluded_categories=frozenset({"gift-cards"}),
        rules=(
            multiplier_rule(1, "2"),
            bonus_rule(2, RuleKind.BONUS_PER_UNIT, 5),
            bonus_rule(3, RuleKind.BONUS_PER_ORDER, 100),
        ),
    )
    earning = evaluate(cart, config, T)
    assert earning.base_minor == 2000
    gift, shirt, other = earning.lines
    assert (gift.base_minor, gift.points, gift.components) == (0, 0, ())
    assert (other.base_minor, other.points, other.components) == (0, 0, ())
    assert (gift.sku, gift.category, gift.quantity, gift.index) == ("GIFT-50", "gift-cards", 1, 0)
    # The per-order bonus goes to the first line it applies to: the shirt.
    assert shirt.points == 20 + 20 + 5 + 100
    assert earning.points == 145


# --- campaigns --------------------------------------------------------------------------------

BLACK_FRIDAY_START = datetime(2026, 11, 27, tzinfo=UTC)
BLACK_FRIDAY_END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("placed_at", "expected"),
    [
        (BLACK_FRIDAY_START - timedelta(microseconds=1), 90),
        (BLACK_FRIDAY_START, 170),
        (BLACK_FRIDAY_END - timedelta(microseconds=1), 170),
        (BLACK_FRIDAY_END, 90),
        (BLACK_FRIDAY_END + timedelta(days=1), 90),
    ],
)
def test_double_points_campaign_on_a_category_only_in_its_window(
    placed_at: datetime, expected: int
) -> None:
    cart = usd(CartLine("RUNNER", 1, 8000, "shoes"), CartLine("SOCKS", 1, 1000, "socks"))
    campaign = multiplier_rule(
        7,
        "2",
        LineFilter(include_categories=frozenset({"shoes"})),
        starts_at=BLACK_FRIDAY_START,
        ends_at=BLACK_FRIDAY_END,
    )
    earning = evaluate(cart, EarningConfig(1, rules=(campaign,)), placed_at)
    assert earning.points == expected
    assert earning.lines[1].points == 10
    if expected == 170:
        assert earning.lines[0].components[1] == Component("RULE", 7, 8000, Decimal("2"), 80)
    else:
        assert len(earning.lines[0].components) == 1


def test_window_bounds_compare_instants_across_time_zones() -> None:
    new_york = timezone(timedelta(hours=-5))
    cart = usd(CartLine("A", 1, 1000))
    campaign = multiplier_rule(1, "3", starts_at=BLACK_FRIDAY_START, ends_at=BLACK_FRIDAY_END)
    config = EarningConfig(1, rules=(campaign,))
    # 19:00 on the 26th in New York is midnight UTC on the 27th: inside.
    assert evaluate(cart, config, datetime(2026, 11, 26, 19, tzinfo=new_york)).points == 30
    assert evaluate(cart, config, datetime(2026, 11, 26, 18, 59, tzinfo=new_york)).points == 10


def test_open_ended_windows() -> None:
    cart = usd(CartLine("A", 1, 1000))
    from_start = multiplier_rule(1, "2", starts_at=T)
    until_end = multiplier_rule(2, "2", ends_at=T)
    assert evaluate(cart, EarningConfig(1, rules=(from_start,)), T).points == 20
    assert evaluate(cart, EarningConfig(1, rules=(until_end,)), T).points == 10


# --- multipliers ------------------------------------------------------------------------------


def test_highest_multiplier_wins_and_multipliers_do_not_compound() -> None:
    cart = usd(CartLine("RUNNER", 1, 8000, "shoes"), CartLine("SOCKS", 1, 1000, "socks"))
    shoes = LineFilter(include_categories=frozenset({"shoes"}))
    config = EarningConfig(
        1,
        rules=(
            multiplier_rule(1, "2"),
            multiplier_rule(2, "3", shoes),
            multiplier_rule(3, "1.5", priority=9),
        ),
    )
    earning = evaluate(cart, config, T)
    # Shoes: x3 only (80 + 160), not 2 x 3 x 1.5. Socks: x2 only (10 + 10).
    assert rule_points(earning, 0) == {2: 160}
    assert rule_points(earning, 1) == {1: 10}
    assert earning.points == 240 + 20


def test_equal_multipliers_the_first_in_rule_order_is_shown() -> None:
    cart = usd(CartLine("A", 1, 1000))
    config = EarningConfig(
        1,
        rules=(
            multiplier_rule(4, "2.00"),
            multiplier_rule(3, "2"),
            multiplier_rule(9, "2", priority=1),
        ),
    )
    assert rule_points(evaluate(cart, config, T), 0) == {9: 10}
    config = EarningConfig(1, rules=(multiplier_rule(4, "2.00"), multiplier_rule(3, "2")))
    assert rule_points(evaluate(cart, config, T), 0) == {3: 10}


@pytest.mark.parametrize(
    ("rounding", "expected_extra"),
    [(Rounding.FLOOR, 7), (Rounding.NEAREST, 8), (Rounding.CEIL, 8)],
)
def test_multiplier_extra_points_use_the_program_rounding(
    rounding: Rounding, expected_extra: int
) -> None:
    # 15 base points x (1.5 - 1) = 7.5
    cart = usd(CartLine("A", 1, 1500))
    config = EarningConfig(1, rounding=rounding, rules=(multiplier_rule(1, "1.5"),))
    earning = evaluate(cart, config, T)
    assert base_points(earning, 0) == 15
    assert rule_points(earning, 0) == {1: expected_extra}


def test_multiplier_applies_to_the_line_share_of_the_base_points() -> None:
    # 30.99 USD -> 30 points: A has 20, B 10 (see the first test); x1.25 on B only.
    cart = usd(CartLine("A", 2, 1050), CartLine("B", 1, 999))
    rule = multiplier_rule(1, "1.25", LineFilter(include_skus=frozenset({"B"})))
    earning = evaluate(cart, EarningConfig(1, rules=(rule,)), T)
    assert rule_points(earning, 1) == {1: 2}  # 10 x 0.25 = 2.5, floored
    assert earning.points == 32


def test_a_multiplier_adds_nothing_to_a_line_without_base_points_but_is_listed() -> None:
    cart = usd(CartLine("FREEBIE", 1, 0), CartLine("A", 1, 1000))
    earning = evaluate(cart, EarningConfig(1, rules=(multiplier_rule(1, "5"),)), T)
    assert earning.lines[0].components == (
        Component("BASE", None, 0, None, 0),
        Component("RULE", 1, 0, Decimal("5"), 0),
    )
    assert earning.points == 50


# --- exclusive rules --------------------------------------------------------------------------


def test_an_exclusive_rule_suppresses_the_others_on_the_lines_it_matches() -> None:
    shoes = LineFilter(include_categories=frozenset({"shoes"}))
    config = EarningConfig(
        1,
        rules=(
            multiplier_rule(1, "3", priority=10),
            bonus_rule(2, RuleKind.BONUS_PER_UNIT, 5, shoes, exclusive=True),
            bonus_rule(3, RuleKind.BONUS_PER_UNIT, 7, shoes, exclusive=True, priority=5),
        ),
    )
    cart = usd(CartLine("RUNNER", 2, 4000, "shoes"), CartLine("SOCKS", 1, 1000, "socks"))
    earning = evaluate(cart, config, T)
    # Shoes: only the highest-priority exclusive rule (3): 80 + 2 x 7. Socks: x3.
    assert rule_points(earning, 0) == {3: 14}
    assert earning.lines[0].points == 94
    assert rule_points(earning, 1) == {1: 20}
    assert earning.points == 94 + 30


def test_an_exclusive_multiplier_applies_even_when_a_higher_one_matches() -> None:
    config = EarningConfig(
        1, rules=(multiplier_rule(1, "5"), multiplier_rule(2, "2", exclusive=True))
    )
    earning = evaluate(usd(CartLine("A", 1, 1000)), config, T)
    assert rule_points(earning, 0) == {2: 10}


def test_exclusive_ties_go_to_the_lowest_id() -> None:
    config = EarningConfig(
        1,
        rules=(
            bonus_rule(8, RuleKind.BONUS_PER_UNIT, 1, exclusive=True),
            bonus_rule(4, RuleKind.BONUS_PER_UNIT, 2, exclusive=True),
        ),
    )
    assert rule_points(evaluate(usd(CartLine("A", 1, 1000)), config, T), 0) == {4: 2}


def test_an_exclusive_rule_that_is_not_active_suppresses_nothing() -> None:
    config = EarningConfig(
        1,
        rules=(
            multiplier_rule(1, "2"),
            bonus_rule(2, RuleKind.BONUS_PER_UNIT, 5, exclusive=True, ends_at=T),
            bonus_rule(3, RuleKind.BONUS_PER_UNIT, 5, exclusive=True, minimum_order_minor=5000),
        ),
    )
    assert rule_points(evaluate(usd(CartLine("A", 1, 1000)), config, T), 0) == {1: 10}


# --- bonuses ----------------------------------------------------------------------------------


def test_bonus_per_unit_and_per_order() -> None:
    kitchen = LineFilter(include_categories=frozenset({"kitchen"}))
    config = EarningConfig(
        1,
        rules=(
            bonus_rule(1, RuleKind.BONUS_PER_UNIT, 10, LineFilter(include_skus=frozenset({"MUG"}))),
            bonus_rule(2, RuleKind.BONUS_PER_ORDER, 50, kitchen),
            bonus_rule(3, RuleKind.BONUS_PER_UNIT, 1),
        ),
    )
    cart = usd(
        CartLine("SHIRT", 1, 2000, "apparel"),
        CartLine("MUG", 3, 500, "kitchen"),
        CartLine("PAN", 1, 3000, "kitchen"),
    )
    earning = evaluate(cart, config, T)
    assert rule_points(earning, 0) == {3: 1}
    assert rule_points(earning, 1) == {1: 30, 2: 50, 3: 3}  # every per-unit rule adds
    assert rule_points(earning, 2) == {3: 1}  # the per-order bonus only once
    assert [line.points for line in earning.lines] == [21, 98, 31]
    assert earning.points == 65 + 30 + 50 + 5


def test_bonus_per_order_goes_to_the_first_line_where_it_is_not_suppressed() -> None:
    config = EarningConfig(
        1,
        rules=(
            bonus_rule(1, RuleKind.BONUS_PER_ORDER, 50),
            bonus_rule(
                2,
                RuleKind.BONUS_PER_UNIT,
                1,
                LineFilter(include_skus=frozenset({"A"})),
                exclusive=True,
            ),
        ),
    )
    earning = evaluate(usd(CartLine("A", 1, 1000), CartLine("B", 1, 1000)), config, T)
    assert rule_points(earning, 0) == {2: 1}
    assert rule_points(earning, 1) == {1: 50}


def test_rule_minimum_order_uses_the_earning_base() -> None:
    rule = bonus_rule(1, RuleKind.BONUS_PER_ORDER, 100, minimum_order_minor=10000)
    config = EarningConfig(1, rules=(rule,))
    assert evaluate(usd(CartLine("A", 1, 10500), discount=501), config, T).points == 99
    assert evaluate(usd(CartLine("A", 1, 10500), discount=500), config, T).points == 200


# --- filters and ordering ---------------------------------------------------------------------


def test_filters_include_by_sku_or_category_and_exclude_wins() -> None:
    line_filter = LineFilter(
        include_skus=frozenset({"A"}),
        include_categories=frozenset({"shoes"}),
        exclude_skus=frozenset({"B"}),
        exclude_categories=frozenset({"sale"}),
    )
    cart = usd(
        CartLine("A", 1, 100, "socks"),  # sku included
        CartLine("B", 1, 100, "shoes"),  # category included, sku excluded
        CartLine("C", 1, 100, "shoes"),  # category included
        CartLine("A", 1, 100, "sale"),  # sku included, category excluded
        CartLine("D", 1, 100, None),  # nothing included
        CartLine("E", 1, 100, "socks"),
    )
    config = EarningConfig(0, rules=(bonus_rule(1, RuleKind.BONUS_PER_UNIT, 1, line_filter),))
    assert [line.points for line in evaluate(cart, config, T).lines] == [1, 0, 1, 0, 0, 0]


def test_exclude_only_filter_matches_every_other_line() -> None:
    line_filter = LineFilter(exclude_categories=frozenset({"sale"}))
    cart = usd(CartLine("A", 1, 100, "sale"), CartLine("B", 1, 100), CartLine("C", 1, 100, "x"))
    config = EarningConfig(0, rules=(bonus_rule(1, RuleKind.BONUS_PER_UNIT, 1, line_filter),))
    assert [line.points for line in evaluate(cart, config, T).lines] == [0, 1, 1]


def test_rule_components_are_in_priority_then_id_order() -> None:
    config = EarningConfig(
        1,
        rules=(
            bonus_rule(5, RuleKind.BONUS_PER_UNIT, 1),
            bonus_rule(2, RuleKind.BONUS_PER_UNIT, 2),
            multiplier_rule(7, "2", priority=-1),
            bonus_rule(9, RuleKind.BONUS_PER_ORDER, 3, priority=3),
        ),
    )
    earning = evaluate(usd(CartLine("A", 2, 500)), config, T)
    assert [(c.source, c.rule_id, c.points) for c in earning.lines[0].components] == [
        ("BASE", None, 10),
        ("RULE", 9, 3),
        ("RULE", 2, 4),
        ("RULE", 5, 2),
        ("RULE", 7, 10),
    ]
    assert earning.points == 29


def test_the_order_of_the_rules_tuple_does_not_matter() -> None:
    rules = (
        bonus_rule(5, RuleKind.BONUS_PER_UNIT, 1, exclusive=True),
        bonus_rule(2, RuleKind.BONUS_PER_UNIT, 2, exclusive=True),
        multiplier_rule(7, "2"),
        multiplier_rule(3, "2"),
        bonus_rule(9, RuleKind.BONUS_PER_ORDER, 3),
    )
    cart = usd(CartLine("A", 2, 500), CartLine("B", 1, 700))
    results = {
        evaluate(cart, EarningConfig(1, rules=permutation), T)
        for permutation in itertools.permutations(rules)
    }
    assert len(results) == 1


# --- refunds ----------------------------------------------------------------------------------


def test_refund_share_floors_each_cumulative_step() -> None:
    assert [refund_share(10, 3, before, 1) for before in range(3)] == [3, 3, 4]
    assert refund_share(10, 3, 0, 3) == 10
    assert refund_share(10, 3, 1, 2) == 7
    assert refund_share(10, 3, 0, 0) == 0
    assert refund_share(0, 5, 2, 3) == 0
    assert refund_share(7, 1, 0, 1) == 7


@pytest.mark.parametrize(
    ("line_points", "line_quantity", "before", "refunding"),
    [
        (10, 3, 2, 2),  # more than bought
        (10, 3, 4, 0),
        (-1, 3, 0, 1),
        (10, 3, -1, 1),
        (10, 3, 0, -1),
        (10, 0, 0, 0),
    ],
)
def test_refund_share_refuses_impossible_refunds(
    line_points: int, line_quantity: int, before: int, refunding: int
) -> None:
    with pytest.raises(ValueError):
        refund_share(line_points, line_quantity, before, refunding)


# --- safety net -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cart",
    [
        usd(CartLine("A", -1, 100)),
        usd(CartLine("A", 0, 100)),
        usd(CartLine("A", 1, -100)),
        usd(CartLine("A", 1, 100), shipping=-1),
        usd(CartLine("A", 1, 100), tax=-1),
        usd(CartLine("A", 1, 100), discount=-1),
        usd(CartLine("A", 1, 10**9 + 1)),
        usd(CartLine("A", 10**6 + 1, 1)),
        usd(CartLine("A", True, 100)),
        Cart("XXX", (CartLine("A", 1, 100),)),
        Cart("usd", (CartLine("A", 1, 100),)),
    ],
)
def test_absurd_carts_are_refused(cart: Cart) -> None:
    with pytest.raises(ValueError):
        evaluate(cart, EarningConfig(1), T)


@pytest.mark.parametrize(
    "config",
    [
        EarningConfig(-1),
        EarningConfig(10_001),
        EarningConfig(1, minimum_order_minor=-1),
        EarningConfig(1, rules=(multiplier_rule(1, "1"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "0.5"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "100.01"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "1.005"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "1.000000000000000000000000000001"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "NaN"),)),
        EarningConfig(1, rules=(multiplier_rule(1, "Infinity"),)),
        EarningConfig(1, rules=(PurchaseRule(1, RuleKind.MULTIPLIER, EVERY_LINE),)),
        EarningConfig(
            1,
            rules=(
                PurchaseRule(1, RuleKind.MULTIPLIER, EVERY_LINE, multiplier=Decimal(2), points=5),
            ),
        ),
        EarningConfig(1, rules=(PurchaseRule(1, RuleKind.BONUS_PER_UNIT, EVERY_LINE),)),
        EarningConfig(1, rules=(bonus_rule(1, RuleKind.BONUS_PER_UNIT, 0),)),
        EarningConfig(1, rules=(bonus_rule(1, RuleKind.BONUS_PER_ORDER, -5),)),
        EarningConfig(
            1, rules=(bonus_rule(1, RuleKind.BONUS_PER_UNIT, 5, minimum_order_minor=-1),)
        ),
        EarningConfig(1, rules=(multiplier_rule(1, "2"), multiplier_rule(1, "3"))),
        EarningConfig(1, rules=(multiplier_rule(1, "2", starts_at=T, ends_at=T),)),
        EarningConfig(1, rules=(multiplier_rule(1, "2", starts_at=T.replace(tzinfo=None)),)),
        EarningConfig(1, excluded_skus="GIFT"),  # type: ignore[arg-type]
    ],
)
def test_absurd_configurations_are_refused(config: EarningConfig) -> None:
    with pytest.raises(ValueError):
        evaluate(usd(CartLine("A", 1, 100)), config, T)


def test_a_naive_order_time_is_refused() -> None:
    with pytest.raises(ValueError):
        evaluate(usd(CartLine("A", 1, 100)), EarningConfig(1), T.replace(tzinfo=None))


@pytest.mark.parametrize("multiplier", ["1.01", "100", "2.50", "2.500", "1E+1", "3"])
def test_valid_multipliers_are_accepted(multiplier: str) -> None:
    config = EarningConfig(1, rules=(multiplier_rule(1, multiplier),))
    earning = evaluate(usd(CartLine("A", 1, 10000)), config, T)
    assert earning.points == int(100 * Decimal(multiplier))


def test_an_empty_cart_earns_nothing() -> None:
    earning = evaluate(usd(), EarningConfig(1, rules=(multiplier_rule(1, "2"),)), T)
    assert earning == Earning(0, 0, (), ())


# --- properties -------------------------------------------------------------------------------

SKUS = ["A", "B", "C", "GIFT"]
CATEGORIES = [None, "x", "y", "gift"]
DECIMAL_ROUNDING = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.NEAREST: ROUND_HALF_UP,
    Rounding.CEIL: ROUND_CEILING,
}

lines_strategy = st.lists(
    st.builds(
        CartLine,
        sku=st.sampled_from(SKUS),
        quantity=st.one_of(st.integers(1, 20), st.just(10**6)),
        unit_price_minor=st.one_of(st.integers(0, 100_000), st.just(10**9)),
        category=st.sampled_from(CATEGORIES),
    ),
    max_size=6,
).map(tuple)

carts = st.builds(
    Cart,
    currency=st.sampled_from(["USD", "JPY", "KWD", "CLF"]),
    lines=lines_strategy,
    shipping_minor=st.integers(0, 50_000),
    tax_minor=st.integers(0, 50_000),
    discount_minor=st.one_of(st.integers(0, 50_000), st.integers(0, 10**9)),
)

names = st.frozensets(st.sampled_from(SKUS), max_size=2)
category_names = st.frozensets(st.sampled_from(["x", "y", "gift"]), max_size=2)
filters = st.builds(
    LineFilter,
    include_skus=names,
    include_categories=category_names,
    exclude_skus=names,
    exclude_categories=category_names,
)
windows = st.tuples(
    st.one_of(st.none(), st.integers(-48, 48)), st.one_of(st.none(), st.integers(1, 96))
).map(
    lambda w: (
        None if w[0] is None else T + timedelta(hours=w[0]),
        None if w[1] is None else T + timedelta(hours=(w[0] or 0) + w[1]),
    )
)


@st.composite
def rule_strategy(draw: st.DrawFn, rule_id: int) -> PurchaseRule:
    kind = draw(st.sampled_from(list(RuleKind)))
    starts_at, ends_at = draw(windows)
    return PurchaseRule(
        id=rule_id,
        kind=kind,
        filter=draw(filters),
        multiplier=(
            Decimal(draw(st.integers(101, 10_000))).scaleb(-2)
            if kind == RuleKind.MULTIPLIER
            else None
        ),
        points=None if kind == RuleKind.MULTIPLIER else draw(st.integers(1, 1000)),
        priority=draw(st.integers(-2, 2)),
        starts_at=starts_at,
        ends_at=ends_at,
        exclusive=draw(st.booleans()),
        minimum_order_minor=draw(st.sampled_from([0, 0, 1000, 50_000])),
    )


@st.composite
def configs(draw: st.DrawFn) -> EarningConfig:
    rule_ids = draw(st.lists(st.integers(1, 50), unique=True, max_size=5))
    return EarningConfig(
        points_per_currency_unit=draw(st.integers(0, 10_000)),
        rounding=draw(st.sampled_from(list(Rounding))),
        count_shipping=draw(st.booleans()),
        count_tax=draw(st.booleans()),
        minimum_order_minor=draw(st.sampled_from([0, 0, 1000, 100_000])),
        excluded_skus=draw(st.sampled_from([frozenset(), frozenset({"GIFT"})])),
        excluded_categories=draw(st.sampled_from([frozenset(), frozenset({"gift"})])),
        rules=tuple(draw(rule_strategy(rule_id)) for rule_id in rule_ids),
    )


order_times = st.integers(-72, 72).map(lambda hours: T + timedelta(hours=hours))


def expected_base_points(base_minor: int, currency: str, config: EarningConfig) -> int:
    """An independent oracle: Decimal arithmetic with the matching rounding mode."""
    with localcontext() as context:
        context.prec = 100
        exact = Decimal(base_minor * config.points_per_currency_unit).scaleb(
            -CURRENCY_EXPONENTS[currency]
        )
        return int(exact.quantize(Decimal(1), rounding=DECIMAL_ROUNDING[config.rounding]))


def is_excluded(line: CartLine, config: EarningConfig) -> bool:
    return line.sku in config.excluded_skus or line.category in config.excluded_categories


@PROPERTY_SETTINGS
@given(cart=carts, config=configs(), placed_at=order_times)
def test_points_add_up_and_are_never_negative(
    cart: Cart, config: EarningConfig, placed_at: datetime
) -> None:
    earning = evaluate(cart, config, placed_at)
    assert len(earning.lines) == len(cart.lines)
    for index, (line, line_earning) in enumerate(zip(cart.lines, earning.lines, strict=True)):
        assert (line_earning.index, line_earning.sku) == (index, line.sku)
        assert (line_earning.category, line_earning.quantity) == (line.category, line.quantity)
        assert line_earning.points == sum(c.points for c in line_earning.components)
        assert all(c.points >= 0 for c in line_earning.components)
    assert all(c.points >= 0 for c in earning.order_components)
    assert earning.points == sum(line.points for line in earning.lines) + sum(
        c.points for c in earning.order_components
    )


@PROPERTY_SETTINGS
@given(cart=carts, config=configs(), placed_at=order_times)
def test_bases_and_base_points_are_exact(
    cart: Cart, config: EarningConfig, placed_at: datetime
) -> None:
    earning = evaluate(cart, config, placed_at)
    merchandise = sum(
        line.quantity * line.unit_price_minor
        for line in cart.lines
        if not is_excluded(line, config)
    )
    line_bases = sum(line.base_minor for line in earning.lines)
    assert line_bases == max(0, merchandise - cart.discount_minor)
    for line, line_earning in zip(cart.lines, earning.lines, strict=True):
        amount = 0 if is_excluded(line, config) else line.quantity * line.unit_price_minor
        assert 0 <= line_earning.base_minor <= amount
    expected_base = (
        line_bases
        + (cart.shipping_minor if config.count_shipping else 0)
        + (cart.tax_minor if config.count_tax else 0)
    )
    assert earning.base_minor == expected_base
    base_components = [
        c for line in earning.lines for c in line.components if c.source == "BASE"
    ] + list(earning.order_components)
    if expected_base < config.minimum_order_minor:
        assert earning.points == 0
        assert base_components == []
    else:
        assert sum(c.points for c in base_components) == expected_base_points(
            expected_base, cart.currency, config
        )


@PROPERTY_SETTINGS
@given(cart=carts, config=configs(), placed_at=order_times)
def test_evaluate_is_deterministic_and_ignores_the_order_of_rules(
    cart: Cart, config: EarningConfig, placed_at: datetime
) -> None:
    first = evaluate(cart, config, placed_at)
    assert evaluate(cart, config, placed_at) == first
    reversed_rules = EarningConfig(
        points_per_currency_unit=config.points_per_currency_unit,
        rounding=config.rounding,
        count_shipping=config.count_shipping,
        count_tax=config.count_tax,
        minimum_order_minor=config.minimum_order_minor,
        excluded_skus=config.excluded_skus,
        excluded_categories=config.excluded_categories,
        rules=config.rules[::-1],
    )
    assert evaluate(cart, reversed_rules, placed_at) == first


@PROPERTY_SETTINGS
@given(cart=carts, config=configs(), placed_at=order_times)
def test_rules_only_ever_add_points(cart: Cart, config: EarningConfig, placed_at: datetime) -> None:
    with_rules = evaluate(cart, config, placed_at)
    without = evaluate(
        cart,
        EarningConfig(
            points_per_currency_unit=config.points_per_currency_unit,
            rounding=config.rounding,
            count_shipping=config.count_shipping,
            count_tax=config.count_tax,
            minimum_order_minor=config.minimum_order_minor,
            excluded_skus=config.excluded_skus,
            excluded_categories=config.excluded_categories,
        ),
        placed_at,
    )
    assert with_rules.points >= without.points
    for line_with, line_without in zip(with_rules.lines, without.lines, strict=True):
        assert line_with.points >= line_without.points
        assert line_with.components[:1] == line_without.components[:1]  # the same BASE


@PROPERTY_SETTINGS
@given(
    line_points=st.integers(0, 10**9),
    steps=st.lists(st.integers(0, 50), min_size=1, max_size=10),
)
def test_refund_share_over_any_partition_takes_back_exactly_the_line_points(
    line_points: int, steps: list[int]
) -> None:
    quantity = sum(steps)
    if quantity == 0:
        steps, quantity = [*steps, 1], 1
    refunded = 0
    taken_back = 0
    for step in steps:
        share = refund_share(line_points, quantity, refunded, step)
        assert 0 <= share <= line_points - taken_back
        refunded += step
        taken_back += share
    assert taken_back == line_points


def test_a_rule_for_chosen_tiers_applies_only_to_their_members() -> None:
    rule = PurchaseRule(
        id=1,
        kind=RuleKind.MULTIPLIER,
        filter=LineFilter(),
        multiplier=Decimal(2),
        eligible_tiers=frozenset({"gold"}),
    )
    config = EarningConfig(points_per_currency_unit=1, rules=(rule,))
    cart = Cart(currency="EUR", lines=(CartLine(sku="A", quantity=1, unit_price_minor=1000),))
    placed_at = datetime(2026, 11, 20, tzinfo=UTC)

    gold = evaluate(cart, config, placed_at, MemberAttributes(tier="gold"))
    silver = evaluate(cart, config, placed_at, MemberAttributes(tier="silver"))
    unknown = evaluate(cart, config, placed_at)

    assert (gold.points, silver.points, unknown.points) == (20, 10, 10)


def test_a_rule_for_chosen_segments_needs_one_shared_segment() -> None:
    rule = PurchaseRule(
        id=1,
        kind=RuleKind.BONUS_PER_ORDER,
        filter=LineFilter(),
        points=50,
        eligible_segments=frozenset({"vip", "staff"}),
    )
    config = EarningConfig(points_per_currency_unit=1, rules=(rule,))
    cart = Cart(currency="EUR", lines=(CartLine(sku="A", quantity=1, unit_price_minor=1000),))
    placed_at = datetime(2026, 11, 20, tzinfo=UTC)

    staff = evaluate(cart, config, placed_at, MemberAttributes(segments=frozenset({"staff"})))
    others = evaluate(cart, config, placed_at, MemberAttributes(segments=frozenset({"new"})))

    assert (staff.points, others.points) == (60, 10)


members = st.one_of(
    st.none(),
    st.builds(
        MemberAttributes,
        tier=st.sampled_from([None, "Gold"]),
        multiplier=st.one_of(
            st.none(), st.integers(101, 10_000).map(lambda n: Decimal(n).scaleb(-2))
        ),
    ),
)


@PROPERTY_SETTINGS
@given(cart=carts, config=configs(), placed_at=order_times, member=members)
def test_points_without_the_explanation_equal_the_evaluation(
    cart: Cart, config: EarningConfig, placed_at: datetime, member: MemberAttributes | None
) -> None:
    # Backtests count with points_checked; the live order path with evaluate.
    assert points_checked(cart, check_config(config), placed_at, member) == (
        evaluate(cart, config, placed_at, member).points
    )
