"""Analytics, pure: the metrics the daily rollups keep, periods of a time series, KPI formulas.

A rollup row is (program, day, metric, dimension, value); the day is a date of the program's
time zone. The metrics:

- `orders` / `revenue_minor` / `refunded_minor`, dimension `MEMBER:<channel>` or
  `GUEST:<channel>` (channel '' when the store sent none): orders placed that day, their totals
  and the money refunded of them so far, in the program's currency (an order in another
  currency converted at its own rate, `convert_minor`). A refund changes the day the order was
  placed; a guest order credited at enrolment moves from GUEST to MEMBER on its day.
- `enrolments`, dimension '': members enrolled that day.
- `rewards_redeemed` / `rewards_value_minor`, dimension the reward's kind: rewards redeemed
  that day (bought with points or given), whatever happened to them since, and their value in
  the program's currency (a value in another currency, or none, counts 0).
- `ledger`, dimension `<kind>:<member account>:<counter account>`: the sum of the amounts
  posted that day on the member's side of journal transactions of that kind between those
  accounts (the counter side is its negation).

Customer-activity rows (the distinct-customer KPIs), on the first day of a month of the
program's time zone, dimension a customer's key (`customer_key`: `m:<member id>` for a member,
`g:<hash of the customer id>` for a guest):

- `customer_orders` / `customer_revenue_minor`: the customer's orders placed that month and
  their totals (program currency, gross of refunds); a guest order credited at enrolment moves
  from the guest's key to the member's;
- `customer_earnings`: the member's journal transactions that month crediting points from the
  program (PROGRAM_ISSUED, positive, not a refund);
- `customer_redemptions`: the member's journal transactions that month spending points on
  PROGRAM_REDEEMED;
- `customer_enrolled`: 1 on the member's enrolment month (the member's cohort).

`late_writes`, dimension '', on the first day of a month: how many writes changed that
month's customer-activity rows once the month could have been summarised (`is_late`). It only
grows; a closed-period summary remembers the sum over the months it read and is stale when the
sum has moved (app/services/analytics/summaries.py).
"""

from __future__ import annotations

import calendar
import hashlib
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import overload
from zoneinfo import ZoneInfo

from app.domain.ledger import Account, TransactionKind

ORDERS = "orders"
REVENUE = "revenue_minor"
REFUNDED = "refunded_minor"
ENROLMENTS = "enrolments"
LEDGER = "ledger"
MEMBER = "MEMBER"
GUEST = "GUEST"
CUSTOMER_ORDERS = "customer_orders"
CUSTOMER_REVENUE = "customer_revenue_minor"
CUSTOMER_EARNINGS = "customer_earnings"
CUSTOMER_REDEMPTIONS = "customer_redemptions"
CUSTOMER_ENROLLED = "customer_enrolled"
REWARDS_REDEEMED = "rewards_redeemed"
REWARDS_VALUE = "rewards_value_minor"
LATE_WRITES = "late_writes"
# A month is summarised once it has been over for this long everywhere: a write that began
# before the month ended (in any time zone) has committed by then.
SETTLE_DAYS = 2
CUSTOMER_METRICS = (CUSTOMER_ORDERS, CUSTOMER_REVENUE, CUSTOMER_EARNINGS, CUSTOMER_REDEMPTIONS)
# The metrics counted per day (the others are per customer and month).
DAY_METRICS = (ORDERS, REVENUE, REFUNDED, ENROLMENTS, LEDGER, REWARDS_REDEEMED, REWARDS_VALUE)
# The inactivity threshold of churn and retention, in months, when the query names none.
DEFAULT_INACTIVE_MONTHS = 3
MAX_INACTIVE_MONTHS = 36
# The most cohorts and months after enrolment a cohort table may ask for.
MAX_COHORTS = 36
MAX_COHORT_MONTHS = 36
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


class Ratio:
    """A figure's KPI that is one of its counts over another (`ratio`): declared on the class
    as `name = Ratio("numerator", "denominator")`, read as a property."""

    def __init__(self, numerator: str, denominator: str) -> None:
        self.numerator = numerator
        self.denominator = denominator

    @overload
    def __get__(self, figures: None, owner: type) -> Ratio: ...

    @overload
    def __get__(self, figures: object, owner: type | None = None) -> float | None: ...

    def __get__(self, figures: object, owner: type | None = None) -> Ratio | float | None:
        if figures is None:
            return self
        return ratio(getattr(figures, self.numerator), getattr(figures, self.denominator))


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
        return OrderFigures(*(getattr(self, name) + getattr(other, name) for name in ORDER_FIELDS))

    member_aov = Ratio("member_revenue_minor", "member_orders")
    guest_aov = Ratio("guest_revenue_minor", "guest_orders")

    @property
    def aov_lift(self) -> float | None:
        member, guest = self.member_aov, self.guest_aov
        return None if member is None or guest is None else member - guest

    @property
    def member_order_share(self) -> float | None:
        return ratio(self.member_orders, self.member_orders + self.guest_orders)


