"""Tier maths: which tier a member holds, from their history alone. Pure: no I/O, no clock.

A member's tier is a function of (the program's tier configuration, the member's qualifying
contributions, their enrolment, now, and a floor such as a paid membership's tier). Nothing
else: no stored counter is ever incremented, so a tier can always be recomputed from scratch,
and the service only stores the result (and records a change when it differs).

Metric (what qualifies), each contribution dated by the activity it comes from:

- POINTS_EARNED: points credited to PROGRAM_ISSUED (orders, actions, referrals), dated by the
  order's `placed_at` for order points and by the transaction otherwise. A refund's reversal is
  dated by its order's `placed_at`, so it reduces the period the order was in. The current
  balance never counts, and neither do adjustments (PROGRAM_ADJUSTED: corrections by staff are
  not something the member earned), nor tier or membership rewards (a tier must not feed
  itself).
- MONEY_SPENT: an order's total minus what was refunded of it, in the program's currency
  (minor units), dated by `placed_at`.
- ORDERS: one per order that is not fully refunded or cancelled, dated by `placed_at`.
- REFERRALS: one per referral made by the member that became REWARDED, dated then.

Period: LIFETIME (everything), CALENDAR_YEAR (1 January to 1 January in the program's time
zone), ANNIVERSARY_YEAR (years from the member's enrolment day, local midnight) or
ROLLING_12_MONTHS (the twelve months up to now).

Tiers are ordered by threshold (strictly rising); a member qualifies for the highest tier whose
threshold the value reaches. Upgrades are immediate. Downgrades (the effect of time passing)
follow the policy:

- NEVER: a tier once reached is kept (for LIFETIME and periods: the highest reached in any
  period; ROLLING: the highest rolling value ever reached at any contribution).
- PERIOD_END: a tier reached in a period is kept through the next one; at a period's end the
  member falls to what the closing period earned (or what the new one already earns).
- ONE_LEVEL: as PERIOD_END, but a period's end lowers the tier one level at most.
- GRACE_PERIOD: as PERIOD_END, but the tier held at a period's end is kept `grace_days` more.

ROLLING_12_MONTHS has no period end: PERIOD_END means falling as soon as the rolling value does,
GRACE_PERIOD keeps the best tier of the last `grace_days`, and ONE_LEVEL is refused.

Refunds are not the passing of time: a refunded order stops counting in its period, as if it
had been smaller (or had not happened), whatever the downgrade policy, so the tier it bought
goes too. A floor (a paid membership's tier) is a minimum while it is active.

Manual assignment: an admin may set a member's tier (`Assignment`). It is a floor too, never a
cap: while it holds, orders, refunds and period ends do not take the member below it, and the
member still earns their way above it. It holds until `locked_until` when the admin gave one;
without a lock, for exactly as long as the downgrade policy keeps a tier the member had reached
by qualifying at the assignment's instant (`reached_tier_holds_until`: NEVER or LIFETIME: until
cleared; a yearly period: through the next period, plus the grace days; ROLLING_12_MONTHS:
twelve months, plus the grace days). When it ends (or is cleared) the member holds what their
history earns at that instant, whatever the policy (ONE_LEVEL does not step down from an
assignment: the admin's decision ended, not a period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.errors import ErrorCode
from app.domain.expiry import add_months
from app.domain.validation import Checker

MAX_TIERS = 20
MAX_GRACE_DAYS = 366
MAX_TIER_MULTIPLIER = Decimal(10)
MAX_REWARD_DISCOUNT_PERCENT = 90
TIER_NAME_MAX = 64


def checked_earn_multiplier(check: Checker, text: str | None, field: list[str]) -> Decimal | None:
    """An earn multiplier as an admin writes it (a tier's, a membership plan's): above 1, at most
    MAX_TIER_MULTIPLIER, with at most 2 decimals, else a problem of `field` + earnMultiplier
    in `check`. None when none is given."""
    if text is None:
        return None
    try:
        multiplier = Decimal(text.strip())
    except InvalidOperation:
        multiplier = Decimal("NaN")
    if (
        not multiplier.is_finite()
        or not Decimal(1) < multiplier <= MAX_TIER_MULTIPLIER
        or multiplier != multiplier.quantize(Decimal("0.01"))
    ):
        check.add(
            ErrorCode.INVALID_VALUE,
            f"earnMultiplier must be in (1, {MAX_TIER_MULTIPLIER}] with at most 2 decimals",
            [*field, "earnMultiplier"],
        )
    return multiplier


NO_TIER = -1


class TierMetric(StrEnum):
    POINTS_EARNED = "POINTS_EARNED"
    MONEY_SPENT = "MONEY_SPENT"
    ORDERS = "ORDERS"
    REFERRALS = "REFERRALS"


class TierPeriod(StrEnum):
    LIFETIME = "LIFETIME"
    CALENDAR_YEAR = "CALENDAR_YEAR"
    ROLLING_12_MONTHS = "ROLLING_12_MONTHS"
    ANNIVERSARY_YEAR = "ANNIVERSARY_YEAR"


class DowngradePolicy(StrEnum):
    NEVER = "NEVER"
    PERIOD_END = "PERIOD_END"
    ONE_LEVEL = "ONE_LEVEL"
    GRACE_PERIOD = "GRACE_PERIOD"


class TierChangeReason(StrEnum):
    """Why a member's tier changed (stored in the history and in `tier.changed` events)."""

    ORDER = "ORDER"
    REFUND = "REFUND"
    REFERRAL = "REFERRAL"
    PERIOD_END = "PERIOD_END"
    RECALCULATION = "RECALCULATION"
    MEMBERSHIP = "MEMBERSHIP"
    # An admin assigned a tier or cleared an assignment.
    MANUAL = "MANUAL"
    # A manual assignment's lock (or hold) ended and the review job moved the member.
    ASSIGNMENT_ENDED = "ASSIGNMENT_ENDED"
    # A given reward was taken back (its cost no longer counts as earned).
    GIFT_CANCELLED = "GIFT_CANCELLED"


