"""Punch cards: which purchases punch a card, and whether a refunded purchase still does.

A card names SKUs and categories; an order line qualifies when its SKU or its category is one of
them. `minimum_per` says how a purchase punches:

- LINE: each qualifying line with at least `minimum_quantity` units adds one punch, recorded on
  that line;
- ORDER: the qualifying lines of an order together add one punch when their units reach
  `minimum_quantity`; the punch is recorded on the first qualifying line and stands on all of
  them.

A punch remembers the units it stands on, per line, and the minimum it was given under; after a
refund it stays while the units left unrefunded still reach that minimum, and is removed
otherwise. (A refund by amount refunds no units until the whole total is refunded, so it
removes punches only then.)

Counting: `punches` is the member's current card. A punch adds one; a full card (punches >=
the card's size) gives the card's reward and starts a new card, extra punches carrying over.
A removed punch comes off the current card. When the current card holds fewer than are removed,
the removed punches were part of a card that already gave its reward, and the program's
`PunchCardRefundPolicy` decides:

- KEEP_REWARD: the reward stays; the current card goes below zero, so the next qualifying
  purchases fill the gap before they count towards a new card.
- REVOKE_UNUSED_REWARD: while the current card is below zero, the card's newest reward is
  cancelled if its code is unused, and the current card gets back the punches that reward
  took; a used code stays, and the rest is as with KEEP_REWARD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class PunchCardRefundPolicy(StrEnum):
    KEEP_REWARD = "KEEP_REWARD"
    REVOKE_UNUSED_REWARD = "REVOKE_UNUSED_REWARD"


class MinimumPer(StrEnum):
    LINE = "LINE"
    ORDER = "ORDER"


class PunchRewardStatus(StrEnum):
    GIVEN = "GIVEN"
    # The reward could not be given (out of stock, inactive): the card's punches were used.
    FAILED = "FAILED"
    # A refund took the punches back and the unused reward was cancelled.
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class CardRule:
    skus: frozenset[str]
    categories: frozenset[str]
    minimum_quantity: int
    minimum_per: MinimumPer


@dataclass(frozen=True)
class PurchasedLine:
    index: int
    sku: str
    category: str | None
    quantity: int


@dataclass(frozen=True)
class Punch:
    """One punch: recorded on `line_index`, standing on `units` per line index."""

    line_index: int
    units: dict[int, int]


def qualifies(rule: CardRule, line: PurchasedLine) -> bool:
    return line.sku in rule.skus or (line.category is not None and line.category in rule.categories)


def punches_of(rule: CardRule, lines: Sequence[PurchasedLine]) -> list[Punch]:
    """The punches an order's lines give on a card."""
    qualifying = [line for line in lines if qualifies(rule, line)]
    if rule.minimum_per is MinimumPer.LINE:
        return [
            Punch(line_index=line.index, units={line.index: line.quantity})
            for line in qualifying
            if line.quantity >= rule.minimum_quantity
        ]
    units = {line.index: line.quantity for line in qualifying}
    if not qualifying or sum(units.values()) < rule.minimum_quantity:
        return []
    return [Punch(line_index=qualifying[0].index, units=units)]


def still_stands(units: Mapping[int, int], minimum: int, refunded: Mapping[int, int]) -> bool:
    """Whether a punch still stands once `refunded` units per line are refunded in total."""
    left = sum(max(quantity - refunded.get(index, 0), 0) for index, quantity in units.items())
    return left >= minimum


def completed_cards(punches: int, size: int) -> int:
    """How many full cards `punches` on the current card make (none while below zero)."""
    return max(punches, 0) // size
