"""Tier mutations: the configuration, and a member's assigned tier."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.admin_writes import scoped_write
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation
from app.graphql.core.records import service_input
from app.graphql.tiers.types import (
    DowngradePolicyEnum,
    TierAssignment,
    TierMetricEnum,
    TierPeriodEnum,
    TierProgram,
    TierStatus,
    tier_status_of,
)
from app.services.tiers import configuration as tier_configuration
from app.services.tiers import service as tiers_service


@strawberry.input
class TierDefinition:
    name: str
    threshold: int
    earn_multiplier: str | None = strawberry.field(
        default=None, description="Above 1, at most 10, 2 decimals at most."
    )
    reward_discount_percent: int = strawberry.field(default=0, description="0 to 90.")
    entry_points: int = 0
    entry_reward_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Reward of the program given on first entry."
    )
    perks: list[str] = strawberry.field(
        default_factory=list, description="Texts for storefronts, 20 at most, 200 chars each."
    )
    renamed_from: str | None = strawberry.field(
        default=None,
        description="The tier's current name, to rename it: its holders, history and the"
        " rewards that require it follow. A tier left out of the list is retired (refused with"
        " TIER_IN_USE while a reward requires it).",
    )


@strawberry.input(description="The whole configuration; tiers lowest first, matched by name.")
class ConfigureTiersInput:
    program_slug: str
    metric: TierMetricEnum  # type: ignore[valid-type]
    period: TierPeriodEnum  # type: ignore[valid-type]
    downgrade: DowngradePolicyEnum  # type: ignore[valid-type]
    tiers: list[TierDefinition]
    grace_days: int = strawberry.field(default=0, description="GRACE_PERIOD only.")


@strawberry.type
class ConfigureTiersPayload:
    tier_program: TierProgram | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Set a member's tier by hand: a floor (they can still earn their way above it)"
    " until lockedUntil, or without it as long as the downgrade policy keeps a tier reached"
    " now. Refused below what the member already holds (TIER_BELOW_EARNED)."
)
class AssignMemberTierInput:
    member_id: strawberry.ID
    tier_name: str
    reason: str = strawberry.field(description="Kept in the member's tier history.")
    idempotency_key: str
    locked_until: datetime | None = None


@strawberry.input
class ClearMemberTierAssignmentInput:
    member_id: strawberry.ID
    reason: str
    idempotency_key: str


@strawberry.type
class TierAssignmentPayload:
    assignment: TierAssignment | None = None
    tier_status: TierStatus | None = strawberry.field(
        default=None, description="The member's standing after the change."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _assignment_payload(result: tiers_service.AssignmentResult) -> TierAssignmentPayload:
    status = await tier_status_of(result.program_id, result.member_id)
    record = result.assignment
    holds_until = (
        None if status is None or status.assignment is None else status.assignment.holds_until
    )
    return TierAssignmentPayload(
        assignment=TierAssignment(
            tier_name=record.tier_name,
            assigned_at=record.assigned_at,
            locked_until=record.locked_until,
            holds_until=record.cleared_at if record.cleared_at is not None else holds_until,
            reason=record.reason,
        ),
        tier_status=status,
    )


@mutation(
    description="Admin only: set a program's tiers. Members are moved to the new rules by"
    " the tiers-recalculate job (tierProgram.recalculationPending says it is due)."
)
async def configure_tiers(info: Info, input: ConfigureTiersInput) -> ConfigureTiersPayload:
    admin(info)
    record = await tier_configuration.configure_tiers(
        service_input(
            input,
            tier_configuration.ConfigureTiersInput,
            tiers=tuple(
                service_input(
                    tier,
                    tier_configuration.TierInput,
                    ids={"entry_reward_id": "Reward"},
                    at=["input", "tiers", str(index)],
                )
                for index, tier in enumerate(input.tiers)
            ),
        )
    )
    return ConfigureTiersPayload(tier_program=TierProgram.from_record(record))


@mutation(
    description="Admin only: set a member's tier by hand (see AssignMemberTierInput); the"
    " change is in the member's tier history with reason MANUAL and a tier.changed event."
)
async def assign_member_tier(info: Info, input: AssignMemberTierInput) -> TierAssignmentPayload:
    result = await scoped_write(
        admin(info),
        input,
        tiers_service.AssignTierInput,
        tiers_service.assign_member_tier,
        ids={"member_id": "Member"},
    )
    return await _assignment_payload(result)


@mutation(
    description="Admin only: end a member's tier assignment now; they hold at once what"
    " their history earns (reason MANUAL)."
)
async def clear_member_tier_assignment(
    info: Info, input: ClearMemberTierAssignmentInput
) -> TierAssignmentPayload:
    result = await scoped_write(
        admin(info),
        input,
        tiers_service.ClearAssignmentInput,
        tiers_service.clear_member_tier_assignment,
        ids={"member_id": "Member"},
    )
    return await _assignment_payload(result)
