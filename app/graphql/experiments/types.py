"""Experiments in the API: an experiment, its variants, and its results per variant."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.db import utc_now
from app.domain.experiments import ExperimentStatus, Lift
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.services.experiments.service import (
    ExperimentRecord,
    ExperimentResults,
    VariantRecord,
    VariantResult,
)

ExperimentStatusEnum = strawberry.enum(
    ExperimentStatus,
    name="ExperimentStatus",
    description="DRAFT: made, its rules and rewards go to nobody. RUNNING: inside its window each"
    " variant's members get that variant's rules and rewards. CONCLUDED: stopped; everyone gets"
    " the winner's rules and rewards, or nobody any when it has no winner.",
)


@strawberry.type(description="One arm of an experiment and what its members get.")
class ExperimentVariant:
    key: str
    weight: int = strawberry.field(
        description="Its share of the members, in buckets of 10,000 (2500 = 25%)."
    )
    control: bool = strawberry.field(description="The control group: it gets none of them.")
    earning_rule_ids: list[strawberry.ID] = strawberry.field(
        description="The EarningRules (and campaigns) its members get."
    )
    reward_ids: list[strawberry.ID] = strawberry.field(
        description="The Rewards its members may redeem."
    )

    @classmethod
    def from_record(cls, record: VariantRecord) -> ExperimentVariant:
        return cls(
            key=record.key,
            weight=record.weight,
            control=record.control,
            earning_rule_ids=[
                strawberry.ID(encode_id("EarningRule", pk)) for pk in record.earning_rule_ids
            ],
            reward_ids=[strawberry.ID(encode_id("Reward", pk)) for pk in record.reward_ids],
        )


@strawberry.type(
    description="An A/B test of earning rules, campaigns or rewards: members split by a stable"
    " hash into variants (docs/capabilities/experiments.md)."
)
class Experiment(Node):
    name: str
    description: str
    status: ExperimentStatusEnum  # type: ignore[valid-type]
    starts_at: datetime
    ends_at: datetime
    started_at: datetime | None
    concluded_at: datetime | None
    winner_variant_key: str | None = strawberry.field(
        description="The variant everyone gets since the experiment concluded, if any."
    )
    variants: list[ExperimentVariant]
    segment: str | None = strawberry.field(
        description="The audience: the key of the segment whose members alone are in the"
        " experiment (and get the winner's rules and rewards once it concludes); null: every"
        " member."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: ExperimentRecord) -> Experiment:
        variants = [ExperimentVariant.from_record(variant) for variant in record.variants]
        return from_record(cls, record, variants=variants)

    @strawberry.field(description="RUNNING and inside its window now.")
    def live(self) -> bool:
        return (
            self.status is ExperimentStatus.RUNNING and self.starts_at <= utc_now() < self.ends_at
        )


@strawberry.type(
    description="A variant's average per member against control's: difference (variant -"
    " control) and ratio (variant / control; null when control's is 0)."
)
class ExperimentLift:
    difference: float
    ratio: float | None

    @classmethod
    def of(cls, lift: Lift | None) -> ExperimentLift | None:
        return None if lift is None else cls(difference=lift.difference, ratio=lift.ratio)


@strawberry.type(
    description="What one variant's members did while the experiment ran. Sums of money and"
    " points are Floats holding whole numbers (a sum can pass the 32-bit Int)."
)
class ExperimentVariantResult:
    variant: ExperimentVariant
    members_assigned: int = strawberry.field(
        description="Members of the program enrolled before the end whose hash falls in it."
    )
    members_exposed: int = strawberry.field(
        description="Members with an order or redemption recorded while it ran."
    )
    orders: int
    revenue_minor: float = strawberry.field(
        description="Their orders' totals, in minor units of the program's currency."
    )
    points_issued: float = strawberry.field(
        description="Points the experiment's rules gave their orders (refunds not deducted)."
    )
    redemptions: int = strawberry.field(description="Their redemptions of any reward.")
    subject_redemptions: int = strawberry.field(
        description="Their redemptions of the experiment's rewards."
    )
    points_redeemed: float
    orders_per_member: float | None = strawberry.field(description="orders / membersAssigned.")
    revenue_per_member: float | None = strawberry.field(
        description="revenueMinor / membersAssigned."
    )
    points_per_member: float | None = strawberry.field(
        description="pointsIssued / membersAssigned."
    )
    redemptions_per_member: float | None = strawberry.field(
        description="redemptions / membersAssigned."
    )
    orders_lift: ExperimentLift | None = strawberry.field(
        description="Null for control, and without a control group."
    )
    revenue_lift: ExperimentLift | None
    points_lift: ExperimentLift | None
    redemptions_lift: ExperimentLift | None
    ordering_members: int = strawberry.field(
        description="Members assigned who ordered while it ran."
    )
    ordering_member_share: float | None = strawberry.field(
        description="orderingMembers / membersAssigned."
    )
    average_order_value_minor: float | None = strawberry.field(description="revenueMinor / orders.")
    repeat_purchase_rate: float | None = strawberry.field(
        description="Members with 2 orders or more / orderingMembers."
    )
    ordering_member_share_lift: ExperimentLift | None
    average_order_value_lift: ExperimentLift | None
    repeat_purchase_rate_lift: ExperimentLift | None

    @classmethod
    def from_result(cls, result: VariantResult) -> ExperimentVariantResult:
        outcome = result.outcome
        totals = outcome.totals
        return cls(
            variant=ExperimentVariant.from_record(result.variant),
            members_assigned=totals.members_assigned,
            members_exposed=totals.members_exposed,
            orders=totals.orders,
            revenue_minor=float(totals.revenue_minor),
            points_issued=float(totals.points_issued),
            redemptions=totals.redemptions,
            subject_redemptions=totals.subject_redemptions,
            points_redeemed=float(totals.points_redeemed),
            orders_per_member=outcome.orders_per_member,
            revenue_per_member=outcome.revenue_per_member,
            points_per_member=outcome.points_per_member,
            redemptions_per_member=outcome.redemptions_per_member,
            orders_lift=ExperimentLift.of(outcome.orders_lift),
            revenue_lift=ExperimentLift.of(outcome.revenue_lift),
            points_lift=ExperimentLift.of(outcome.points_lift),
            redemptions_lift=ExperimentLift.of(outcome.redemptions_lift),
            ordering_members=totals.ordering_members,
            ordering_member_share=outcome.ordering_member_share,
            average_order_value_minor=outcome.average_order_value,
            repeat_purchase_rate=outcome.repeat_purchase_rate,
            ordering_member_share_lift=ExperimentLift.of(outcome.ordering_member_share_lift),
            average_order_value_lift=ExperimentLift.of(outcome.average_order_value_lift),
            repeat_purchase_rate_lift=ExperimentLift.of(outcome.repeat_purchase_rate_lift),
        )


@strawberry.type(
    name="ExperimentResults", description="An experiment's results per variant, read now."
)
class ExperimentResultSet:
    experiment: Experiment
    currency: str = strawberry.field(description="The program's currency: revenue's unit.")
    variants: list[ExperimentVariantResult]

    @classmethod
    def from_results(cls, results: ExperimentResults) -> ExperimentResultSet:
        return cls(
            experiment=Experiment.from_record(results.experiment),
            currency=results.currency,
            variants=[ExperimentVariantResult.from_result(item) for item in results.variants],
        )
