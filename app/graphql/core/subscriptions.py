"""Live updates over GraphQL subscriptions (the graphql-transport-ws protocol on /graphql):
`memberUpdated` for a signed-in member (publishable key and member token in the
`connection_init` payload), `events` for admin keys. Both follow the outbox
(app/services/core/outbox_tail.py), so a change made by any server process arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.graphql.core.context import Info, admin, member_session
from app.graphql.core.errors import as_query_errors, query_error
from app.graphql.core.events import Event
from app.graphql.members.types import Member
from app.services.core.events import EventRecord
from app.services.core.outbox_tail import OutboxTail
from app.services.members import service as members_service
from app.services.programs import service as programs_service
from app.services.webhooks.delivery import wants

TAIL = OutboxTail()


@strawberry.type(description="A change to the signed-in member: the event, and the member now.")
class MemberUpdate:
    event: Event
    member: Member | None


def _until_token_expires(info: Info) -> float | None:
    left = info.context.token_expires_at - time.time()
    return None if left == float("inf") else max(0.0, left)


@strawberry.subscription(
    description="The signed-in member's changes as they happen (points, tier, activity), so a"
    " balance moves without polling. Ends with MEMBER_TOKEN_EXPIRED when the token expires:"
    " connect again with a new one."
)
async def member_updated(info: Info) -> AsyncGenerator[MemberUpdate, None]:
    with as_query_errors():
        principal = member_session(info)
        if principal.member_id is None:
            raise DomainError(ErrorCode.MEMBER_NOT_FOUND, "the customer is not a member yet")
    member_id = principal.member_id
    try:
        async with asyncio.timeout(_until_token_expires(info)):
            async for event in TAIL.subscribe(lambda event: event.member_id == member_id):
                record = await members_service.read_member(member_id, principal.program_scope)
                yield MemberUpdate(
                    event=Event.from_record(event),
                    member=None if record is None else Member.from_record(record),
                )
    except TimeoutError as expired:
        raise query_error(
            DomainError(
                ErrorCode.MEMBER_TOKEN_EXPIRED, "the member token has expired: get a new one"
            )
        ) from expired


@strawberry.subscription(
    description="Admin only: a program's events as they happen, optionally of some types"
    " (a group as points.*)."
)
async def events(
    info: Info, program_slug: str, types: list[str] | None = None
) -> AsyncGenerator[Event, None]:
    with as_query_errors():
        admin(info)
        program = await programs_service.require_program(program_slug, None, ["programSlug"])
    wanted = list(types or ())

    def takes(event: EventRecord) -> bool:
        return event.program_id == program.id and wants(wanted, event.type)

    async for event in TAIL.subscribe(takes):
        yield Event.from_record(event)
