"""Access in the API: member tokens and the secret that signs them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.core.context import Info, admin, member_reader
from app.graphql.core.errors import UserError
from app.graphql.core.mutations import mutation
from app.graphql.members.types import Member
from app.services.access import member_tokens as member_tokens_service
from app.services.members import service as members_service
from app.services.programs import service as programs_service


@strawberry.input
class RotateTokenSigningSecretInput:
    program_slug: str
    overlap_seconds: int = strawberry.field(
        default=3600,
        description="How long the secrets in use now stay valid next to the new one.",
    )


@strawberry.type
class RotateTokenSigningSecretPayload:
    key_id: str | None = strawberry.field(default=None, description="The `kid` to sign with.")
    secret: str | None = strawberry.field(
        default=None, description="Shown this once; Laurel cannot show it again."
    )
    previous_retire_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateMemberTokenInput:
    program_slug: str
    customer_id: str = strawberry.field(description="The store's id for the customer.")
    lifetime_seconds: int | None = strawberry.field(
        default=None, description="At most the program's memberTokenMaxSeconds (the default)."
    )


@strawberry.type
class CreateMemberTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="Send it as the X-Member-Token header with the publishable key."
    )
    expires_at: datetime | None = None
    member: Member | None = strawberry.field(
        default=None,
        description="The member the token names (null while the customer is not enrolled): an"
        " app signs a shopper in with one round trip.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(
    description="Admin only: a new secret for signing member tokens; older ones retire"
    " after the overlap."
)
async def rotate_token_signing_secret(
    info: Info, input: RotateTokenSigningSecretInput
) -> RotateTokenSigningSecretPayload:
    admin(info)
    rotated = await member_tokens_service.rotate_signing_secret(
        input.program_slug, input.overlap_seconds
    )
    return RotateTokenSigningSecretPayload(
        key_id=rotated.key_id,
        secret=rotated.secret,
        previous_retire_at=rotated.previous_retire_at,
    )


@mutation(description="A short-lived member token for one customer (secret or admin key).")
async def create_member_token(
    info: Info, input: CreateMemberTokenInput
) -> CreateMemberTokenPayload:
    principal = member_reader(info)
    created = await member_tokens_service.create_member_token(
        input.program_slug,
        input.customer_id,
        input.lifetime_seconds,
        principal.program_scope,
    )
    program = await programs_service.get_program_by_slug(
        input.program_slug, principal.program_scope
    )
    record = (
        None
        if program is None
        else await members_service.get_member_by_customer_id(program.id, input.customer_id.strip())
    )
    return CreateMemberTokenPayload(
        token=created.token,
        expires_at=created.expires_at,
        member=None if record is None else Member.from_record(record),
    )
