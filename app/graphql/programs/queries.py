"""Program queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info, principal_of
from app.graphql.programs.types import Program
from app.services.programs import service as programs_service


@strawberry.field
async def program(info: Info, slug: str) -> Program | None:
    record = await programs_service.get_program_by_slug(slug, principal_of(info).program_scope)
    return Program.from_record(record) if record else None


@strawberry.field(description="Every program an admin key sees, or the key's own program.")
async def programs(info: Info) -> list[Program]:
    records = await programs_service.list_programs(principal_of(info).program_scope)
    return [Program.from_record(record) for record in records]