@dataclass(frozen=True)
class TierConfig:
    metric: TierMetric
    period: TierPeriod
    downgrade: DowngradePolicy
    grace_days: int
    # Thresholds of the tiers, lowest first, strictly rising; index = the tier's rank.
    thresholds: tuple[int, ...]


@dataclass(frozen=True)
class Contribution:
    at: datetime
    value: int


@dataclass(frozen=True)
class Standing:
    """Where a member stands now. Ranks index `TierConfig.thresholds`; NO_TIER (-1) is none."""

    rank: int
    # What the current period (or window, or lifetime) counts so far.
    value: int
    period_start: datetime | None
    period_end: datetime | None
    # The tier earned by activity alone (without the floor).
    earned_rank: int
    # The tier the current period's value qualifies for by itself.
    qualified_rank: int
    # The next instant the tier can change with no new activity (None: only activity changes it).
    review_at: datetime | None
    # When the held tier ends unless the member qualifies again (None: it does not end).
    holds_until: datetime | None


@dataclass(frozen=True)
class Assignment:
    """A tier set by an admin (see the module docstring); `rank` indexes the thresholds."""

    rank: int
    assigned_at: datetime
    locked_until: datetime | None = None
    cleared_at: datetime | None = None


def check_config(config: TierConfig) -> None:
    """ValueError for a configuration no service would store (the service checks first)."""
    if not config.thresholds:
        raise ValueError("a tier configuration needs at least one tier")
    if any(t < 0 for t in config.thresholds):
        raise ValueError("thresholds are not negative")
    if any(b <= a for a, b in zip(config.thresholds, config.thresholds[1:], strict=False)):
        raise ValueError("thresholds must rise strictly")
    if config.period is TierPeriod.ROLLING_12_MONTHS and config.downgrade is (
        DowngradePolicy.ONE_LEVEL
    ):
        raise ValueError("ONE_LEVEL needs period ends; ROLLING_12_MONTHS has none")
    if not 0 <= config.grace_days <= MAX_GRACE_DAYS:
        raise ValueError("grace_days out of range")


