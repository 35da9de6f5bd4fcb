"""Experiments, the pure part: the stable hash, the split by weight, who gets a subject, and the
results' arithmetic (app/domain/experiments.py)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.domain.experiments import (
    BUCKETS,
    ExperimentPlan,
    ExperimentStatus,
    Lift,
    VariantTotals,
    bucket_of,
    outcomes,
    variant_at,
    withheld,
)

A, B, CONTROL = 11, 12, 13
SLOTS = ((A, 4000), (B, 4000), (CONTROL, 2000))
STARTS = datetime(2026, 11, 1, tzinfo=UTC)
ENDS = datetime(2026, 12, 1, tzinfo=UTC)
INSIDE = datetime(2026, 11, 20, 10, tzinfo=UTC)


def plan(status: ExperimentStatus = ExperimentStatus.RUNNING, **fields: object) -> ExperimentPlan:
    values: dict[str, object] = {
        "id": 7,
        "status": status,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "slots": SLOTS,
        "rules": {101: A, 102: B},
        "rewards": {201: A},
        **fields,
    }
    return ExperimentPlan(**values)  # type: ignore[arg-type]


def member_in(experiment: ExperimentPlan, variant: int) -> int:
    """The first member id (from 1) that the experiment puts in `variant`."""
    return next(m for m in range(1, 10_000) if experiment.variant_of(m) == variant)


# --- the hash and the split -------------------------------------------------------------------


def test_the_bucket_is_the_documented_sha256_of_experiment_and_member() -> None:
    # given the documented recipe: SHA-256("laurel-experiment:7:42"), first 8 bytes, mod 10,000
    # when / then: the values are pinned, so a change of recipe (which would move every member
    # of a running experiment) fails here
    assert bucket_of(7, 42) == 6552
    assert bucket_of(7, 43) == 5490
    assert bucket_of(1, 1) == 6990


def test_a_members_variant_never_changes_and_depends_on_nothing_else() -> None:
    # given members seen in one order and then in a shuffled one
    members = list(range(1, 2001))
    first = {member: variant_at(SLOTS, bucket_of(7, member)) for member in members}
    shuffled = members[:]
    random.Random(19).shuffle(shuffled)
    # when they are assigned again, in the other order
    again = {member: variant_at(SLOTS, bucket_of(7, member)) for member in shuffled}
    # then every member is in the same variant
    assert again == first


def test_the_split_follows_the_weights_within_tolerance_over_many_members() -> None:
    # given 40,000 members and weights 40% / 40% / 20%
    counts = Counter(variant_at(SLOTS, bucket_of(7, member)) for member in range(1, 40_001))
    # then each variant holds its share within 4 standard deviations (about 1.2 points)
    assert abs(counts[A] - 16_000) < 400
    assert abs(counts[B] - 16_000) < 400
    assert abs(counts[CONTROL] - 8_000) < 320
    assert sum(counts.values()) == 40_000


def test_another_experiment_splits_the_same_members_independently() -> None:
    # given the same members in experiments 7 and 8
    in_7 = [variant_at(SLOTS, bucket_of(7, member)) == A for member in range(1, 20_001)]
    in_8 = [variant_at(SLOTS, bucket_of(8, member)) == A for member in range(1, 20_001)]
    # then being in A of one says next to nothing of being in A of the other (about 40% of 40%)
    both = sum(1 for x, y in zip(in_7, in_8, strict=True) if x and y)
    assert abs(both - 3_200) < 260


def test_buckets_fall_in_consecutive_ranges_in_variant_order() -> None:
    assert variant_at(SLOTS, 0) == A
    assert variant_at(SLOTS, 3999) == A
    assert variant_at(SLOTS, 4000) == B
    assert variant_at(SLOTS, 7999) == B
    assert variant_at(SLOTS, 8000) == CONTROL
    assert variant_at(SLOTS, BUCKETS - 1) == CONTROL
    with pytest.raises(ValueError, match="past the weights"):
        variant_at(SLOTS, BUCKETS)


# --- who gets a subject -----------------------------------------------------------------------


def test_while_running_each_variant_gets_only_its_own_subjects_and_control_none() -> None:
    experiment = plan()
    in_a, in_b, in_control = (member_in(experiment, v) for v in (A, B, CONTROL))
    assert withheld([experiment], in_a, INSIDE).rule_ids == {102}
    assert withheld([experiment], in_a, INSIDE).reward_ids == frozenset()
    assert withheld([experiment], in_b, INSIDE).rule_ids == {101}
    assert withheld([experiment], in_b, INSIDE).reward_ids == {201}
    assert withheld([experiment], in_control, INSIDE).rule_ids == {101, 102}
    assert withheld([experiment], in_control, INSIDE).reward_ids == {201}


def test_outside_its_window_and_as_a_draft_nobody_gets_a_subject() -> None:
    experiment = plan()
    in_a = member_in(experiment, A)
    assert withheld([experiment], in_a, ENDS).rule_ids == {101, 102}
    assert withheld([experiment], in_a, datetime(2026, 10, 31, tzinfo=UTC)).rule_ids == {101, 102}
    assert withheld([plan(ExperimentStatus.DRAFT)], in_a, INSIDE).rule_ids == {101, 102}


def test_an_unknown_buyer_gets_no_subject_of_a_running_experiment() -> None:
    assert withheld([plan()], None, INSIDE).rule_ids == {101, 102}


def test_once_concluded_everyone_gets_the_winners_subjects_and_nobody_the_others() -> None:
    won = plan(ExperimentStatus.CONCLUDED, winner_variant_id=B)
    stopped = plan(ExperimentStatus.CONCLUDED)
    in_a = member_in(won, A)
    assert withheld([won], in_a, INSIDE).rule_ids == {101}
    assert withheld([won], None, INSIDE).rule_ids == {101}
    assert withheld([won], in_a, INSIDE).reward_ids == {201}
    assert withheld([stopped], in_a, INSIDE).rule_ids == {101, 102}


# --- results ----------------------------------------------------------------------------------


def totals(variant: int, assigned: int, orders: int, revenue: int, points: int) -> VariantTotals:
    return VariantTotals(
        variant_id=variant,
        members_assigned=assigned,
        members_exposed=orders,
        orders=orders,
        revenue_minor=revenue,
        points_issued=points,
        redemptions=1,
        subject_redemptions=0,
        points_redeemed=100,
    )


def test_averages_are_per_member_assigned_and_lift_is_against_control() -> None:
    # given A: 4 members, 3 orders, 9000 revenue; control: 2 members, 1 order, 3000 revenue
    result = outcomes(
        [totals(A, 4, 3, 9000, 60), totals(CONTROL, 2, 1, 3000, 0)], control_variant_id=CONTROL
    )
    variant, control = result
    # then A averages 0.75 orders and 2250 revenue per member, control 0.5 and 1500
    assert (variant.orders_per_member, variant.revenue_per_member) == (0.75, 2250.0)
    assert (control.orders_per_member, control.revenue_per_member) == (0.5, 1500.0)
    assert (variant.points_per_member, variant.redemptions_per_member) == (15.0, 0.25)
    # and the lift of A is +0.25 orders (x1.5) and +750 revenue (x1.5) per member
    assert variant.orders_lift == Lift(difference=0.25, ratio=1.5)
    assert variant.revenue_lift == Lift(difference=750.0, ratio=1.5)
    # and control's points are 0, so the ratio is undefined
    assert variant.points_lift == Lift(difference=15.0, ratio=None)
    assert control.orders_lift is None


def test_the_programs_kpis_are_compared_with_control_too() -> None:
    # given A: 4 members, 2 of whom ordered (one twice), 3 orders for 9000; control: 2 members,
    # 1 ordered once, 3000
    a = replace(totals(A, 4, 3, 9000, 60), ordering_members=2, repeat_members=1)
    control_totals = replace(totals(CONTROL, 2, 1, 3000, 0), ordering_members=1, repeat_members=0)

    variant, control = outcomes([a, control_totals], control_variant_id=CONTROL)

    # then the share of members who ordered, the AOV and the repeat rate of each
    assert (variant.ordering_member_share, variant.average_order_value) == (0.5, 3000.0)
    assert variant.repeat_purchase_rate == 0.5
    assert (control.ordering_member_share, control.repeat_purchase_rate) == (0.5, 0.0)
    # and A's lift over control: the same share, the same AOV, +0.5 repeat rate (no ratio)
    assert variant.ordering_member_share_lift == Lift(difference=0.0, ratio=1.0)
    assert variant.average_order_value_lift == Lift(difference=0.0, ratio=1.0)
    assert variant.repeat_purchase_rate_lift == Lift(difference=0.5, ratio=None)
    assert control.average_order_value_lift is None


def test_without_control_or_members_there_is_no_lift_and_no_average() -> None:
    result = outcomes([totals(A, 0, 0, 0, 0), totals(B, 3, 1, 1000, 10)], control_variant_id=None)
    assert result[0].orders_per_member is None
    assert result[1].orders_per_member == 0.333333
    assert result[1].revenue_lift is None
