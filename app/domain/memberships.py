"""Paid memberships: the lifecycle, without I/O.

The store bills the member; Laurel is told what happened (started, renewed, cancelled, a
payment failed) and keeps the benefits: a tier floor, an earning multiplier, perks, a welcome
reward. Every membership carries `ends_at`, the instant it ends if nothing else is reported:

- TRIALING: at the end of the trial (no grace: a trial that is not paid for just ends).
- ACTIVE: at the end of the paid period plus the plan's grace days (a renewal reported a little
  late keeps the benefits without a gap), or at the period's end when cancelled AT_PERIOD_END.
- PAST_DUE (a payment failed): the plan's grace days after the failure, never before the end of
  the period already paid for.

A membership is active while it has not ended and `ends_at` is in the future: its benefits stop
on time even before the `memberships` job records the end. A member holds at most one membership
of a plan at a time; the trial and the welcome reward come with the first membership of a plan
only, once ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.expiry import add_months

MAX_TRIAL_DAYS = 366
MAX_GRACE_DAYS = 90
MAX_PERKS = 20
PERK_MAX = 200
PLAN_CODE_MAX = 64


class BillingInterval(StrEnum):
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


class MembershipStatus(StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    ENDED = "ENDED"


class CancelMode(StrEnum):
    AT_PERIOD_END = "AT_PERIOD_END"
    NOW = "NOW"


class EndReason(StrEnum):
    CANCELLED = "CANCELLED"
    TRIAL_ENDED = "TRIAL_ENDED"
    NOT_RENEWED = "NOT_RENEWED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    ends_at: datetime


def period_end(start: datetime, interval: BillingInterval) -> datetime:
    return add_months(start, 1 if interval is BillingInterval.MONTHLY else 12)


def first_period(
    now: datetime, interval: BillingInterval, trial_days: int, grace_days: int
) -> tuple[MembershipStatus, Period]:
    """A new membership: a trial when it has trial days, else a first paid period."""
    if trial_days > 0:
        end = now + timedelta(days=trial_days)
        return MembershipStatus.TRIALING, Period(now, end, end)
    end = period_end(now, interval)
    return MembershipStatus.ACTIVE, Period(now, end, end + timedelta(days=grace_days))


def renewed_period(
    current_end: datetime, now: datetime, interval: BillingInterval, grace_days: int
) -> Period:
    """The next paid period: from the end of the current one, or from now when that is past
    (a lapsed membership renewed late starts again, it does not pay for the gap)."""
    start = max(current_end, now)
    end = period_end(start, interval)
    return Period(start, end, end + timedelta(days=grace_days))


def past_due_ends_at(current_end: datetime, now: datetime, grace_days: int) -> datetime:
    return max(current_end, now + timedelta(days=grace_days))


def end_reason(status: MembershipStatus, cancel_at_period_end: bool) -> EndReason:
    if cancel_at_period_end:
        return EndReason.CANCELLED
    if status is MembershipStatus.TRIALING:
        return EndReason.TRIAL_ENDED
    if status is MembershipStatus.PAST_DUE:
        return EndReason.PAYMENT_FAILED
    return EndReason.NOT_RENEWED
