"""Membership queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.programs import program_list
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.memberships.types import MembershipPlan
from app.services.memberships import service as memberships_service


@strawberry.field(description="A program's membership plans (secret or admin key).")
async def membership_plans(info: Info, program_slug: str) -> list[MembershipPlan]:
    principal = member_reader_in_query(info)
    return await program_list(
        program_slug,
        principal.program_scope,
        memberships_service.list_plans,
        MembershipPlan.from_record,
    )