def qualifying_rank(thresholds: Sequence[int], value: int) -> int:
    """The highest rank whose threshold `value` reaches; NO_TIER when none."""
    rank = NO_TIER
    for index, threshold in enumerate(thresholds):
        if value >= threshold:
            rank = index
    return rank


def _local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def period_start(
    period: TierPeriod, moment: datetime, zone: ZoneInfo, enrolled_at: datetime
) -> datetime:
    """The start of the calendar or anniversary year containing `moment` (aware, in `zone`)."""
    local = moment.astimezone(zone)
    if period is TierPeriod.CALENDAR_YEAR:
        return datetime(local.year, 1, 1, tzinfo=zone)
    if period is TierPeriod.ANNIVERSARY_YEAR:
        anchor = _local_midnight(enrolled_at, zone)
        years = local.year - anchor.year
        start = add_months(anchor, 12 * years)
        if start > local:
            start = add_months(anchor, 12 * (years - 1))
        return start.replace(tzinfo=zone)
    raise ValueError(f"{period} has no yearly periods")


def next_period_start(
    period: TierPeriod, start: datetime, zone: ZoneInfo, enrolled_at: datetime
) -> datetime:
    if period is TierPeriod.CALENDAR_YEAR:
        return datetime(start.year + 1, 1, 1, tzinfo=zone)
    # Anniversary: from the enrolment anchor, so 29 February comes back in leap years.
    anchor = _local_midnight(enrolled_at, zone)
    years = start.year - anchor.year + 1
    return add_months(anchor, 12 * years).replace(tzinfo=zone)


def reached_tier_holds_until(
    config: TierConfig, at: datetime, zone: ZoneInfo, enrolled_at: datetime
) -> datetime | None:
    """How long the downgrade policy keeps a tier reached at `at` with no more activity
    (None: time alone never takes it)."""
    if config.downgrade is DowngradePolicy.NEVER or config.period is TierPeriod.LIFETIME:
        return None
    grace = timedelta(
        days=config.grace_days if config.downgrade is DowngradePolicy.GRACE_PERIOD else 0
    )
    if config.period is TierPeriod.ROLLING_12_MONTHS:
        return add_months(at, 12) + grace
    start = period_start(config.period, at, zone, enrolled_at)
    end = next_period_start(config.period, start, zone, enrolled_at)
    return next_period_start(config.period, end, zone, enrolled_at) + grace


def assignment_end(
    config: TierConfig, assignment: Assignment, *, zone: ZoneInfo, enrolled_at: datetime
) -> datetime | None:
    """The instant a manual assignment stops holding the member up (None: until cleared)."""
    end = assignment.locked_until
    if end is None:
        end = reached_tier_holds_until(config, assignment.assigned_at, zone, enrolled_at)
    if assignment.cleared_at is not None and (end is None or assignment.cleared_at < end):
        end = assignment.cleared_at
    return end


def _sum_between(
    contributions: Sequence[Contribution], start: datetime | None, end: datetime
) -> int:
    return sum(c.value for c in contributions if (start is None or c.at >= start) and c.at < end)


def _rolling_value(contributions: Sequence[Contribution], at: datetime) -> int:
    """What counts at `at`: each contribution from its instant until the same instant twelve
    months later (excluded), so it leaves the window at exactly one instant."""
    return sum(c.value for c in contributions if c.at <= at < add_months(c.at, 12))


