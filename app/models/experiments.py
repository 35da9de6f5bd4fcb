from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.earning_rules import EarningRule
    from app.models.members import Member
    from app.models.orders import Order
    from app.models.programs import Program
    from app.models.rewards import Redemption, Reward
    from app.models.segments import Segment


class Experiment(Model):
    """An A/B test of earning rules and rewards (its semantics: app/domain/experiments.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="experiments", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    # DRAFT, RUNNING or CONCLUDED.
    status = fields.CharField(max_length=16)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    # The variants' (id, weight) in bucket order, so the hot path reads one row per subject.
    slots: Any = fields.JSONField(default=list)
    winner_variant_id = fields.BigIntField(null=True)
    # The audience: only the segment's members (kept in segment_members) are in the
    # experiment; None: every member.
    audience_segment: fields.ForeignKeyNullableRelation[Segment] = fields.ForeignKeyField(
        "models.Segment", related_name="experiments", on_delete=fields.RESTRICT, null=True
    )
    started_at = fields.DatetimeField(null=True)
    concluded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "experiments"
        indexes = (("program_id", "id"),)


class ExperimentVariant(Model):
    """One arm of an experiment: a share of the members (weight in 1/10,000) and its subjects
    (the control arm has none)."""

    id = fields.BigIntField(primary_key=True)
    experiment: fields.ForeignKeyRelation[Experiment] = fields.ForeignKeyField(
        "models.Experiment", related_name="variants", on_delete=fields.RESTRICT
    )
    key = fields.CharField(max_length=64)
    weight = fields.IntField()
    control = fields.BooleanField(default=False)
    # Order of the variant's range of buckets.
    position = fields.IntField()

    class Meta:
        table = "experiment_variants"
        unique_together = (("experiment", "key"),)


class ExperimentSubject(Model):
    """An earning rule or a reward that a variant of an experiment gives (a rule or reward is
    the subject of one experiment at most, for good)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="experiment_subjects", on_delete=fields.RESTRICT
    )
    experiment: fields.ForeignKeyRelation[Experiment] = fields.ForeignKeyField(
        "models.Experiment", related_name="subjects", on_delete=fields.RESTRICT
    )
    variant: fields.ForeignKeyRelation[ExperimentVariant] = fields.ForeignKeyField(
        "models.ExperimentVariant", related_name="subjects", on_delete=fields.RESTRICT
    )
    earning_rule: fields.OneToOneNullableRelation[EarningRule] = fields.OneToOneField(
        "models.EarningRule",
        related_name="experiment_subject",
        on_delete=fields.RESTRICT,
        null=True,
    )
    reward: fields.OneToOneNullableRelation[Reward] = fields.OneToOneField(
        "models.Reward", related_name="experiment_subject", on_delete=fields.RESTRICT, null=True
    )

    class Meta:
        table = "experiment_subjects"
        indexes = (("program_id",),)


class ExperimentEffect(Model):
    """An order or a redemption of a member while an experiment ran, with the member's variant,
    written in the transaction of the order's (or redemption's) ledger movement."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="experiment_effects", on_delete=fields.RESTRICT
    )
    experiment: fields.ForeignKeyRelation[Experiment] = fields.ForeignKeyField(
        "models.Experiment", related_name="effects", on_delete=fields.RESTRICT
    )
    variant: fields.ForeignKeyRelation[ExperimentVariant] = fields.ForeignKeyField(
        "models.ExperimentVariant", related_name="effects", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="experiment_effects", on_delete=fields.RESTRICT
    )
    # ORDER or REDEMPTION.
    kind = fields.CharField(max_length=16)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="experiment_effects", on_delete=fields.RESTRICT, null=True
    )
    redemption: fields.ForeignKeyNullableRelation[Redemption] = fields.ForeignKeyField(
        "models.Redemption",
        related_name="experiment_effects",
        on_delete=fields.RESTRICT,
        null=True,
    )
    # ORDER: points the experiment's rules gave the order; REDEMPTION: points spent.
    points = fields.BigIntField(default=0)
    # ORDER: the order's total in the program's currency; REDEMPTION: 0.
    revenue_minor = fields.BigIntField(default=0)
    # True when the effect came from the variant's own subject (its rule earned points, or the
    # reward redeemed is one of its subjects).
    subject = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()

    class Meta:
        table = "experiment_effects"
        unique_together = (("experiment", "order"), ("experiment", "redemption"))
        indexes = (("experiment_id", "variant_id"),)
