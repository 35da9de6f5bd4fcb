"""Domain errors as GraphQL sees them: `userErrors` in payloads (app/graphql/core/mutations.py
puts them there), coded errors in queries; core/protection.py masks everything unexpected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import strawberry
from graphql import GraphQLError

from app.domain.errors import CombinedInputError, DomainError, ErrorCode
from app.domain.locales import DEFAULT_LOCALE
from app.services.messages.catalogue import messages_for
from app.services.messages.texts import error_message

UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode")


@strawberry.type
class UserError:
    """An expected failure: nothing was written. `field` is the path to the input at fault."""

    field: list[str] | None
    message: str
    code: UserErrorCode  # type: ignore[valid-type]


def user_errors(exc: DomainError, locales: tuple[str, ...] = ()) -> list[UserError]:
    """The errors as the payload gives them. A reader who asks (Accept-Language) for Swedish,
    Romanian or Russian gets the message of an error members meet in that language; the code
    is the same whatever the language, and other errors keep their English message."""
    errors = exc.errors if isinstance(exc, CombinedInputError) else [exc]
    messages = messages_for(locales)
    translate = messages.language != DEFAULT_LOCALE
    return [
        UserError(
            field=e.field,
            message=(error_message(messages, e.code) if translate else None) or e.message,
            code=e.code,
        )
        for e in errors
    ]


def coded_error(code: str, message: str) -> GraphQLError:
    """A top-level error for queries, with its code in `extensions.code`."""
    return GraphQLError(message, extensions={"code": code})


def query_error(exc: DomainError) -> GraphQLError:
    return coded_error(exc.code.value, exc.message)


@contextmanager
def as_query_errors() -> Iterator[None]:
    """In a query, a domain error is a top-level error with its code."""
    try:
        yield
    except DomainError as exc:
        raise query_error(exc) from exc
