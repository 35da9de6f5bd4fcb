"""The expiry calendar (app/domain/expiry.py): lifetimes, rounding, inactivity, celebrations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.expiry import (
    ExpiryPolicy,
    ExpirySettings,
    LifetimeUnit,
    RoundTo,
    add_months,
    celebrated_month_days,
    local_date,
    month_day,
    time_zone,
)

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")


def lifetime(
    amount: int,
    unit: LifetimeUnit = LifetimeUnit.MONTHS,
    round_to: RoundTo = RoundTo.NONE,
    zone: str = "UTC",
    since: datetime = SINCE,
) -> ExpirySettings:
    return ExpirySettings(
        policy=ExpiryPolicy.LOT_LIFETIME,
        lifetime=amount,
        unit=unit,
        round_to=round_to,
        since=since,
        zone=zone,
    )


def inactivity(months: int, zone: str = "UTC", since: datetime = SINCE) -> ExpirySettings:
    return ExpirySettings(
        policy=ExpiryPolicy.INACTIVITY, inactivity_months=months, since=since, zone=zone
    )


def test_a_lifetime_in_days_keeps_the_time_of_day() -> None:
    settings = lifetime(30, LifetimeUnit.DAYS)

    expires = settings.lot_expires_at(datetime(2026, 1, 10, 12, 30, tzinfo=UTC))

    assert expires == datetime(2026, 2, 9, 12, 30, tzinfo=UTC)
    assert expires is not None and expires.tzinfo is UTC


def test_a_lifetime_in_days_keeps_the_local_hour_across_daylight_saving() -> None:
    settings = lifetime(30, LifetimeUnit.DAYS, zone="Europe/Stockholm")
    # 12:00 in Stockholm in winter (UTC+1); 30 days later it is summer time (UTC+2).
    available = datetime(2026, 3, 20, 12, 0, tzinfo=STOCKHOLM)

    expires = settings.lot_expires_at(available)

    assert expires == datetime(2026, 4, 19, 10, 0, tzinfo=UTC)
    assert expires is not None and expires.astimezone(STOCKHOLM).hour == 12


def test_a_lifetime_in_months_clamps_to_the_end_of_a_shorter_month() -> None:
    settings = lifetime(1)

    common = settings.lot_expires_at(datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    leap = settings.lot_expires_at(datetime(2028, 1, 31, 10, 0, tzinfo=UTC))
    thirteen = lifetime(13).lot_expires_at(datetime(2026, 1, 31, 10, 0, tzinfo=UTC))

    assert common == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert leap == datetime(2028, 2, 29, 10, 0, tzinfo=UTC)
    assert thirteen == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


def test_end_of_month_rounding_is_the_next_local_midnight_in_the_programs_zone() -> None:
    # 1 February 02:00 UTC is still 31 January in New York: a month later is 28 February
    # there, so the lot lasts to the end of February, local time.
    available = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)

    in_new_york = lifetime(1, round_to=RoundTo.END_OF_MONTH, zone="America/New_York")
    in_utc = lifetime(1, round_to=RoundTo.END_OF_MONTH)

    assert in_new_york.lot_expires_at(available) == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert in_utc.lot_expires_at(available) == datetime(2026, 4, 1, tzinfo=UTC)


def test_end_of_month_rounding_of_days_in_a_summer_time_zone() -> None:
    settings = lifetime(10, LifetimeUnit.DAYS, RoundTo.END_OF_MONTH, zone="Europe/Stockholm")

    expires = settings.lot_expires_at(datetime(2026, 6, 25, 12, 0, tzinfo=UTC))

    # 5 July + rounding: midnight starting 1 August in Stockholm (UTC+2).
    assert expires == datetime(2026, 7, 31, 22, 0, tzinfo=UTC)
    assert expires is not None and local_date(expires, "Europe/Stockholm") == date(2026, 8, 1)


def test_end_of_year_rounding_is_local_new_year() -> None:
    settings = lifetime(12, round_to=RoundTo.END_OF_YEAR, zone="Europe/Stockholm")

    expires = settings.lot_expires_at(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    # 31 December 23:30 UTC is already New Year's Day in Stockholm: the next year's end.
    late = settings.lot_expires_at(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))

    assert expires == datetime(2027, 12, 31, 23, 0, tzinfo=UTC)
    assert late == datetime(2028, 12, 31, 23, 0, tzinfo=UTC)


def test_no_expiry_without_the_lot_lifetime_policy_or_before_it_is_turned_on() -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)

    assert ExpirySettings().lot_expires_at(moment) is None
    assert inactivity(6).lot_expires_at(moment) is None
    assert ExpirySettings(ExpiryPolicy.LOT_LIFETIME, lifetime=3).lot_expires_at(moment) is None


def test_a_lot_from_before_expiry_was_turned_on_counts_from_since() -> None:
    settings = lifetime(30, LifetimeUnit.DAYS, since=datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    ancient = settings.lot_expires_at(datetime(2019, 7, 4, tzinfo=UTC))
    later = settings.lot_expires_at(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))

    assert ancient == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    assert later == datetime(2026, 4, 4, 8, 0, tzinfo=UTC)


def test_the_inactivity_deadline_counts_from_the_last_activity_or_since() -> None:
    settings = inactivity(6, since=datetime(2026, 3, 31, 12, 0, tzinfo=UTC))

    never_active = settings.inactivity_deadline(None)
    active_before = settings.inactivity_deadline(datetime(2020, 1, 1, tzinfo=UTC))
    active_after = settings.inactivity_deadline(datetime(2026, 8, 31, 12, 0, tzinfo=UTC))

    assert never_active == datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
    assert active_before == never_active
    assert active_after == datetime(2027, 2, 28, 12, 0, tzinfo=UTC)


def test_the_inactivity_deadline_keeps_the_local_hour_across_daylight_saving() -> None:
    settings = inactivity(3, zone="America/New_York")
    active = datetime(2026, 1, 15, 9, 0, tzinfo=NEW_YORK)

    deadline = settings.inactivity_deadline(active)

    assert deadline is not None
    assert deadline.astimezone(NEW_YORK) == datetime(2026, 4, 15, 9, 0, tzinfo=NEW_YORK)
    assert deadline == datetime(2026, 4, 15, 13, 0, tzinfo=UTC)


def test_no_inactivity_deadline_under_other_policies() -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)

    assert lifetime(6).inactivity_deadline(moment) is None
    assert ExpirySettings().inactivity_deadline(moment) is None
    assert (
        ExpirySettings(ExpiryPolicy.INACTIVITY, inactivity_months=6).inactivity_deadline(moment)
        is None
    )


@pytest.mark.parametrize("months", [1, 2, 6, 12, 13, 25])
def test_every_member_due_at_a_moment_was_last_active_before_the_bound(months: int) -> None:
    settings = inactivity(months, zone="Europe/Stockholm", since=datetime(2000, 1, 1, tzinfo=UTC))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(0, 800, 7):
        now = start + timedelta(days=step, hours=step % 24)
        bound = settings.idle_since_before(now)
        # The latest last activity that is due at `now`, found by scanning days around it.
        for back in range(-5, 6):
            active = add_months(now, -months) + timedelta(days=back)
            deadline = settings.inactivity_deadline(active)
            assert deadline is not None
            if deadline <= now:
                assert active < bound, (months, now, active)


def test_add_months_clamps_moves_backwards_and_crosses_years() -> None:
    assert add_months(datetime(2026, 1, 31, 7, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 7, tzinfo=UTC
    )
    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), -12) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), 48) == datetime(2032, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 5, 17, tzinfo=UTC), 0) == datetime(2026, 5, 17, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 1, tzinfo=UTC), -1) == datetime(2025, 12, 1, tzinfo=UTC)


def test_month_days_and_the_29_february_birthday() -> None:
    assert month_day(date(2026, 3, 14)) == 314
    assert month_day(date(2026, 12, 31)) == 1231
    assert celebrated_month_days(date(2027, 2, 28)) == [228, 229]
    assert celebrated_month_days(date(2100, 2, 28)) == [228, 229]  # 2100 is not a leap year
    assert celebrated_month_days(date(2028, 2, 28)) == [228]
    assert celebrated_month_days(date(2000, 2, 28)) == [228]  # 2000 is
    assert celebrated_month_days(date(2028, 2, 29)) == [229]
    assert celebrated_month_days(date(2027, 3, 1)) == [301]


def test_local_date_is_the_date_in_the_programs_zone() -> None:
    moment = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)

    assert local_date(moment, "UTC") == date(2026, 7, 1)
    assert local_date(moment, "America/New_York") == date(2026, 6, 30)
    assert local_date(datetime(2026, 6, 30, 13, 0, tzinfo=UTC), "Pacific/Auckland") == date(
        2026, 7, 1
    )


@pytest.mark.parametrize("name", ["UTC", "Europe/Stockholm", "America/New_York", "Asia/Kolkata"])
def test_iana_time_zones_are_accepted(name: str) -> None:
    assert str(time_zone(name)) == name


@pytest.mark.parametrize(
    "name",
    ["", "Mars/Olympus_Mons", "europe/stockholm", "Europe/Stockholm ", "../etc/passwd", "+02:00"],
)
def test_anything_else_is_refused_as_a_time_zone(name: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone"):
        time_zone(name)
