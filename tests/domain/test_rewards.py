"""Reward terms per kind, pay-with-points spends, code states and limit periods: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.errors import ErrorCode
from app.domain.rewards import (
    CODE_RANDOM_CHARACTERS,
    CodeProblem,
    LimitPeriod,
    RedemptionStatus,
    RewardKind,
    RewardTerms,
    check_points_spend,
    check_terms,
    code_problem,
    discount_for_points,
    limit_window_start,
    new_redemption_code,
    normalise_code,
)
from app.domain.validation import Checker

NOW = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)


def problems(terms: RewardTerms) -> list[tuple[ErrorCode, list[str] | None]]:
    check = Checker()
    check_terms(check, terms)
    return [(error.code, error.field) for error in check.errors]


def test_each_kind_accepts_its_own_terms() -> None:
    valid = [
        RewardTerms(RewardKind.FIXED_DISCOUNT, 100, value_minor=500, minimum_order_minor=2000),
        RewardTerms(RewardKind.PERCENT_DISCOUNT, 100, percent_off=100, max_value_minor=1),
        RewardTerms(RewardKind.FREE_SHIPPING, 100),
        RewardTerms(RewardKind.FREE_PRODUCT, 100, skus=("A",), value_minor=1200),
        RewardTerms(RewardKind.STORE_CREDIT, 100, value_minor=1000, currency="SEK"),
        RewardTerms(RewardKind.PAY_WITH_POINTS, 50, points_min=50, points_max=500, points_step=50),
        RewardTerms(RewardKind.CHARITY, 100, value_minor=300, charity_name="Trees"),
        RewardTerms(RewardKind.CUSTOM, 100),
    ]

    assert [problems(terms) for terms in valid] == [[]] * len(valid)


def test_terms_of_another_kind_are_refused_by_name() -> None:
    terms = RewardTerms(
        RewardKind.FREE_SHIPPING,
        100,
        value_minor=5,
        percent_off=10,
        charity_name="X",
        points_step=5,
        categories=("c",),
    )

    assert problems(terms) == [
        (ErrorCode.INVALID_VALUE, ["input", "valueMinor"]),
        (ErrorCode.INVALID_VALUE, ["input", "percentOff"]),
        (ErrorCode.INVALID_VALUE, ["input", "categories"]),
        (ErrorCode.INVALID_VALUE, ["input", "charityName"]),
        (ErrorCode.INVALID_VALUE, ["input", "pointsStep"]),
    ]


def test_a_negative_cost_and_a_percentage_over_100_have_their_own_codes() -> None:
    terms = RewardTerms(RewardKind.PERCENT_DISCOUNT, -1, percent_off=101)

    assert problems(terms) == [
        (ErrorCode.INVALID_POINTS, ["input", "costPoints"]),
        (ErrorCode.INVALID_PERCENTAGE, ["input", "percentOff"]),
    ]


def test_pay_with_points_spends_stay_on_the_step_and_in_range() -> None:
    bounds = {"points_min": 100, "points_max": 1000, "points_step": 50}

    assert check_points_spend(100, **bounds) is None
    assert check_points_spend(1000, **bounds) is None
    assert check_points_spend(150, **bounds) is None
    assert check_points_spend(175, **bounds) == (
        ErrorCode.POINTS_OFF_STEP,
        "points must be a multiple of 50",
    )
    below, above = check_points_spend(50, **bounds), check_points_spend(1050, **bounds)
    assert below is not None and below[0] is ErrorCode.POINTS_OUT_OF_RANGE
    assert above is not None and above[0] is ErrorCode.POINTS_OUT_OF_RANGE


def test_points_buy_a_discount_in_minor_units_rounded_down() -> None:
    assert discount_for_points(1000, "EUR", 200) == 500
    assert discount_for_points(199, "EUR", 200) == 99
    assert discount_for_points(1000, "JPY", 10) == 100


def test_a_code_past_its_expiry_is_expired_before_the_job_marks_it() -> None:
    later = NOW + timedelta(days=1)

    assert code_problem(RedemptionStatus.ISSUED, later, NOW) is None
    assert code_problem(RedemptionStatus.ISSUED, None, NOW) is None
    assert code_problem(RedemptionStatus.ISSUED, NOW, NOW) is CodeProblem.EXPIRED
    assert code_problem(RedemptionStatus.USED, later, NOW) is CodeProblem.USED
    assert code_problem(RedemptionStatus.CANCELLED, later, NOW) is CodeProblem.CANCELLED
    assert code_problem(RedemptionStatus.EXPIRED, later, NOW) is CodeProblem.EXPIRED


def test_limit_periods_start_at_the_programs_local_midnight() -> None:
    # 22:30 UTC on Thursday 26 November is 23:30 in Stockholm (UTC+1).
    zone = "Europe/Stockholm"

    assert limit_window_start(LimitPeriod.EVER, NOW, zone) is None
    assert limit_window_start(LimitPeriod.DAY, NOW, zone) == datetime(2026, 11, 25, 23, tzinfo=UTC)
    assert limit_window_start(LimitPeriod.WEEK, NOW, zone) == datetime(2026, 11, 22, 23, tzinfo=UTC)
    assert limit_window_start(LimitPeriod.MONTH, NOW, zone) == datetime(
        2026, 10, 31, 23, tzinfo=UTC
    )
    assert limit_window_start(LimitPeriod.YEAR, NOW, zone) == datetime(2025, 12, 31, 23, tzinfo=UTC)


def test_codes_are_long_random_and_typed_without_case() -> None:
    made = {new_redemption_code() for _ in range(200)}

    assert len(made) == 200
    assert all(len(code.replace("-", "")) == CODE_RANDOM_CHARACTERS for code in made)
    assert not any(set(code) & set("ILOU") for code in made)
    assert normalise_code("  abcd-efgh ") == "ABCD-EFGH"
