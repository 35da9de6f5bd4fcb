"""Challenges and badges: the rules, without I/O.

A challenge counts one kind of thing a member does towards a target within a window:

    ORDER_COUNT     orders recorded (placed in the window)
    SPEND           money of those orders, in the program's currency (minor units)
    ACTION_COUNT    actions of one kind (and qualifier, if the challenge names one) that earned
    REFERRAL_COUNT  referrals the member made that completed (REWARDED) in the window

Its window is [startsAt, endsAt) (endsAt optional). A MONTHLY challenge is done anew each
calendar month of the program's time zone inside that window ("3 orders in October", "refer a
friend this month"): progress is kept per member and period, the period's key being "2026-10"
(a challenge without recurrence has the one period "ALL"). A period is completed once: the
completion gives the challenge's points (through the ledger, under the grant key of member,
challenge and period) and/or its badge.

A badge is earned once per member: by a challenge, or by a milestone (FIRST_ORDER,
ORDER_COUNT n, MEMBER_FOR_DAYS n).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from app.domain.actions import Frequency, period_window

# The period key of a challenge without recurrence.
WHOLE_WINDOW = "ALL"


class ChallengeGoal(StrEnum):
    ORDER_COUNT = "ORDER_COUNT"
    SPEND = "SPEND"
    ACTION_COUNT = "ACTION_COUNT"
    REFERRAL_COUNT = "REFERRAL_COUNT"


class ChallengeRecurrence(StrEnum):
    NONE = "NONE"
    MONTHLY = "MONTHLY"


class ChallengeStatus(StrEnum):
    ACTIVE = "ACTIVE"
    # Counts nothing until resumed; progress made stays.
    PAUSED = "PAUSED"
    # Final: counts nothing, no longer shown to members; completions stay.
    ARCHIVED = "ARCHIVED"


class BadgeMilestone(StrEnum):
    # Given only by challenges that name it.
    NONE = "NONE"
    FIRST_ORDER = "FIRST_ORDER"
    ORDER_COUNT = "ORDER_COUNT"
    MEMBER_FOR_DAYS = "MEMBER_FOR_DAYS"


@dataclass(frozen=True)
class ChallengePeriod:
    key: str
    # Start inclusive, end exclusive, in UTC; `end` None: the challenge has no end.
    start: datetime
    end: datetime | None


def period_of(
    recurrence: ChallengeRecurrence,
    starts_at: datetime,
    ends_at: datetime | None,
    moment: datetime,
    zone: str,
) -> ChallengePeriod | None:
    """The challenge's period holding `moment`, or None when `moment` is outside its window.
    A monthly period is the calendar month in `zone`, cut to the window."""
    if moment < starts_at or (ends_at is not None and moment >= ends_at):
        return None
    if recurrence is ChallengeRecurrence.NONE:
        return ChallengePeriod(key=WHOLE_WINDOW, start=starts_at, end=ends_at)
    window = period_window(Frequency.PER_MONTH, moment, zone)
    assert window is not None
    month_start, month_end = window
    local = moment.astimezone(ZoneInfo(zone))
    return ChallengePeriod(
        key=f"{local.year:04d}-{local.month:02d}",
        start=max(month_start, starts_at),
        end=month_end if ends_at is None else min(month_end, ends_at),
    )


def grant_key(challenge_id: int, member_id: int, period_key: str) -> str:
    """The idempotency key of a completion's grant: one per member, challenge and period."""
    return f"challenge:{challenge_id}:member:{member_id}:period:{period_key}"


def action_counts(
    challenge_action: str | None,
    challenge_qualifier: str,
    action: str,
    qualifier: str,
) -> bool:
    """Whether an action of `action` (with `qualifier`) counts for the challenge: the same kind,
    and the challenge's qualifier when it names one (a review with a photo is its own kind,
    REVIEW_WITH_PHOTO)."""
    if challenge_action != action:
        return False
    return not challenge_qualifier or challenge_qualifier == qualifier


def refunded_share(amount: int, total_minor: int, refunded_minor: int) -> int:
    """What a contribution of `amount` is worth once `refunded_minor` of the order's
    `total_minor` has been refunded (rounded down)."""
    if total_minor <= 0:
        return 0
    kept = max(total_minor - refunded_minor, 0)
    return amount * kept // total_minor
