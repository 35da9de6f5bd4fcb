"""The one boundary between domain errors and GraphQL: `userErrors` in payloads, coded errors
in queries, and masking of everything unexpected."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from app.domain.errors import CombinedInputError, DomainError, ErrorCode

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
