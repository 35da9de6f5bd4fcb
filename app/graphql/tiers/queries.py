"""Tier queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info, principal_of
from app.graphql.tiers.types import TierProgram
from app.services.programs import service as programs_service
from app.services.tiers import service as tiers_service


@strawberry.field(
    description="A program's tiers, for any key of the program (storefronts show them);"
    " null when it has none."
)
async def tier_program(info: Info, program_slug: str) -> TierProgram | None:
    principal = principal_of(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return None
    record = await tiers_service.tier_program_of(program.id)
    return None if record is None else TierProgram.from_record(record)
