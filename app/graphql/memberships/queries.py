"""Membership queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.memberships.types import MembershipPlan
from app.services.memberships import service as memberships_service
from app.services.programs import service as programs_service


@strawberry.field(description="A program's membership plans (secret or admin key).")
async def membership_plans(info: Info, program_slug: str) -> list[MembershipPlan]:
    principal = member_reader_in_query(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return []
    return [
        MembershipPlan.from_record(record)
        for record in await memberships_service.list_plans(program.id)
    ]
