"""Challenge and badge queries."""

from __future__ import annotations

from functools import partial

import strawberry

from app.domain.engagement import ChallengeStatus
from app.graphql.core.connection import Connection
from app.graphql.core.context import Info, principal_of
from app.graphql.core.programs import program_keyset_page, readable_program_list
from app.graphql.core.query_checks import member_reader_in_query
from app.graphql.engagement.types import Badge, Challenge, challenge_edges
from app.services.engagement import badges as badges_service
from app.services.engagement import challenges as challenges_service


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
    statuses = tuple(ChallengeStatus) if include_inactive else (ChallengeStatus.ACTIVE,)
    return await program_keyset_page(
        program_slug,
        principal.program_scope,
        lambda program_id, position, limit: challenges_service.list_challenges(
            program_id, statuses=statuses, before_id=position, limit=limit
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
    load = partial(badges_service.list_badges, include_archived=include_archived)
    return await readable_program_list(
        info, program_slug, load, Badge.from_record, members_only=include_archived
    )
