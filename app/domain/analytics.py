"""Analytics, pure: the metrics the daily rollups keep, periods of a time series, KPI formulas.

A rollup row is (program, day, metric, dimension, value); the day is a date of the program's
time zone. The metrics:

- `orders` / `revenue_minor` / `refunded_minor`, dimension `MEMBER:<channel>` or
  `GUEST:<channel>` (channel '' when the store sent none): orders placed that day, their totals
  and the money refunded of them so far, in the program's currency (an order in another
  currency converted at its own rate, `convert_minor`). A refund changes the day the order was
  placed; a guest order credited at enrolment moves from GUEST to MEMBER on its day.
- `enrolments`, dimension '': members enrolled that day.
- `ledger`, dimension `<kind>:<member account>:<counter account>`: the sum of the amounts
  posted that day on the member's side of journal transactions of that kind between those
  accounts (the counter side is its negation).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.domain.ledger import Account, TransactionKind

ORDERS = "orders"
REVENUE = "revenue_minor"
REFUNDED = "refunded_minor"
ENROLMENTS = "enrolments"
LEDGER = "ledger"
MEMBER = "MEMBER"
GUEST = "GUEST"
# The longest range a programInsights query may ask for, and its most periods.
MAX_RANGE_DAYS = 3 * 366 + 1


def order_dimension(member: bool, channel: str | None) -> str:
    return f"{MEMBER if member else GUEST}:{channel or ''}"


def split_order_dimension(dimension: str) -> tuple[bool, str | None]:
    who, _, channel = dimension.partition(":")
    return who == MEMBER, channel or None


def ledger_dimension(kind: TransactionKind, member_account: Account, counter: Account) -> str:
    return f"{kind.value}:{member_account.value}:{counter.value}"


def split_ledger_dimension(dimension: str) -> tuple[str, str, str]:
    kind, member_account, counter = dimension.split(":")
    return kind, member_account, counter


class Granularity(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def period_start(day: date, granularity: Granularity) -> date:
    """The first day of the period holding `day`: weeks start on Monday (ISO)."""
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    days = calendar.monthrange(start.year, start.month)[1]
    return start + timedelta(days=days)


@dataclass(frozen=True)
class Period:
    """Days `start` to `end` inclusive: a whole period, cut at the range's edges."""

    start: date
    end: date


def periods(first: date, last: date, granularity: Granularity) -> Iterator[Period]:
    """The periods covering the days `first`..`last` (inclusive), the first and last cut to
    the range."""
    start = period_start(first, granularity)
    while start <= last:
        following = next_period(start, granularity)
        yield Period(max(start, first), min(following - timedelta(days=1), last))
        start = following


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, None when the denominator is 0 (no data is not zero)."""
    return None if denominator == 0 else numerator / denominator
