"""When points expire, and the program's calendar that dates them.

Three policies, per program:

- `NONE`: points never expire.
- `LOT_LIFETIME`: every lot expires a fixed time (days or calendar months) after it became
  available (when it matured, for purchase points), optionally rounded up to the end of that
  month or year in the program's time zone. Spending always takes the lots that expire first.
- `INACTIVITY`: a member with no earning and no spending for N months loses every available
  point they still hold.

Turning expiry on is never retroactive: a lot that became available before, and a member idle
since before, count from the moment expiry was turned on (`since`). Changing the lifetime later
re-dates only lots that become available afterwards; turning expiry off clears the dates of
every unspent lot, so turning it on again starts a fresh count.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MAX_LIFETIME_DAYS = 36_600
MAX_LIFETIME_MONTHS = 1_200
MAX_WARNING_DAYS = 365


class ExpiryPolicy(StrEnum):
    NONE = "NONE"
    LOT_LIFETIME = "LOT_LIFETIME"
    INACTIVITY = "INACTIVITY"


class LifetimeUnit(StrEnum):
    DAYS = "DAYS"
    MONTHS = "MONTHS"


class RoundTo(StrEnum):
    NONE = "NONE"
    END_OF_MONTH = "END_OF_MONTH"
    END_OF_YEAR = "END_OF_YEAR"


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone; ValueError for a name that is not one."""
    if name not in _zone_names():
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Stockholm")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - listed but not loadable
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Stockholm") from exc


_ZONE_NAMES: frozenset[str] = frozenset()


def _zone_names() -> frozenset[str]:
    global _ZONE_NAMES
    if not _ZONE_NAMES:
        _ZONE_NAMES = frozenset(available_timezones()) | {"UTC"}
    return _ZONE_NAMES


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock time `months` calendar months later (or earlier), the day clamped
    to the month's length: 31 January plus one month is 28 or 29 February."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class ExpirySettings:
    policy: ExpiryPolicy = ExpiryPolicy.NONE
    lifetime: int = 0
    unit: LifetimeUnit = LifetimeUnit.MONTHS
    round_to: RoundTo = RoundTo.NONE
    inactivity_months: int = 0
    since: datetime | None = None
    zone: str = "UTC"
    warning_days: int = 0

    def lot_expires_at(self, available_at: datetime) -> datetime | None:
        """When a lot that became available at `available_at` expires; None if it never does."""
        if self.policy is not ExpiryPolicy.LOT_LIFETIME or self.since is None:
            return None
        start = max(available_at, self.since).astimezone(ZoneInfo(self.zone))
        if self.unit is LifetimeUnit.DAYS:
            # Aware arithmetic keeps the wall-clock time: a daylight-saving change moves no
            # deadline off its hour.
            end = start + timedelta(days=self.lifetime)
        else:
            end = add_months(start, self.lifetime)
        if self.round_to is RoundTo.END_OF_MONTH:
            end = _local_midnight(add_months(end.replace(day=1), 1).date(), self.zone)
        elif self.round_to is RoundTo.END_OF_YEAR:
            end = _local_midnight(date(end.year + 1, 1, 1), self.zone)
        return end.astimezone(UTC)

    def inactivity_deadline(self, last_activity_at: datetime | None) -> datetime | None:
        """When an idle member's points expire; None under the other policies."""
        if self.policy is not ExpiryPolicy.INACTIVITY or self.since is None:
            return None
        start = self.since if last_activity_at is None else max(last_activity_at, self.since)
        local = start.astimezone(ZoneInfo(self.zone))
        return add_months(local, self.inactivity_months).astimezone(UTC)

    def idle_since_before(self, now: datetime) -> datetime:
        """A bound on the last activity of members due for inactivity expiry at `now`: every
        due member was last active before it (callers check each candidate exactly)."""
        local = now.astimezone(ZoneInfo(self.zone))
        # Clamping makes month arithmetic uneven by up to three days; the margin covers it.
        return (add_months(local, -self.inactivity_months) + timedelta(days=4)).astimezone(UTC)


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))


def month_day(day: date) -> int:
    """The key the birthday and anniversary jobs look members up by: 14 March is 314."""
    return day.month * 100 + day.day


def celebrated_month_days(day: date) -> list[int]:
    """Month-days celebrated on `day`: on 28 February of a common year, 29 February too."""
    keys = [month_day(day)]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        keys.append(229)
    return keys


def local_date(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()
