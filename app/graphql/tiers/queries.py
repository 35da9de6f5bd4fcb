"""Tier queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info, principal_of
from app.graphql.core.programs import program_one
from app.graphql.tiers.types import TierProgram
from app.services.tiers import service as tiers_service


@strawberry.field(
    description="A program's tiers, for any key of the program (storefronts show them);"
    " null when it has none."
)
async def tier_program(info: Info, program_slug: str) -> TierProgram | None:
    principal = principal_of(info)
    record = await program_one(program_slug, principal.program_scope, tiers_service.tier_program_of)
    return None if record is None else TierProgram.from_record(record)
