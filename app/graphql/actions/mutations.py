"""Action mutations: the rules, and reporting an action."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.graphql.actions.types import ActionKindEnum, ActionRule, FrequencyEnum
from app.graphql.core.admin_writes import RecordPayloads, admin_id
from app.graphql.core.context import Info, acting_for_member, admin
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import in_rule, mutation, optional_idempotency_key
from app.graphql.core.records import service_input
from app.graphql.members.types import Member
from app.services.actions import service as actions_service
from app.services.members import service as members_service


@strawberry.input
class ActionRuleDefinition:
    name: str
    action: ActionKindEnum  # type: ignore[valid-type]
    points: int
    frequency: FrequencyEnum  # type: ignore[valid-type]
    frequency_limit: int = 1
    qualifier: str | None = strawberry.field(
        default=None,
        description="The network of SOCIAL_FOLLOW / SOCIAL_SHARE; the name of a CUSTOM event.",
    )
    cap_points: int | None = None
    self_service: bool = strawberry.field(
        default=False,
        description="Members may report it themselves with a member token (e.g. a sign-up).",
    )

    def to_service(self) -> actions_service.ActionRuleInput:
        return service_input(self, actions_service.ActionRuleInput)


@strawberry.input
class CreateActionRuleInput:
    program_slug: str
    rule: ActionRuleDefinition
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input
class UpdateActionRuleInput:
    id: strawberry.ID
    rule: ActionRuleDefinition


@strawberry.input
class SetActionRulePausedInput:
    id: strawberry.ID
    paused: bool


@strawberry.type
class ActionRulePayload:
    rule: ActionRule | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_action_rules = RecordPayloads("ActionRule", ActionRule.from_record, ActionRulePayload, "rule")


@strawberry.input
class RecordActionInput:
    member_id: strawberry.ID
    action: ActionKindEnum  # type: ignore[valid-type]
    idempotency_key: str
    qualifier: str | None = None
    reference: str | None = strawberry.field(
        default=None, description="The store's id of what was done (a review id): earns once."
    )
    occurred_at: datetime | None = None


@strawberry.type
class RecordActionPayload:
    points_earned: int = 0
    already_recorded: bool = False
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(errors_at=in_rule, description="Admin only: points for an action, with limits.")
async def create_action_rule(info: Info, input: CreateActionRuleInput) -> ActionRulePayload:
    admin(info)
    record = await actions_service.create_action_rule(
        input.program_slug, input.rule.to_service(), input.idempotency_key
    )
    return ActionRulePayload(rule=ActionRule.from_record(record))


@mutation(errors_at=in_rule, description="Admin only: replace an action rule's definition.")
async def update_action_rule(info: Info, input: UpdateActionRuleInput) -> ActionRulePayload:
    return _action_rules.of(
        await actions_service.update_action_rule(
            admin_id(info, input.id, "ActionRule"), input.rule.to_service()
        )
    )


@mutation(errors_at=in_rule, description="Admin only: pause or resume an action rule.")
async def set_action_rule_paused(info: Info, input: SetActionRulePausedInput) -> ActionRulePayload:
    return _action_rules.of(
        await actions_service.set_action_rule_paused(
            admin_id(info, input.id, "ActionRule"), input.paused
        )
    )


@mutation(description="Report an action a member took; a reference earns once.")
async def record_action(info: Info, input: RecordActionInput) -> RecordActionPayload:
    member_id = decode_id(input.member_id, "Member", ["input", "memberId"])
    principal = acting_for_member(info, member_id)
    by_member = principal.is_member_session
    if by_member and input.occurred_at is not None:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "a member reports an action as it happens: occurredAt is for the store",
            ["input", "occurredAt"],
        )
    award = await actions_service.record_action(
        service_input(
            input, actions_service.RecordActionInput, member_id=member_id, by_member=by_member
        ),
        principal.program_scope,
    )
    member = await members_service.get_member(award.member_id, principal.program_scope)
    assert member is not None
    return RecordActionPayload(
        points_earned=award.points,
        already_recorded=award.already_recorded,
        member=Member.from_record(member),
    )
