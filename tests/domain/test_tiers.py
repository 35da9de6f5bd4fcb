"""Tier maths: qualification, periods in the program's time zone, downgrade policies, floors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.domain.earning import (
    Cart,
    CartLine,
    EarningConfig,
    LineFilter,
    MemberAttributes,
    PurchaseRule,
    RuleKind,
    evaluate,
)
from app.domain.tiers import (
    NO_TIER,
    Assignment,
    Contribution,
    DowngradePolicy,
    TierChangeReason,
    TierConfig,
    TierMetric,
    TierPeriod,
    check_config,
    discounted_cost,
    period_start,
    qualifying_rank,
    reached_tier_holds_until,
    rolling_needed_to_keep,
    standing,
)
from app.models.tiers import TierChange

UTC_ZONE = ZoneInfo("UTC")
ENROLLED = datetime(2030, 3, 10, 9, 0, tzinfo=UTC)


def config(
    period: TierPeriod = TierPeriod.CALENDAR_YEAR,
    downgrade: DowngradePolicy = DowngradePolicy.PERIOD_END,
    grace_days: int = 0,
    thresholds: tuple[int, ...] = (100, 500, 1000),
) -> TierConfig:
    return TierConfig(TierMetric.MONEY_SPENT, period, downgrade, grace_days, thresholds)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def rank(cfg: TierConfig, history: list[Contribution], now: datetime, **kw: object) -> int:
    return standing(cfg, history, enrolled_at=ENROLLED, now=now, zone=UTC_ZONE, **kw).rank  # type: ignore[arg-type]


def test_the_highest_threshold_reached_is_the_tier() -> None:
    assert [qualifying_rank((100, 500), v) for v in (0, 99, 100, 499, 500, 10**9)] == [
        NO_TIER,
        NO_TIER,
        0,
        0,
        1,
        1,
    ]


def test_a_configuration_needs_strictly_rising_thresholds_and_period_ends_for_one_level() -> None:
    with pytest.raises(ValueError, match="rise strictly"):
        check_config(config(thresholds=(100, 100)))
    with pytest.raises(ValueError, match="ONE_LEVEL"):
        check_config(config(TierPeriod.ROLLING_12_MONTHS, DowngradePolicy.ONE_LEVEL))


def test_calendar_years_start_at_local_midnight_of_1_january() -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    # 31 December 11:00 UTC is already 1 January in Auckland (UTC+13 in summer).
    start = period_start(TierPeriod.CALENDAR_YEAR, at(2030, 12, 31, 11), auckland, ENROLLED)
    assert start == datetime(2031, 1, 1, tzinfo=auckland)
    cfg = config()
    history = [Contribution(at(2030, 12, 31, 11), 600)]
    in_auckland = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 1, 5), zone=auckland)
    in_utc = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 1, 5), zone=UTC_ZONE)
    assert (in_auckland.value, in_auckland.qualified_rank) == (600, 1)
    assert (in_utc.value, in_utc.qualified_rank) == (0, NO_TIER)
    assert in_utc.rank == 1  # earned in 2030, kept through 2031


def test_anniversary_years_run_from_the_enrolment_day() -> None:
    cfg = config(TierPeriod.ANNIVERSARY_YEAR)
    history = [Contribution(at(2030, 4, 1), 150)]
    during = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 3, 9), zone=UTC_ZONE)
    after = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 3, 11), zone=UTC_ZONE)
    assert during.period_start == datetime(2030, 3, 10, tzinfo=UTC_ZONE)
    assert during.period_end == datetime(2031, 3, 10, tzinfo=UTC_ZONE)
    assert (during.rank, during.value) == (0, 150)
    assert (after.rank, after.value, after.qualified_rank) == (0, 0, NO_TIER)
    assert after.holds_until == datetime(2032, 3, 10, tzinfo=UTC_ZONE)


def test_period_end_keeps_a_tier_through_the_next_year_then_drops_to_what_that_year_earned() -> (
    None
):
    cfg = config()
    history = [Contribution(at(2030, 5, 1), 1200), Contribution(at(2031, 6, 1), 150)]
    assert rank(cfg, history, at(2030, 4, 1)) == NO_TIER
    assert rank(cfg, history, at(2030, 5, 1)) == 2
    assert rank(cfg, history, at(2031, 12, 31)) == 2
    assert rank(cfg, history, at(2032, 1, 1)) == 0


def test_one_level_drops_one_tier_per_period_end() -> None:
    cfg = config(downgrade=DowngradePolicy.ONE_LEVEL)
    history = [Contribution(at(2030, 5, 1), 1200)]
    assert [rank(cfg, history, at(year, 6, 1)) for year in (2030, 2031, 2032, 2033, 2034)] == [
        2,
        2,
        1,
        0,
        NO_TIER,
    ]


def test_grace_period_keeps_the_tier_held_at_the_period_end_for_the_grace_days() -> None:
    cfg = config(downgrade=DowngradePolicy.GRACE_PERIOD, grace_days=30)
    history = [Contribution(at(2030, 5, 1), 600)]
    in_grace = standing(cfg, history, enrolled_at=ENROLLED, now=at(2032, 1, 30), zone=UTC_ZONE)
    after = standing(cfg, history, enrolled_at=ENROLLED, now=at(2032, 1, 31, 1), zone=UTC_ZONE)
    assert in_grace.rank == 1
    assert in_grace.review_at == datetime(2032, 1, 31, tzinfo=UTC_ZONE)
    assert after.rank == NO_TIER


def test_never_keeps_the_best_tier_of_any_period() -> None:
    cfg = config(downgrade=DowngradePolicy.NEVER)
    history = [Contribution(at(2030, 5, 1), 600), Contribution(at(2033, 5, 1), 100)]
    assert rank(cfg, history, at(2036, 1, 1)) == 1
    assert (
        standing(cfg, history, enrolled_at=ENROLLED, now=at(2036, 1, 1), zone=UTC_ZONE).review_at
        is None
    )


def test_a_refund_undoes_the_tier_it_bought_whatever_the_policy() -> None:
    for downgrade in DowngradePolicy:
        if downgrade is DowngradePolicy.ONE_LEVEL:
            continue
        cfg = config(TierPeriod.ROLLING_12_MONTHS, downgrade)
        history = [Contribution(at(2030, 5, 1), 600), Contribution(at(2030, 5, 1), -550)]
        assert rank(cfg, history, at(2030, 5, 2)) == NO_TIER, downgrade


def test_rolling_months_drop_activity_older_than_twelve_months() -> None:
    cfg = config(TierPeriod.ROLLING_12_MONTHS)
    history = [Contribution(at(2030, 5, 1), 300), Contribution(at(2030, 8, 1), 300)]
    before = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 4, 30), zone=UTC_ZONE)
    after = standing(cfg, history, enrolled_at=ENROLLED, now=at(2031, 5, 2), zone=UTC_ZONE)
    assert (before.rank, before.value) == (1, 600)
    assert before.review_at == at(2031, 5, 1)
    assert before.holds_until == at(2031, 5, 1)
    assert (after.rank, after.value) == (0, 300)


def test_lifetime_counts_everything_and_never_reviews_with_time() -> None:
    cfg = config(TierPeriod.LIFETIME)
    history = [Contribution(at(2030, 5, 1), 300), Contribution(at(2040, 8, 1), 300)]
    result = standing(cfg, history, enrolled_at=ENROLLED, now=at(2041, 1, 1), zone=UTC_ZONE)
    assert (result.rank, result.value, result.review_at) == (1, 600, None)


def test_a_floor_lifts_the_tier_until_it_ends() -> None:
    cfg = config()
    until = at(2030, 9, 1)
    floored = standing(
        cfg,
        [],
        enrolled_at=ENROLLED,
        now=at(2030, 6, 1),
        zone=UTC_ZONE,
        floor_rank=1,
        floor_until=until,
    )
    assert (floored.rank, floored.earned_rank, floored.review_at) == (1, NO_TIER, until)


def test_reward_discounts_round_up_and_never_reach_zero() -> None:
    assert [discounted_cost(c, 15) for c in (0, 1, 7, 100, 101)] == [0, 1, 6, 85, 86]
    assert discounted_cost(1, 90) == 1


def _earn(member: MemberAttributes, rules: tuple[PurchaseRule, ...] = ()) -> list[tuple[str, int]]:
    earning = evaluate(
        Cart("EUR", (CartLine("A", 1, 10_000), CartLine("B", 1, 10_000, "sale"))),
        EarningConfig(points_per_currency_unit=1, rules=rules),
        at(2030, 5, 1),
        member,
    )
    return [(c.source, c.points) for line in earning.lines for c in line.components]


def test_a_tier_multiplier_competes_with_rule_multipliers_instead_of_compounding() -> None:
    double_sale = PurchaseRule(
        1,
        RuleKind.MULTIPLIER,
        LineFilter(include_categories=frozenset({"sale"})),
        multiplier=Decimal(2),
    )
    member = MemberAttributes(tier="Gold", multiplier=Decimal("1.5"))
    # Line A: only the tier's 1.5x. Line B: the rule's 2x beats it; nothing compounds.
    assert _earn(member, (double_sale,)) == [
        ("BASE", 100),
        ("TIER", 50),
        ("BASE", 100),
        ("RULE", 100),
    ]
    assert _earn(MemberAttributes(), (double_sale,)) == [
        ("BASE", 100),
        ("BASE", 100),
        ("RULE", 100),
    ]


def test_grace_review_moves_to_the_period_end_when_nothing_is_kept_by_grace() -> None:
    cfg = config(downgrade=DowngradePolicy.GRACE_PERIOD, grace_days=30)
    result = standing(
        cfg,
        [Contribution(at(2031, 1, 5), 600)],
        enrolled_at=ENROLLED,
        now=at(2031, 1, 6),
        zone=UTC_ZONE,
    )
    assert result.rank == 1
    assert result.review_at == datetime(2032, 1, 1, tzinfo=UTC_ZONE)
    assert result.holds_until == datetime(2033, 1, 1, tzinfo=UTC_ZONE) + timedelta(days=30)


def test_a_locked_assignment_is_a_floor_until_its_date_and_earning_goes_above_it() -> None:
    cfg = config()
    locked = Assignment(rank=1, assigned_at=at(2030, 6, 1), locked_until=at(2030, 9, 1))
    inside = standing(
        cfg, [], enrolled_at=ENROLLED, now=at(2030, 8, 1), zone=UTC_ZONE, assignment=locked
    )
    above = rank(cfg, [Contribution(at(2030, 7, 1), 1000)], at(2030, 8, 1), assignment=locked)
    after = rank(cfg, [], at(2030, 9, 1), assignment=locked)
    before = rank(cfg, [], at(2030, 5, 1), assignment=locked)

    assert (inside.rank, inside.earned_rank) == (1, NO_TIER)
    assert (inside.review_at, inside.holds_until) == (at(2030, 9, 1), at(2030, 9, 1))
    assert above == 2
    assert after == NO_TIER
    assert before == NO_TIER


def test_an_unlocked_assignment_is_held_as_long_as_a_tier_reached_that_day() -> None:
    assigned = at(2030, 6, 1)
    grace = config(downgrade=DowngradePolicy.GRACE_PERIOD, grace_days=10)
    rolling = config(TierPeriod.ROLLING_12_MONTHS)

    assert reached_tier_holds_until(config(), assigned, UTC_ZONE, ENROLLED) == datetime(
        2032, 1, 1, tzinfo=UTC_ZONE
    )
    assert reached_tier_holds_until(grace, assigned, UTC_ZONE, ENROLLED) == datetime(
        2032, 1, 11, tzinfo=UTC_ZONE
    )
    assert reached_tier_holds_until(rolling, assigned, UTC_ZONE, ENROLLED) == at(2031, 6, 1)
    assert (
        reached_tier_holds_until(config(TierPeriod.LIFETIME), assigned, UTC_ZONE, ENROLLED) is None
    )
    never = config(downgrade=DowngradePolicy.NEVER)
    assert reached_tier_holds_until(never, assigned, UTC_ZONE, ENROLLED) is None
    cleared = Assignment(rank=2, assigned_at=assigned, cleared_at=at(2030, 7, 1))
    assert rank(config(), [], at(2030, 6, 30), assignment=cleared) == 2
    assert rank(config(), [], at(2030, 7, 1), assignment=cleared) == NO_TIER


def test_a_membership_floor_and_an_assignment_the_higher_and_then_the_longer_applies() -> None:
    cfg = config()
    assignment = Assignment(rank=1, assigned_at=at(2030, 6, 1), locked_until=at(2030, 12, 1))
    result = standing(
        cfg,
        [],
        enrolled_at=ENROLLED,
        now=at(2030, 7, 1),
        zone=UTC_ZONE,
        floor_rank=1,
        floor_until=at(2030, 8, 1),
        assignment=assignment,
    )
    assert (result.rank, result.holds_until) == (1, at(2030, 12, 1))


def test_rolling_needed_to_keep_is_what_the_next_departure_takes_below_the_tier() -> None:
    cfg = config(TierPeriod.ROLLING_12_MONTHS)
    history = [
        Contribution(at(2030, 2, 1), 300),
        Contribution(at(2030, 4, 1), 100),
        Contribution(at(2030, 6, 1), 200),
    ]
    now = at(2030, 7, 1)

    # Tier 1 (500): 600 now; on 1 Feb 2031 the first 300 leave (300 left): 200 more needed.
    assert rolling_needed_to_keep(cfg, history, now, 1) == (200, at(2031, 2, 1))
    # Tier 0 (100): 300 after February, 200 after April, 0 after June: 100 needed by then.
    assert rolling_needed_to_keep(cfg, history, now, 0) == (100, at(2031, 6, 1))
    free = TierConfig(TierMetric.ORDERS, TierPeriod.ROLLING_12_MONTHS, cfg.downgrade, 0, (0, 5))
    assert rolling_needed_to_keep(free, history, now, 0) == (0, None)


def test_every_tier_change_reason_fits_its_column() -> None:
    # SQLite does not enforce a column's length; PostgreSQL refuses the whole transaction.
    width = TierChange._meta.fields_map["reason"].max_length  # type: ignore[attr-defined]
    assert max(len(reason.value) for reason in TierChangeReason) <= width