def standing(
    config: TierConfig,
    contributions: Sequence[Contribution],
    *,
    enrolled_at: datetime,
    now: datetime,
    zone: ZoneInfo,
    floor_rank: int = NO_TIER,
    floor_until: datetime | None = None,
    assignment: Assignment | None = None,
) -> Standing:
    """The member's tier now (see the module docstring); contributions after `now` are ignored.
    `floor_rank` until `floor_until` (a paid membership) and an admin's `assignment` are
    minimums; the higher applies (on a tie, the longer)."""
    check_config(config)
    if assignment is not None and assignment.assigned_at <= now:
        end = assignment_end(config, assignment, zone=zone, enrolled_at=enrolled_at)
        if (end is None or now < end) and (
            assignment.rank > floor_rank
            or (
                assignment.rank == floor_rank
                and (end is None or (floor_until is not None and end > floor_until))
            )
        ):
            floor_rank, floor_until = assignment.rank, end
    past = [c for c in contributions if c.at <= now]
    thresholds = config.thresholds
    if config.period is TierPeriod.LIFETIME:
        value = sum(c.value for c in past)
        earned = qualifying_rank(thresholds, value)
        if config.downgrade is DowngradePolicy.NEVER:
            running = 0
            for c in sorted(past, key=lambda c: c.at):
                running += c.value
                earned = max(earned, qualifying_rank(thresholds, running))
        return _with_floor(
            Standing(
                earned, value, None, None, earned, qualifying_rank(thresholds, value), None, None
            ),
            floor_rank,
            floor_until,
        )
    if config.period is TierPeriod.ROLLING_12_MONTHS:
        return _with_floor(_rolling(config, past, now), floor_rank, floor_until)
    return _with_floor(_yearly(config, past, enrolled_at, now, zone), floor_rank, floor_until)


def _rolling(config: TierConfig, past: Sequence[Contribution], now: datetime) -> Standing:
    thresholds = config.thresholds
    value = _rolling_value(past, now)
    qualified = qualifying_rank(thresholds, value)
    grace = timedelta(
        days=config.grace_days if config.downgrade is DowngradePolicy.GRACE_PERIOD else 0
    )
    if config.downgrade is DowngradePolicy.NEVER:
        earned = max(
            [qualified, *(qualifying_rank(thresholds, _rolling_value(past, c.at)) for c in past)]
        )
        return Standing(earned, value, add_months(now, -12), now, earned, qualified, None, None)
    # The best rolling value at any instant of the last `grace` (it rises only at contributions).
    since = now - grace
    candidates = [since, *(c.at for c in past if since < c.at <= now)]
    earned = max(qualifying_rank(thresholds, _rolling_value(past, at)) for at in candidates)
    # The value falls when a contribution leaves the window; the tier `grace` later.
    drops = sorted(add_months(c.at, 12) + grace for c in past if add_months(c.at, 12) + grace > now)
    review_at = drops[0] if drops else None
    holds_until = None
    if earned >= 0:
        holds_until = _rolling_holds_until(config, past, now, earned, grace)
    return Standing(
        earned, value, add_months(now, -12), now, earned, qualified, review_at, holds_until
    )


def _rolling_holds_until(
    config: TierConfig, past: Sequence[Contribution], now: datetime, rank: int, grace: timedelta
) -> datetime | None:
    """With no new activity: the grace after the last instant the rolling value falls below
    the tier for good (it may already have, within the grace)."""
    threshold = config.thresholds[rank]
    leavings = sorted({add_months(c.at, 12) for c in past if add_months(c.at, 12) > now - grace})
    for leaving in leavings:
        later = [leaving, *(c.at for c in past if leaving < c.at <= now)]
        if all(_rolling_value(past, at) < threshold for at in later):
            return leaving + grace
    return None


