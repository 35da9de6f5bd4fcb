"""Punch card queries."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info, principal_of
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.punch_cards.types import PunchCard, PunchCardSettings
from app.services.programs import service as programs_service
from app.services.punch_cards import service as punch_cards_service


@strawberry.field(
    description="A program's active punch cards; with includeRetired (secret keys), paused"
    " and retired ones too."
)
async def punch_cards(
    info: Info, program_slug: str, include_retired: bool = False
) -> list[PunchCard]:
    principal = principal_of(info)
    if include_retired:
        member_reader_in_query(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return []
    records = await punch_cards_service.list_punch_cards(
        program.id, include_retired=include_retired
    )
    return [PunchCard.from_record(record) for record in records]


@strawberry.field(description="A program's punch card settings (secret or admin key).")
async def punch_card_settings(info: Info, program_slug: str) -> PunchCardSettings | None:
    principal = member_reader_in_query(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return None
    return PunchCardSettings(refund_policy=await punch_cards_service.refund_policy(program.id))
