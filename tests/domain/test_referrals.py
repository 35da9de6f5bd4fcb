"""The pure referral rules: codes, e-mail normalisation, signal hashes, triggers, periods."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.domain.referrals import (
    CODE_ALPHABET,
    LimitPeriod,
    ReferralTrigger,
    SideRule,
    SignalKind,
    Signals,
    limit_window,
    new_code,
    normalise_code,
    normalise_email,
    referral_link,
    signal_hash,
    valid_url_template,
)


def test_new_codes_are_eight_unambiguous_characters() -> None:
    codes = {new_code() for _ in range(200)}

    assert len(codes) == 200
    assert all(re.fullmatch(f"[{CODE_ALPHABET}]{{8}}", code) for code in codes)
    assert not set("ILOU") & set(CODE_ALPHABET)


def test_typed_codes_are_normalised_and_malformed_ones_refused() -> None:
    assert normalise_code(" ab-cd 2345 ") == "ABCD2345"
    assert normalise_code("oilabcde") == "011ABCDE"
    assert normalise_code("ABC") is None
    assert normalise_code("ABCD234!") is None
    assert normalise_code("ABCDEFGHU") is None


def test_emails_normalise_case_tags_and_gmail_dots() -> None:
    assert normalise_email("Jane.Doe+promo@GoogleMail.com") == "janedoe@gmail.com"
    assert normalise_email("j.a.n.e.doe@gmail.com") == "janedoe@gmail.com"
    assert normalise_email("Jane.Doe+x@Example.org") == "jane.doe@example.org"
    assert normalise_email("no-at-sign") == "no-at-sign"


def test_signals_are_salted_hashes_of_trimmed_case_free_values() -> None:
    first = signal_hash("salt-a", SignalKind.DEVICE_ID, " Dev-1 ")

    assert first == signal_hash("salt-a", SignalKind.DEVICE_ID, "dev-1")
    assert first != signal_hash("salt-b", SignalKind.DEVICE_ID, "dev-1")
    assert first != signal_hash("salt-a", SignalKind.IP_ADDRESS, "dev-1")
    assert re.fullmatch("[0-9a-f]{64}", first)
    assert Signals(ip_address=" ", device_id="d").items() == [(SignalKind.DEVICE_ID, "d")]


def test_links_and_templates() -> None:
    assert referral_link("https://shop.test/r/{code}", "ABCD2345") == "https://shop.test/r/ABCD2345"
    assert referral_link("", "ABCD2345") is None
    assert valid_url_template("https://shop.test/?ref={code}")
    assert not valid_url_template("https://shop.test/")
    assert not valid_url_template("javascript:{code}")


def test_order_triggers_count_the_minimum_and_the_limit() -> None:
    first = SideRule(points=10, trigger=ReferralTrigger.FIRST_ORDER, minimum_order_minor=2000)
    each = SideRule(points=10, trigger=ReferralTrigger.EACH_ORDER, max_orders=2)
    signup = SideRule(points=10, trigger=ReferralTrigger.SIGNUP)

    assert (first.order_counts(1999, 0), first.order_counts(2000, 0)) == (False, True)
    assert first.order_counts(5000, 1) is False
    assert [each.order_counts(1, n) for n in range(3)] == [True, True, False]
    assert signup.order_counts(5000, 0) is False
    assert SideRule(points=0, trigger=ReferralTrigger.EACH_ORDER).order_counts(5000, 0) is False


def test_limit_periods_are_utc_calendar_periods() -> None:
    moment = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)

    assert limit_window(LimitPeriod.DAY, moment)[0] == datetime(2026, 12, 31, tzinfo=UTC)
    assert limit_window(LimitPeriod.WEEK, moment)[0] == datetime(2026, 12, 28, tzinfo=UTC)
    assert limit_window(LimitPeriod.MONTH, moment) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert limit_window(LimitPeriod.YEAR, moment)[1] == datetime(2027, 1, 1, tzinfo=UTC)
