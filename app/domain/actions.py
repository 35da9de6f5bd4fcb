"""Actions that earn points other than purchases, and how often each may earn.

Frequency periods are calendar periods in the program's time zone: a day, an ISO week (Monday
to Sunday), a month, a calendar year. `ONCE_EVER` allows one award per member, ever; the others
allow `frequency_limit` awards per period; `UNLIMITED` allows any number (an optional cap on the
points a member can earn from the rule still applies). The store's reference of an action (a
review id) never earns twice for one member and rule, whatever the frequency.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class ActionKind(StrEnum):
    ACCOUNT_CREATED = "ACCOUNT_CREATED"
    BIRTHDAY = "BIRTHDAY"
    ANNIVERSARY = "ANNIVERSARY"
    PRODUCT_REVIEW = "PRODUCT_REVIEW"
    REVIEW_WITH_PHOTO = "REVIEW_WITH_PHOTO"
    REVIEW_WITH_VIDEO = "REVIEW_WITH_VIDEO"
    SOCIAL_FOLLOW = "SOCIAL_FOLLOW"
    SOCIAL_SHARE = "SOCIAL_SHARE"
    NEWSLETTER_SIGNUP = "NEWSLETTER_SIGNUP"
    CUSTOM = "CUSTOM"


# Actions whose rules name a network (follow, share) or the store's own event name (custom).
QUALIFIED_ACTIONS = frozenset(
    {ActionKind.SOCIAL_FOLLOW, ActionKind.SOCIAL_SHARE, ActionKind.CUSTOM}
)


class Frequency(StrEnum):
    ONCE_EVER = "ONCE_EVER"
    PER_DAY = "PER_DAY"
    PER_WEEK = "PER_WEEK"
    PER_MONTH = "PER_MONTH"
    PER_YEAR = "PER_YEAR"
    UNLIMITED = "UNLIMITED"


def period_window(
    frequency: Frequency, moment: datetime, zone: str = "UTC"
) -> tuple[datetime, datetime] | None:
    """The calendar period (start inclusive, end exclusive, in UTC) holding `moment` in the
    program's time zone; None when the limit is not per period (ONCE_EVER counts over all
    time, UNLIMITED counts nothing)."""
    local = moment.astimezone(ZoneInfo(zone))
    day = local.date()
    if frequency is Frequency.PER_DAY:
        start, end = day, day + timedelta(days=1)
    elif frequency is Frequency.PER_WEEK:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif frequency is Frequency.PER_MONTH:
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    elif frequency is Frequency.PER_YEAR:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    else:
        return None
    return _midnight(start, zone), _midnight(end, zone)


def _midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def allowed_awards(frequency: Frequency, frequency_limit: int) -> int | None:
    """Awards allowed per period (or ever, for ONCE_EVER); None means no limit."""
    if frequency is Frequency.ONCE_EVER:
        return 1
    if frequency is Frequency.UNLIMITED:
        return None
    return frequency_limit
