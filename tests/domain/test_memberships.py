"""Membership lifecycle rules: periods, renewals from the period's end, grace after failures."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.memberships import (
    BillingInterval,
    EndReason,
    MembershipStatus,
    end_reason,
    first_period,
    past_due_ends_at,
    renewed_period,
)

JAN_31 = datetime(2030, 1, 31, 9, 0, tzinfo=UTC)


def test_a_trial_ends_on_its_last_day_without_grace() -> None:
    status, period = first_period(JAN_31, BillingInterval.MONTHLY, trial_days=7, grace_days=3)
    assert status is MembershipStatus.TRIALING
    assert (period.end, period.ends_at) == (datetime(2030, 2, 7, 9, tzinfo=UTC),) * 2


def test_a_paid_month_from_31_january_ends_on_28_february_plus_the_grace() -> None:
    status, period = first_period(JAN_31, BillingInterval.MONTHLY, trial_days=0, grace_days=3)
    assert status is MembershipStatus.ACTIVE
    assert period.end == datetime(2030, 2, 28, 9, tzinfo=UTC)
    assert period.ends_at == datetime(2030, 3, 3, 9, tzinfo=UTC)


def test_renewals_continue_from_the_period_end_or_restart_from_now_after_a_lapse() -> None:
    on_time = renewed_period(JAN_31, datetime(2030, 1, 30, tzinfo=UTC), BillingInterval.YEARLY, 0)
    late = renewed_period(JAN_31, datetime(2030, 3, 1, tzinfo=UTC), BillingInterval.YEARLY, 0)
    assert (on_time.start, on_time.end) == (JAN_31, datetime(2031, 1, 31, 9, tzinfo=UTC))
    assert late.start == datetime(2030, 3, 1, tzinfo=UTC)


def test_a_failed_payment_keeps_benefits_for_the_grace_but_never_less_than_what_was_paid() -> None:
    early = past_due_ends_at(JAN_31, datetime(2030, 1, 1, tzinfo=UTC), grace_days=5)
    late = past_due_ends_at(JAN_31, JAN_31, grace_days=5)
    assert early == JAN_31
    assert late == datetime(2030, 2, 5, 9, tzinfo=UTC)


def test_the_end_reason_follows_how_it_ended() -> None:
    assert end_reason(MembershipStatus.ACTIVE, True) is EndReason.CANCELLED
    assert end_reason(MembershipStatus.TRIALING, False) is EndReason.TRIAL_ENDED
    assert end_reason(MembershipStatus.PAST_DUE, False) is EndReason.PAYMENT_FAILED
    assert end_reason(MembershipStatus.ACTIVE, False) is EndReason.NOT_RENEWED
