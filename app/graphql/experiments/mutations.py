"""Experiment mutations (admin): create, start, stop."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.experiments.types import Experiment
from app.services.experiments import service as experiments_service


@strawberry.input(description="One arm: its share of the members and what they get.")
class ExperimentVariantInput:
    key: str = strawberry.field(description="Its name in results, unique in the experiment.")
    weight: int = strawberry.field(
        description="Buckets out of 10,000; the variants' weights sum to exactly 10,000."
    )
    control: bool = strawberry.field(
        default=False, description="The control group: names nothing and gets nothing."
    )
    earning_rule_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    reward_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class CreateExperimentInput:
    program_slug: str
    name: str
    starts_at: datetime
    ends_at: datetime
    variants: list[ExperimentVariantInput]
    description: str = ""
    segment: str | None = strawberry.field(
        default=None,
        description="The audience: a segment key of the program. Only its members are in the"
        " experiment: outsiders get none of its rules and rewards (nor the winner's, once it"
        " concludes) and are not counted. Null: every member.",
    )
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input
class StartExperimentInput:
    id: strawberry.ID


@strawberry.input
class StopExperimentInput:
    id: strawberry.ID
    winner_variant_key: str | None = strawberry.field(
        default=None,
        description="Everyone gets this variant's rules and rewards from now on; left out,"
        " nobody gets any of the experiment's.",
    )


@strawberry.type
class ExperimentPayload:
    experiment: Experiment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_experiments = RecordPayloads("Experiment", Experiment.from_record, ExperimentPayload, "experiment")


def _variants(
    variants: list[ExperimentVariantInput],
) -> tuple[experiments_service.VariantInput, ...]:
    def ids(values: list[strawberry.ID], type_name: str, at: list[str]) -> tuple[int, ...]:
        return tuple(
            decode_id(value, type_name, [*at, str(index)]) for index, value in enumerate(values)
        )

    return tuple(
        experiments_service.VariantInput(
            key=variant.key,
            weight=variant.weight,
            control=variant.control,
            earning_rule_ids=ids(
                variant.earning_rule_ids,
                "EarningRule",
                ["input", "variants", str(index), "earningRuleIds"],
            ),
            reward_ids=ids(
                variant.reward_ids, "Reward", ["input", "variants", str(index), "rewardIds"]
            ),
        )
        for index, variant in enumerate(variants)
    )


@mutation(
    description="Admin only: an A/B test in DRAFT. From now on it decides who gets its rules"
    " and rewards: nobody until it starts (docs/capabilities/experiments.md)."
)
async def create_experiment(info: Info, input: CreateExperimentInput) -> ExperimentPayload:
    admin(info)
    record = await experiments_service.create_experiment(
        experiments_service.CreateExperimentInput(
            program_slug=input.program_slug,
            name=input.name,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
            variants=_variants(input.variants),
            description=input.description,
            segment=input.segment,
            idempotency_key=input.idempotency_key,
        )
    )
    return ExperimentPayload(experiment=Experiment.from_record(record))


@mutation(description="Admin only: start a DRAFT experiment (it applies inside its window).")
async def start_experiment(info: Info, input: StartExperimentInput) -> ExperimentPayload:
    return await _experiments.by_id(admin(info), input.id, experiments_service.start_experiment)


@mutation(description="Admin only: stop an experiment for good, with or without a winner variant.")
async def stop_experiment(info: Info, input: StopExperimentInput) -> ExperimentPayload:
    return await _experiments.updated(
        info,
        input,
        experiments_service.StopExperimentInput,
        experiments_service.stop_experiment,
        id_name="experiment_id",
    )
