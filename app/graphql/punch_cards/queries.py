"""Punch card queries."""

from __future__ import annotations

from functools import partial

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.programs import program_one, readable_program_list
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.punch_cards.types import PunchCard, PunchCardSettings
from app.services.punch_cards import service as punch_cards_service


@strawberry.field(
    description="A program's active punch cards; with includeRetired (secret keys), paused"
    " and retired ones too."
)
async def punch_cards(
    info: Info, program_slug: str, include_retired: bool = False
) -> list[PunchCard]:
    load = partial(punch_cards_service.list_punch_cards, include_retired=include_retired)
    return await readable_program_list(
        info, program_slug, load, PunchCard.from_record, members_only=include_retired
    )


@strawberry.field(description="A program's punch card settings (secret or admin key).")
async def punch_card_settings(info: Info, program_slug: str) -> PunchCardSettings | None:
    principal = member_reader_in_query(info)
    policy = await program_one(
        program_slug, principal.program_scope, punch_cards_service.refund_policy
    )
    return None if policy is None else PunchCardSettings(refund_policy=policy)