# OrderFigures' counts, in its order (the insights export's columns too).
ORDER_FIELDS = (
    "member_orders",
    "guest_orders",
    "member_revenue_minor",
    "guest_revenue_minor",
    "member_refunded_minor",
    "guest_refunded_minor",
)


@dataclass(frozen=True)
class PointMoves:
    """Points moved in a period, by what moved them."""

    earned: int = 0
    reversed: int = 0
    spent: int = 0
    expired: int = 0
    adjusted: int = 0
    pending_credited: int = 0


@dataclass(frozen=True)
class PointFigures(PointMoves):
    """Points moved in a period, and the balances at its end."""

    # At the end of the period: members' available + pending, pending alone, and the points
    # earned and expired since the program began (the breakage rate's terms).
    outstanding_at_end: int = 0
    pending_at_end: int = 0
    earned_to_end: int = 0
    expired_to_end: int = 0
    spent_to_end: int = 0

    redemption_rate = Ratio("spent", "earned")
    breakage_rate = Ratio("expired_to_end", "earned_to_end")

    @property
    def settled_breakage_rate(self) -> float | None:
        """Of the points settled (expired or spent) from the program's start to the period's
        end, the share that expired: the forecast's rate."""
        return ratio(self.expired_to_end, self.expired_to_end + self.spent_to_end)

    @property
    def forecast_breakage(self) -> float | None:
        """Outstanding points expected to expire: outstanding x the settled breakage rate."""
        rate = self.settled_breakage_rate
        return None if rate is None else self.outstanding_at_end * rate

    @property
    def forecast_redemptions(self) -> float | None:
        """Outstanding points expected to be spent: the outstanding points less the breakage."""
        breakage = self.forecast_breakage
        return None if breakage is None else self.outstanding_at_end - breakage


@dataclass(frozen=True)
class _Flows(PointMoves):
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
    return _Flows(*(sum(getattr(item, f.name) for item in items) for f in fields(_Flows)))


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
    # Distinct-customer KPIs: only for a period of whole months (None otherwise).
    customers: CustomerFigures | None = None
    # Referrals: only for a period of whole months, like the customer KPIs.
    referrals: ReferralFigures | None = None
    # Reward kind -> (rewards redeemed, their value in minor units), kinds in order.
    rewards: tuple[tuple[str, int, int], ...] = ()

    @property
    def rewards_value_minor(self) -> int:
        return sum(value for _, _, value in self.rewards)

    @property
    def return_on_investment(self) -> float | None:
        """(incremental revenue - value of rewards redeemed) / value of rewards redeemed."""
        if self.customers is None:
            return None
        incremental = self.customers.incremental_revenue_minor
        cost = self.rewards_value_minor
        return None if incremental is None or cost == 0 else (incremental - cost) / cost


def _order_figures(rows: list[RollupRow], channel: str | None) -> OrderFigures:
    values = dict.fromkeys(ORDER_FIELDS, 0)
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
            **{move.name: getattr(flows, move.name) for move in fields(PointMoves)},
            outstanding_at_end=to_end.outstanding,
            pending_at_end=to_end.pending,
            earned_to_end=to_end.earned,
            expired_to_end=to_end.expired,
            spent_to_end=to_end.spent,
        ),
        enrolments=sum(row.value for row in rows if row.metric == ENROLMENTS),
        rewards=_reward_figures(rows),
    )


def _reward_figures(rows: list[RollupRow]) -> tuple[tuple[str, int, int], ...]:
    counts: dict[str, list[int]] = {}
    for row in rows:
        if row.metric in (REWARDS_REDEEMED, REWARDS_VALUE):
            pair = counts.setdefault(row.dimension, [0, 0])
            pair[row.metric == REWARDS_VALUE] += row.value
    return tuple(
        (kind, count, value) for kind, (count, value) in sorted(counts.items()) if count or value
    )


# --- Customers: distinct counts from month-level customer-activity rows -----------------------


def member_key(member_id: int) -> str:
    return f"m:{member_id}"


def guest_key(customer_id: str) -> str:
    """A guest's key: a hash of the store's customer id (any length) that fits a dimension."""
    return "g:" + hashlib.blake2b(customer_id.encode(), digest_size=16).hexdigest()


def is_member_key(key: str) -> bool:
    return key.startswith("m:")


