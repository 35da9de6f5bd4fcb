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
from bisect import bisect_right
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
        try:
            following = next_period(start, granularity)
        except OverflowError:  # the period holding 9999-12-31
            yield Period(max(start, first), last)
            return
        yield Period(max(start, first), min(following - timedelta(days=1), last))
        start = following


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, None when the denominator is 0 (no data is not zero)."""
    return None if denominator == 0 else numerator / denominator


# --- KPIs from rollup rows ----------------------------------------------------------------------

_OUTSTANDING = frozenset({Account.MEMBER_AVAILABLE.value, Account.MEMBER_PENDING.value})


def on_accounts(dimension: str, amount: int, accounts: frozenset[str]) -> int:
    """What a ledger rollup row (`amount` on the member's side, its negation on the counter
    side) adds to the sum of `accounts`' entries."""
    _, member_account, counter = split_ledger_dimension(dimension)
    return (amount if member_account in accounts else 0) - (amount if counter in accounts else 0)


@dataclass(frozen=True)
class OrderFigures:
    """Orders placed in a period, members' against guests', money in the program's currency."""

    member_orders: int = 0
    guest_orders: int = 0
    member_revenue_minor: int = 0
    guest_revenue_minor: int = 0
    member_refunded_minor: int = 0
    guest_refunded_minor: int = 0

    def plus(self, other: OrderFigures) -> OrderFigures:
        return OrderFigures(*(getattr(self, name) + getattr(other, name) for name in _ORDER_FIELDS))

    @property
    def member_aov(self) -> float | None:
        return ratio(self.member_revenue_minor, self.member_orders)

    @property
    def guest_aov(self) -> float | None:
        return ratio(self.guest_revenue_minor, self.guest_orders)

    @property
    def aov_lift(self) -> float | None:
        member, guest = self.member_aov, self.guest_aov
        return None if member is None or guest is None else member - guest

    @property
    def member_order_share(self) -> float | None:
        return ratio(self.member_orders, self.member_orders + self.guest_orders)


_ORDER_FIELDS = (
    "member_orders",
    "guest_orders",
    "member_revenue_minor",
    "guest_revenue_minor",
    "member_refunded_minor",
    "guest_refunded_minor",
)


@dataclass(frozen=True)
class PointFigures:
    """Points moved in a period, and the balances at its end."""

    earned: int = 0
    reversed: int = 0
    spent: int = 0
    expired: int = 0
    adjusted: int = 0
    pending_credited: int = 0
    # At the end of the period: members' available + pending, pending alone, and the points
    # earned and expired since the program began (the breakage rate's terms).
    outstanding_at_end: int = 0
    pending_at_end: int = 0
    earned_to_end: int = 0
    expired_to_end: int = 0

    @property
    def redemption_rate(self) -> float | None:
        return ratio(self.spent, self.earned)

    @property
    def breakage_rate(self) -> float | None:
        return ratio(self.expired_to_end, self.earned_to_end)


@dataclass(frozen=True)
class _Flows:
    earned: int = 0
    reversed: int = 0
    spent: int = 0
    expired: int = 0
    adjusted: int = 0
    pending_credited: int = 0
    outstanding: int = 0
    pending: int = 0


def _flows(dimension: str, amount: int) -> _Flows:
    """What one ledger rollup row moves (formulas in docs/capabilities/analytics.md)."""
    kind, member_account, counter = split_ledger_dimension(dimension)
    issued = -on_accounts(dimension, amount, frozenset({Account.PROGRAM_ISSUED.value}))
    is_refund = kind == TransactionKind.REFUND.value
    return _Flows(
        earned=0 if is_refund else issued,
        reversed=-issued if is_refund else 0,
        spent=on_accounts(dimension, amount, frozenset({Account.PROGRAM_REDEEMED.value})),
        expired=on_accounts(dimension, amount, frozenset({Account.PROGRAM_EXPIRED.value})),
        adjusted=-on_accounts(dimension, amount, frozenset({Account.PROGRAM_ADJUSTED.value})),
        pending_credited=amount
        if member_account == Account.MEMBER_PENDING.value
        and counter == Account.PROGRAM_ISSUED.value
        and not is_refund
        else 0,
        outstanding=on_accounts(dimension, amount, _OUTSTANDING),
        pending=on_accounts(dimension, amount, frozenset({Account.MEMBER_PENDING.value})),
    )


def _sum_flows(items: list[_Flows]) -> _Flows:
    return _Flows(
        *(
            sum(getattr(item, name) for item in items)
            for name in (
                "earned",
                "reversed",
                "spent",
                "expired",
                "adjusted",
                "pending_credited",
                "outstanding",
                "pending",
            )
        )
    )


@dataclass(frozen=True)
class RollupRow:
    day: date
    metric: str
    dimension: str
    value: int


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    orders: OrderFigures
    points: PointFigures
    enrolments: int


def _order_figures(rows: list[RollupRow], channel: str | None) -> OrderFigures:
    values = dict.fromkeys(_ORDER_FIELDS, 0)
    names = {ORDERS: "orders", REVENUE: "revenue_minor", REFUNDED: "refunded_minor"}
    for row in rows:
        if row.metric not in names:
            continue
        member, row_channel = split_order_dimension(row.dimension)
        if channel is not None and row_channel != channel:
            continue
        values[f"{'member' if member else 'guest'}_{names[row.metric]}"] += row.value
    return OrderFigures(**values)


def figures(
    opening: list[RollupRow],
    rows: list[RollupRow],
    first: date,
    last: date,
    granularity: Granularity,
    channel: str | None = None,
) -> tuple[list[PeriodFigures], PeriodFigures]:
    """The series of periods of `first`..`last` and the totals over the whole range, from the
    rollup rows of those days and the ledger rows before `first` (`opening`: the balances at
    the start)."""
    ledger_before = _sum_flows(
        [_flows(r.dimension, r.value) for r in opening if r.metric == LEDGER]
    )
    spans = list(periods(first, last, granularity))
    starts = [span.start for span in spans]
    by_period: list[list[RollupRow]] = [[] for _ in spans]
    for row in rows:
        if first <= row.day <= last:
            by_period[bisect_right(starts, row.day) - 1].append(row)
    running = ledger_before
    series: list[PeriodFigures] = []
    for period, inside in zip(spans, by_period, strict=True):
        flows = _sum_flows([_flows(r.dimension, r.value) for r in inside if r.metric == LEDGER])
        running = _sum_flows([running, flows])
        series.append(_period_figures(period, inside, flows, running, channel))
    everything = _sum_flows([_flows(r.dimension, r.value) for r in rows if r.metric == LEDGER])
    totals = _period_figures(
        Period(first, last), rows, everything, _sum_flows([ledger_before, everything]), channel
    )
    return series, totals


def _period_figures(
    period: Period, rows: list[RollupRow], flows: _Flows, to_end: _Flows, channel: str | None
) -> PeriodFigures:
    return PeriodFigures(
        period=period,
        orders=_order_figures(rows, channel),
        points=PointFigures(
            earned=flows.earned,
            reversed=flows.reversed,
            spent=flows.spent,
            expired=flows.expired,
            adjusted=flows.adjusted,
            pending_credited=flows.pending_credited,
            outstanding_at_end=to_end.outstanding,
            pending_at_end=to_end.pending,
            earned_to_end=to_end.earned,
            expired_to_end=to_end.expired,
        ),
        enrolments=sum(row.value for row in rows if row.metric == ENROLMENTS),
    )
