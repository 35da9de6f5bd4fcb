"""Member queries: by id, by the store's customer id, or the member a token names."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.programs import program_one
from app.graphql.core.query_checks import (
    decoded_in_query,
    member_reader_in_query,
    member_session_in_query,
)
from app.graphql.members.types import Member
from app.services.members import service as members_service


@strawberry.field(
    description="The member a member token names (publishable key plus X-Member-Token);"
    " null while that customer is not enrolled."
)
async def me(info: Info) -> Member | None:
    principal = member_session_in_query(info)
    if principal.member_id is None:
        return None
    record = await members_service.read_member(principal.member_id, principal.program_scope)
    return Member.from_record(record) if record else None


@strawberry.field
async def member(info: Info, id: strawberry.ID) -> Member | None:
    principal = member_reader_in_query(info)
    record = await members_service.read_member(
        decoded_in_query(id, "Member"), principal.program_scope
    )
    return Member.from_record(record) if record else None


@strawberry.field
async def member_by_customer_id(info: Info, program_slug: str, customer_id: str) -> Member | None:
    principal = member_reader_in_query(info)
    record = await program_one(
        program_slug,
        principal.program_scope,
        lambda program_id: members_service.get_member_by_customer_id(program_id, customer_id),
    )
    return Member.from_record(record) if record else None
