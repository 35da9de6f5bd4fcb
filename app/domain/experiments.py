"""A/B tests of earning rules (campaigns are rules with a window) and rewards. Pure: no I/O.

Assignment
----------

A member's bucket in an experiment is the first 8 bytes of
SHA-256("laurel-experiment:<experiment id>:<member id>"), read as a big-endian unsigned integer,
modulo 10,000 (`BUCKETS`). The variants take consecutive ranges of buckets in the order they
were created, each as many buckets as its weight (weights sum to exactly 10,000): with A 4000,
B 4000, control 2000, buckets 0-3999 are A, 4000-7999 B and 8000-9999 control. The variants
and weights never change once created, so a member's variant depends on nothing but the two
ids: not on when they enrolled, in which order members were seen, or which process asks.

Who gets a subject
------------------

From the moment an experiment names an earning rule or a reward (its *subjects*), the
experiment decides who gets it, whatever its status:

- DRAFT, or RUNNING outside its window [starts_at, ends_at): nobody;
- RUNNING inside its window: the members of the variant that names it, and nobody else (a
  control member gets none of the experiment's subjects; an unknown buyer, as in a cart
  preview without a member, none either);
- CONCLUDED with a winner: everyone gets the winner's subjects, nobody the others';
- CONCLUDED without a winner (stopped): nobody.

The rule's or reward's own conditions (windows, tiers, stock...) still apply on top.
An order's time is its `placedAt`; a redemption's and a reward list's is now.

Audience
--------

An experiment may have an audience: one segment. Only its members are in the experiment; an
outsider is treated as an unknown buyer whatever the status: none of the experiment's subjects
(the winner's included, once it concludes), no effect rows, not counted in results. A member's
variant is still their bucket's: joining the audience later puts them where the hash says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "BUCKETS",
    "MAX_VARIANTS",
    "EffectKind",
    "ExperimentPlan",
    "ExperimentStatus",
    "Lift",
    "VariantOutcome",
    "VariantTotals",
    "Withheld",
    "bucket_of",
    "outcomes",
    "variant_at",
    "withheld",
]

BUCKETS = 10_000
MAX_VARIANTS = 10
# Averages and lifts are given to this many decimal places.
RESULT_PLACES = 6


class ExperimentStatus(StrEnum):
    DRAFT = "DRAFT"
    RUNNING = "RUNNING"
    CONCLUDED = "CONCLUDED"


class EffectKind(StrEnum):
    ORDER = "ORDER"
    REDEMPTION = "REDEMPTION"


def bucket_of(experiment_id: int, member_id: int) -> int:
    """The member's bucket in [0, BUCKETS) (the module docstring says how)."""
    digest = hashlib.sha256(f"laurel-experiment:{experiment_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_at(slots: Sequence[tuple[int, int]], bucket: int) -> int:
    """The variant whose range of buckets holds `bucket`; `slots` are (variant id, weight) in
    order, the weights summing to BUCKETS."""
    upper = 0
    for variant_id, weight in slots:
        upper += weight
        if bucket < upper:
            return variant_id
    raise ValueError(f"bucket {bucket} is past the weights' sum {upper}")


@dataclass(frozen=True)
class ExperimentPlan:
    """What earning and redemption need of one experiment: its state and who gets what."""

    id: int
    status: ExperimentStatus
    starts_at: datetime
    ends_at: datetime
    slots: tuple[tuple[int, int], ...]
    winner_variant_id: int | None = None
    # Subject -> the variant that names it.
    rules: Mapping[int, int] = field(default_factory=dict)
    rewards: Mapping[int, int] = field(default_factory=dict)
    # The audience segment (None: every member), and whether the member these plans were read
    # for is in it (always True without an audience; False for an unknown buyer).
    audience_segment_id: int | None = None
    in_audience: bool = True

    def is_live(self, moment: datetime) -> bool:
        return self.status is ExperimentStatus.RUNNING and self.starts_at <= moment < self.ends_at

    def audience_matters(self) -> bool:
        """Whether who is in the audience can change what anyone gets: a RUNNING experiment
        with an audience, or a CONCLUDED one with a winner. (DRAFT and stopped ones give their
        subjects to nobody anyway.)"""
        if self.audience_segment_id is None:
            return False
        return self.status is ExperimentStatus.RUNNING or (
            self.status is ExperimentStatus.CONCLUDED and self.winner_variant_id is not None
        )

    def records(self, moment: datetime) -> bool:
        """Whether an order or redemption of the member at `moment` is one of its effects."""
        return self.in_audience and self.is_live(moment)

    def variant_of(self, member_id: int) -> int:
        return variant_at(self.slots, bucket_of(self.id, member_id))

    def granted_variant(self, member_id: int | None, moment: datetime) -> int | None:
        """The variant whose subjects this member gets at `moment` (None: no subject)."""
        if not self.in_audience:
            return None
        if self.status is ExperimentStatus.CONCLUDED:
            return self.winner_variant_id
        if member_id is not None and self.is_live(moment):
            return self.variant_of(member_id)
        return None


@dataclass(frozen=True)
class Withheld:
    """The earning rules and rewards that experiments keep from one member at one moment."""

    rule_ids: frozenset[int]
    reward_ids: frozenset[int]


def withheld(plans: Sequence[ExperimentPlan], member_id: int | None, moment: datetime) -> Withheld:
    rules: set[int] = set()
    rewards: set[int] = set()
    for plan in plans:
        granted = plan.granted_variant(member_id, moment)
        rules.update(rule for rule, variant in plan.rules.items() if variant != granted)
        rewards.update(reward for reward, variant in plan.rewards.items() if variant != granted)
    return Withheld(rule_ids=frozenset(rules), reward_ids=frozenset(rewards))


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantTotals:
    """What one variant's members did while the experiment ran (app/services/experiments)."""

    variant_id: int
    members_assigned: int
    members_exposed: int
    orders: int
    revenue_minor: int
    points_issued: int
    redemptions: int
    subject_redemptions: int
    points_redeemed: int
    # Members with an order in the experiment, and with two or more.
    ordering_members: int = 0
    repeat_members: int = 0


@dataclass(frozen=True)
class Lift:
    """A variant's per-member average against control's: difference (variant - control) and
    ratio (variant / control; None when control's is 0)."""

    difference: float
    ratio: float | None


@dataclass(frozen=True)
class VariantOutcome:
    totals: VariantTotals
    # Per member assigned (None when no member is assigned).
    orders_per_member: float | None
    revenue_per_member: float | None
    points_per_member: float | None
    redemptions_per_member: float | None
    # Against control; None for control itself and when there is no control.
    orders_lift: Lift | None
    revenue_lift: Lift | None
    points_lift: Lift | None
    redemptions_lift: Lift | None
    # The program's KPIs (docs/capabilities/analytics.md) among the variant's members:
    # orderingMembers / membersAssigned, revenue / orders, repeatMembers / orderingMembers.
    ordering_member_share: float | None = None
    average_order_value: float | None = None
    repeat_purchase_rate: float | None = None
    ordering_member_share_lift: Lift | None = None
    average_order_value_lift: Lift | None = None
    repeat_purchase_rate_lift: Lift | None = None


def _per_member(total: int, members: int) -> Fraction | None:
    return None if members == 0 else Fraction(total, members)


def _rounded(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), RESULT_PLACES)