def month_of(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after (or before) `month`'s, kept within
    the calendar (date.min, or date.max past its end)."""
    index = month.year * 12 + month.month - 1 + count
    if index < 12:
        return date.min
    if index // 12 > date.max.year:
        return date.max
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, later: date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def is_whole_months(period: Period) -> bool:
    """Whether the period is made of whole calendar months (the customer KPIs need it)."""
    return period.start.day == 1 and (
        period.end == date.max or (period.end + timedelta(days=1)).day == 1
    )


@dataclass(frozen=True)
class Activity:
    """One customer's activity in one month (the customer-activity rows summed)."""

    orders: int = 0
    revenue_minor: int = 0
    earnings: int = 0
    redemptions: int = 0


# customer key -> month -> activity
ActivityByCustomer = dict[str, dict[date, Activity]]


def activity_of(rows: list[tuple[date, str, str, int]]) -> ActivityByCustomer:
    """(month, key, metric, value) rows gathered per customer and month."""
    fields = {
        CUSTOMER_ORDERS: "orders",
        CUSTOMER_REVENUE: "revenue_minor",
        CUSTOMER_EARNINGS: "earnings",
        CUSTOMER_REDEMPTIONS: "redemptions",
    }
    sums: dict[tuple[str, date], dict[str, int]] = {}
    for month, key, metric, value in rows:
        if metric in fields:
            counts = sums.setdefault((key, month), {})
            counts[fields[metric]] = counts.get(fields[metric], 0) + value
    activity: ActivityByCustomer = {}
    for (key, month), counts in sums.items():
        activity.setdefault(key, {})[month] = Activity(**counts)
    return activity


@dataclass(frozen=True)
class GroupFigures:
    """Members' or guests' customer KPIs over a period of whole months (formulas in
    docs/capabilities/analytics.md). S, E, N, churn: `inactive_months` is the threshold."""

    customers: int = 0  # distinct customers who ordered in the period
    orders: int = 0
    revenue_minor: int = 0
    repeat_customers: int = 0  # of them, those with 2 orders or more in the period
    at_start: int = 0  # S: ordered in the `inactive_months` months before the period
    at_end: int = 0  # E: ordered in the last `inactive_months` months up to its end
    new: int = 0  # N: of E, not in S
    churned: int = 0  # of S, not in E
    churned_revenue_minor: int = 0  # what the churned spent in the months that put them in S

    purchase_frequency = Ratio("orders", "customers")
    repeat_purchase_rate = Ratio("repeat_customers", "customers")
    average_order_value = Ratio("revenue_minor", "orders")

    @property
    def retention_rate(self) -> float | None:
        """CRR = ((E - N) / S) x 100."""
        rate = ratio(self.at_end - self.new, self.at_start)
        return None if rate is None else rate * 100

    churn_rate = Ratio("churned", "at_start")

    @property
    def expected_lifespan(self) -> float | None:
        """In periods of this length: 1 / churn rate (null without churn)."""
        rate = self.churn_rate
        return None if not rate else 1 / rate

    @property
    def lifetime_value(self) -> float | None:
        """CLV = average order value x purchase frequency x expected lifespan."""
        aov, frequency, lifespan = (
            self.average_order_value,
            self.purchase_frequency,
            self.expected_lifespan,
        )
        if aov is None or frequency is None or lifespan is None:
            return None
        return aov * frequency * lifespan


@dataclass(frozen=True)
class CustomerFigures:
    inactive_months: int
    members_enrolled: int  # members enrolled up to the period's end
    active_members: int  # members who ordered or earned points in the period
    redeeming_members: int  # members who redeemed in the period
    members: GroupFigures
    guests: GroupFigures

    @property
    def adoption_rate(self) -> float | None:
        """Ordering customers who are members / ordering customers."""
        return ratio(self.members.customers, self.members.customers + self.guests.customers)

    @property
    def incremental_revenue_minor(self) -> float | None:
        """Member lift in revenue: members who ordered x (members' revenue per ordering
        customer - guests' revenue per ordering customer); null without both sides."""
        members, guests = self.members, self.guests
        if members.customers == 0 or guests.customers == 0:
            return None
        lift = members.revenue_minor / members.customers - guests.revenue_minor / guests.customers
        return members.customers * lift

    active_member_share = Ratio("active_members", "members_enrolled")
    redeeming_member_share = Ratio("redeeming_members", "members_enrolled")


def customer_figures(
    activity: ActivityByCustomer, period: Period, inactive_months: int, members_enrolled: int
) -> CustomerFigures:
    """The customer KPIs of a period of whole months from the activity of its months and the
    `inactive_months` before."""
    first, last = month_of(period.start), month_of(period.end)
    start_window = (add_months(first, -inactive_months), add_months(first, -1))
    end_window = (add_months(last, 1 - inactive_months), last)
    groups: dict[bool, dict[str, int]] = {True: defaultdict(int), False: defaultdict(int)}
    active = redeeming = 0
    for key, months in activity.items():
        orders = revenue = earnings = redemptions = start_revenue = 0
        at_start = at_end = False
        for month, act in months.items():
            if first <= month <= last:
                orders += act.orders
                revenue += act.revenue_minor
                earnings += act.earnings
                redemptions += act.redemptions
            if start_window[0] <= month <= start_window[1]:
                at_start = at_start or act.orders > 0
                start_revenue += act.revenue_minor
            if end_window[0] <= month <= end_window[1]:
                at_end = at_end or act.orders > 0
        member = is_member_key(key)
        group = groups[member]
        if orders > 0:
            group["customers"] += 1
            group["orders"] += orders
            group["revenue_minor"] += revenue
            group["repeat_customers"] += orders >= 2
        group["at_start"] += at_start
        group["at_end"] += at_end
        group["new"] += at_end and not at_start
        if at_start and not at_end:
            group["churned"] += 1
            group["churned_revenue_minor"] += start_revenue
        if member:
            active += orders > 0 or earnings > 0
            redeeming += redemptions > 0
    return CustomerFigures(
        inactive_months=inactive_months,
        members_enrolled=members_enrolled,
        active_members=active,
        redeeming_members=redeeming,
        members=GroupFigures(**groups[True]),
        guests=GroupFigures(**groups[False]),
    )


@dataclass(frozen=True)
class CohortMonth:
    offset: int  # months after the enrolment month (0: the month itself)
    month: date
    active_members: int  # of the cohort, members who ordered that month
    revenue_minor: int  # their orders' totals that month
    cumulative_revenue_minor: int  # from the enrolment month to this one


@dataclass(frozen=True)
class Cohort:
    month: date
    members: int
    months: list[CohortMonth]

    def retention(self, month: CohortMonth) -> float | None:
        return ratio(month.active_members, self.members)

    def revenue_per_member(self, month: CohortMonth) -> float | None:
        return ratio(month.cumulative_revenue_minor, self.members)


def cohorts(
    sizes: dict[date, int],
    cells: dict[tuple[date, date], tuple[int, int]],
    first: date,
    last: date,
    length: int,
) -> list[Cohort]:
    """The cohort table: for each enrolment month of `first`..`last`, its size and, for the
    `length` months from it, (active members, revenue) of `cells[(cohort, month)]`."""
    table = []
    cohort = first
    while cohort <= last:
        running = 0
        months = []
        for offset in range(length):
            month = add_months(cohort, offset)
            if month == date.max:  # past the calendar's end
                break
            active, revenue = cells.get((cohort, month), (0, 0))
            running += revenue
            months.append(CohortMonth(offset, month, active, revenue, running))
        table.append(Cohort(cohort, sizes.get(cohort, 0), months))
        cohort = add_months(cohort, 1)
    return table


def customer_activity(
    day: date, member_id: int, kind: TransactionKind, counter: Account, amount: int
) -> tuple[tuple[date, str, str, int], ...]:
    """A journal transaction's customer-activity row, if any (`amount` on the member's side):
    an earning (points credited from PROGRAM_ISSUED, not by a refund) or a redemption (points
    spent on PROGRAM_REDEEMED)."""
    if counter is Account.PROGRAM_ISSUED and amount > 0 and kind is not TransactionKind.REFUND:
        return ((month_of(day), CUSTOMER_EARNINGS, member_key(member_id), 1),)
    if counter is Account.PROGRAM_REDEEMED and amount < 0:
        return ((month_of(day), CUSTOMER_REDEMPTIONS, member_key(member_id), 1),)
    return ()


@dataclass(frozen=True)
class ReferralFigures:
    """Referred friends of a period of whole months (formulas in docs/capabilities/analytics.md)."""

    referred: int  # friends whose referral was recorded in the period (not rejected)
    converted: int  # of them, those who ordered in the period
    revenue_minor: int  # orders' totals in the period of every friend referred by its end

    conversion_rate = Ratio("converted", "referred")


def day_start(day: date, zone: str) -> datetime:
    """The moment `day` of the time zone begins, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def is_settled(month: date, today: date) -> bool:
    """Whether a month's customer-activity rows may be summarised on UTC date `today`: the
    month has been over for SETTLE_DAYS (see `is_late`)."""
    following = add_months(month, 1)
    return following != date.max and following <= today - timedelta(days=SETTLE_DAYS)


def is_late(month: date, today: date) -> bool:
    """Whether a write on UTC date `today` to the customer-activity rows of `month` marks the
    month stale: the month is before the month of tomorrow (UTC). Every settled month is late,
    and a write that found its month not late commits days before the month settles."""
    return month < month_of(today + timedelta(days=1))
