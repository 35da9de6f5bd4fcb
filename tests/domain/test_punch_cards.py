"""Punch card rules: what punches, and whether a punch survives a refund."""

from __future__ import annotations

from app.domain.punch_cards import (
    CardRule,
    MinimumPer,
    Punch,
    PurchasedLine,
    completed_cards,
    punches_of,
    still_stands,
)

COFFEE = CardRule(
    skus=frozenset({"COFFEE"}),
    categories=frozenset({"beans"}),
    minimum_quantity=2,
    minimum_per=MinimumPer.LINE,
)
LINES = [
    PurchasedLine(0, "COFFEE", None, 1),
    PurchasedLine(1, "TEA", "drinks", 5),
    PurchasedLine(2, "ARABICA", "beans", 2),
    PurchasedLine(3, "COFFEE", "drinks", 3),
]


def test_each_qualifying_line_with_the_minimum_punches_once() -> None:
    assert punches_of(COFFEE, LINES) == [
        Punch(line_index=2, units={2: 2}),
        Punch(line_index=3, units={3: 3}),
    ]


def test_per_order_the_qualifying_units_together_punch_once_on_the_first_line() -> None:
    rule = CardRule(COFFEE.skus, COFFEE.categories, 6, MinimumPer.ORDER)

    assert punches_of(rule, LINES) == [Punch(line_index=0, units={0: 1, 2: 2, 3: 3})]
    assert punches_of(CardRule(COFFEE.skus, COFFEE.categories, 7, MinimumPer.ORDER), LINES) == []


def test_a_punch_stands_while_the_unrefunded_units_reach_its_minimum() -> None:
    units = {0: 1, 2: 2, 3: 3}

    assert still_stands(units, 4, {3: 2})
    assert not still_stands(units, 4, {3: 2, 0: 1})
    assert not still_stands({2: 2}, 2, {2: 1, 7: 4})


def test_full_cards_carry_extra_punches_and_none_below_zero() -> None:
    assert completed_cards(7, 3) == 2
    assert completed_cards(2, 3) == 0
    assert completed_cards(-4, 3) == 0