def _lift(variant: Fraction | None, control: Fraction | None) -> Lift | None:
    if variant is None or control is None:
        return None
    ratio = None if control == 0 else round(float(variant / control), RESULT_PLACES)
    return Lift(difference=round(float(variant - control), RESULT_PLACES), ratio=ratio)


def outcomes(
    totals: Sequence[VariantTotals], control_variant_id: int | None
) -> list[VariantOutcome]:
    """Per-member averages of each variant and their lift over control (formulas in
    docs/capabilities/experiments.md)."""

    def averages(item: VariantTotals) -> tuple[Fraction | None, ...]:
        members = item.members_assigned
        return (
            _per_member(item.orders, members),
            _per_member(item.revenue_minor, members),
            _per_member(item.points_issued, members),
            _per_member(item.redemptions, members),
            _per_member(item.ordering_members, members),
            _per_member(item.revenue_minor, item.orders),
            _per_member(item.repeat_members, item.ordering_members),
        )

    control = next((item for item in totals if item.variant_id == control_variant_id), None)
    control_averages = averages(control) if control is not None else None
    result = []
    for item in totals:
        mine = averages(item)
        lifts: list[Lift | None] = [None] * len(mine)
        if control_averages is not None and item is not control:
            lifts = [_lift(a, b) for a, b in zip(mine, control_averages, strict=True)]
        result.append(
            VariantOutcome(
                totals=item,
                orders_per_member=_rounded(mine[0]),
                revenue_per_member=_rounded(mine[1]),
                points_per_member=_rounded(mine[2]),
                redemptions_per_member=_rounded(mine[3]),
                orders_lift=lifts[0],
                revenue_lift=lifts[1],
                points_lift=lifts[2],
                redemptions_lift=lifts[3],
                ordering_member_share=_rounded(mine[4]),
                average_order_value=_rounded(mine[5]),
                repeat_purchase_rate=_rounded(mine[6]),
                ordering_member_share_lift=lifts[4],
                average_order_value_lift=lifts[5],
                repeat_purchase_rate_lift=lifts[6],
            )
        )
    return result
