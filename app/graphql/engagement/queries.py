"""Challenge and badge queries."""

from __future__ import annotations

import strawberry

from app.domain.engagement import ChallengeStatus
from app.graphql.core.connection import Connection, keyset_page
from app.graphql.core.context import Info, principal_of
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.engagement.types import Badge, Challenge, challenge_edges
from app.services.engagement import badges as badges_service
from app.services.engagement import challenges as challenges_service
from app.services.programs import service as programs_service


@strawberry.field(
    description="A program's challenges, newest first: the active ones; paused and archived"
    " ones too with includeInactive (secret or admin key)."
)
async def challenges(
    info: Info,
    program_slug: str,
    include_inactive: bool = False,
    first: int = 20,
    after: str | None = None,
) -> Connection[Challenge] | None:
    principal = principal_of(info)
    if include_inactive:
        member_reader_in_query(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return Connection.empty()
    statuses = tuple(ChallengeStatus) if include_inactive else (ChallengeStatus.ACTIVE,)
    return await keyset_page(
        lambda position, limit: challenges_service.list_challenges(
            program.id, statuses=statuses, before_id=position, limit=limit
        ),
        first=first,
        after=after,
        edges=challenge_edges,
    )


@strawberry.field(
    description="A program's badges (at most 100), oldest first; archived ones too with"
    " includeArchived (secret or admin key)."
)
async def badges(info: Info, program_slug: str, include_archived: bool = False) -> list[Badge]:
    principal = principal_of(info)
    if include_archived:
        member_reader_in_query(info)
    program = await programs_service.get_program_by_slug(program_slug, principal.program_scope)
    if program is None:
        return []
    records = await badges_service.list_badges(program.id, include_archived=include_archived)
    return [Badge.from_record(record) for record in records]
