"""The one boundary between domain errors and GraphQL: `userErrors` in payloads, coded errors
in queries, and masking of everything unexpected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from app.domain.errors import CombinedInputError, DomainError, ErrorCode
from app.graphql.audit import audited

UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode")


@strawberry.type
class UserError:
    """An expected failure: nothing was written. `field` is the path to the input at fault."""

    field: list[str] | None
    message: str
    code: UserErrorCode  # type: ignore[valid-type]


def user_errors(exc: DomainError) -> list[UserError]:
    errors = exc.errors if isinstance(exc, CombinedInputError) else [exc]
    return [UserError(field=e.field, message=e.message, code=e.code) for e in errors]


def coded_error(code: str, message: str) -> GraphQLError:
    """A top-level error for queries, with its code in `extensions.code`."""
    return GraphQLError(message, extensions={"code": code})


def query_error(exc: DomainError) -> GraphQLError:
    return coded_error(exc.code.value, exc.message)


PayloadT = TypeVar("PayloadT")


async def guarded(
    failed: Callable[[list[UserError]], PayloadT], work: Callable[[], Awaitable[PayloadT]]
) -> PayloadT:
    """Run one mutation; a domain error becomes the payload's `userErrors`. Writes made with an
    admin key are audit-logged with what they changed (app/graphql/audit.py)."""

    async def outcome() -> tuple[PayloadT, bool]:
        try:
            return await work(), True
        except DomainError as exc:
            return failed(user_errors(exc)), False

    return await audited(outcome)
