"""Membership queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.programs import readable_program_list
from app.graphql.memberships.types import MembershipPlan
from app.services.memberships import service as memberships_service


@strawberry.field(description="A program's membership plans (secret or admin key).")
async def membership_plans(info: Info, program_slug: str) -> list[MembershipPlan]:
    return await readable_program_list(
        info, program_slug, memberships_service.list_plans, MembershipPlan.from_record
    )
