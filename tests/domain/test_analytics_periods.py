"""Periods of an insights series: cut at the range's edges, weeks from Monday, whole months."""

from __future__ import annotations

from datetime import date

from app.domain.analytics import Granularity, Period, periods, ratio


def test_weeks_start_on_monday_and_are_cut_at_the_range() -> None:
    assert list(periods(date(2026, 11, 18), date(2026, 12, 1), Granularity.WEEK)) == [
        Period(date(2026, 11, 18), date(2026, 11, 22)),
        Period(date(2026, 11, 23), date(2026, 11, 29)),
        Period(date(2026, 11, 30), date(2026, 12, 1)),
    ]


def test_months_have_their_own_lengths_leap_february_included() -> None:
    assert list(periods(date(2028, 1, 31), date(2028, 3, 1), Granularity.MONTH)) == [
        Period(date(2028, 1, 31), date(2028, 1, 31)),
        Period(date(2028, 2, 1), date(2028, 2, 29)),
        Period(date(2028, 3, 1), date(2028, 3, 1)),
    ]


def test_one_day_is_one_period_at_any_granularity() -> None:
    for granularity in Granularity:
        assert list(periods(date(2026, 5, 5), date(2026, 5, 5), granularity)) == [
            Period(date(2026, 5, 5), date(2026, 5, 5))
        ]


def test_the_last_days_of_the_calendar_end_the_series() -> None:
    assert list(periods(date(9999, 11, 30), date(9999, 12, 31), Granularity.MONTH)) == [
        Period(date(9999, 11, 30), date(9999, 11, 30)),
        Period(date(9999, 12, 1), date(9999, 12, 31)),
    ]
    assert list(periods(date(9999, 12, 31), date(9999, 12, 31), Granularity.WEEK)) == [
        Period(date(9999, 12, 31), date(9999, 12, 31))
    ]


def test_a_ratio_without_a_denominator_is_none() -> None:
    assert ratio(3, 0) is None
    assert ratio(0, 4) == 0.0
    assert ratio(1, 4) == 0.25