def _yearly(
    config: TierConfig,
    past: Sequence[Contribution],
    enrolled_at: datetime,
    now: datetime,
    zone: ZoneInfo,
) -> Standing:
    thresholds = config.thresholds
    period = config.period
    earliest = min([enrolled_at, *(c.at for c in past)])
    start = period_start(period, earliest, zone, enrolled_at)
    current = period_start(period, now, zone, enrolled_at)
    # Walk the periods from the first one: each period's tier at its end depends on the one before.
    level_end = NO_TIER  # the tier held at the end of the previous period
    previous_qualified = NO_TIER  # what the previous period earned by itself
    while start < current:
        end = next_period_start(period, start, zone, enrolled_at)
        qualified = qualifying_rank(thresholds, _sum_between(past, start, end))
        retained = _retained(config.downgrade, previous_qualified, level_end)
        level_end = max(qualified, retained)
        previous_qualified = qualified
        start = end
    end = next_period_start(period, current, zone, enrolled_at)
    value = _sum_between(past, current, end)
    qualified = qualifying_rank(thresholds, value)
    grace_end = current + timedelta(days=config.grace_days)
    in_grace = config.downgrade is DowngradePolicy.GRACE_PERIOD and now < grace_end
    retained = level_end if in_grace else _retained(config.downgrade, previous_qualified, level_end)
    earned = max(qualified, retained)
    review_at: datetime | None = (
        grace_end
        if in_grace
        and retained > _retained(DowngradePolicy.PERIOD_END, previous_qualified, level_end)
        else end
    )
    holds_until: datetime | None = None
    if config.downgrade is not DowngradePolicy.NEVER and earned >= 0:
        grace = timedelta(
            days=config.grace_days if config.downgrade is DowngradePolicy.GRACE_PERIOD else 0
        )
        if qualified >= earned:
            # Earned in this period: kept through the next one.
            holds_until = next_period_start(period, end, zone, enrolled_at) + grace
        elif in_grace and retained > _retained(
            DowngradePolicy.PERIOD_END, previous_qualified, level_end
        ):
            holds_until = grace_end
        else:
            holds_until = end + grace
    if config.downgrade is DowngradePolicy.NEVER:
        review_at = None
    return Standing(earned, value, current, end, earned, qualified, review_at, holds_until)


def _retained(policy: DowngradePolicy, previous_qualified: int, level_end: int) -> int:
    """What a new period starts with, after the grace (if any) of its first days."""
    if policy is DowngradePolicy.NEVER:
        return level_end
    if policy is DowngradePolicy.ONE_LEVEL:
        return max(previous_qualified, level_end - 1)
    return previous_qualified


def _with_floor(result: Standing, floor_rank: int, floor_until: datetime | None) -> Standing:
    if floor_rank <= result.rank:
        return result
    review_at = result.review_at
    if floor_until is not None and (review_at is None or floor_until < review_at):
        review_at = floor_until
    return replace(result, rank=floor_rank, review_at=review_at, holds_until=floor_until)


def rolling_needed_to_keep(
    config: TierConfig, contributions: Sequence[Contribution], now: datetime, rank: int
) -> tuple[int, datetime | None]:
    """ROLLING_12_MONTHS: how much more must be counted, and by when, for the rolling value to
    still reach tier `rank` at the next instant it would fall below it with no new activity
    (when an old contribution leaves the window). (0, None): it never falls below (threshold 0).
    What is counted before that instant stays in the window for twelve months, so it counts
    then; a later departure may ask for more, and the status says so once it is the next one."""
    threshold = config.thresholds[rank]
    past = [c for c in contributions if c.at <= now]
    leavings = sorted({add_months(c.at, 12) for c in past if add_months(c.at, 12) > now})
    for leaving in leavings:
        value = _rolling_value(past, leaving)
        if value < threshold:
            return threshold - value, leaving
    if _rolling_value(past, now) < threshold:
        return threshold - _rolling_value(past, now), now
    return 0, None


def needed_for(thresholds: Sequence[int], rank: int, value: int) -> int:
    """How much more of the metric reaches tier `rank` in the current period."""
    return max(thresholds[rank] - value, 0)


def discounted_cost(cost_points: int, discount_percent: int) -> int:
    """A reward's cost after a tier's discount: rounded up, never below 1 for a cost of 1+."""
    if cost_points <= 0:
        return cost_points
    cost = -(-cost_points * (100 - discount_percent) // 100)
    return max(cost, 1)
