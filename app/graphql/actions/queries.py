"""Action queries."""

from __future__ import annotations

import strawberry

from app.graphql.actions.types import ActionKindEnum, ActionRule
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.ids import decode_id
from app.graphql.core.programs import readable_program_list
from app.graphql.core.query_checks import member_reader_in_query
from app.services.actions import service as actions_service


@strawberry.field(description="Action rules of a program.")
async def action_rules(info: Info, program_slug: str) -> list[ActionRule]:
    return await readable_program_list(
        info, program_slug, actions_service.list_action_rules, ActionRule.from_record
    )


@strawberry.field(
    description="What an action would earn the member now; an error says why it would not."
)
async def preview_action_points(
    info: Info,
    member_id: strawberry.ID,
    action: ActionKindEnum,  # type: ignore[valid-type]
    qualifier: str | None = None,
) -> int:
    principal = member_reader_in_query(info)
    with as_query_errors():
        return await actions_service.preview_action(
            decode_id(member_id, "Member", ["memberId"]),
            action,
            qualifier,
            principal.program_scope,
        )
