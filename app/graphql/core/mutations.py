"""The one way a mutation runs: `@mutation(...)` instead of `@strawberry.mutation(...)`.

The resolver does the write and returns its payload; a domain error it raises becomes the
payload's `userErrors` (every payload type takes `user_errors` and defaults its other fields),
so expected failures are data and nothing else is written. Writes made with an admin key are
audit-logged with what they changed, the entry inside the write's own transaction
(app/graphql/core/audit.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.domain.errors import DomainError
from app.graphql.core.audit import audited
from app.graphql.core.errors import UserError, user_errors
from app.graphql.core.roles import require_role_for_mutation

ErrorPlacement = Callable[[list[UserError]], list[UserError]]


def optional_idempotency_key() -> Any:
    """The `idempotencyKey` of a write whose key is optional (creating configuration, enrolling):
    the same key and input replays the first answer; other input is IDEMPOTENCY_KEY_REUSED."""
    return strawberry.field(
        default=None,
        description="A retry with the same key and input returns what the first request made"
        " instead of making another; other input with the key is IDEMPOTENCY_KEY_REUSED.",
    )


def _as_raised(errors: list[UserError]) -> list[UserError]:
    return errors


_OUTSIDE_RULE = frozenset({"programSlug", "id", "idempotencyKey"})


def in_rule(errors: list[UserError]) -> list[UserError]:
    """For mutations whose rule definition is nested under `input.rule` (earning and action
    rules): the services name the definition's fields as if they were the input's own."""
    for error in errors:
        field = error.field
        if field and len(field) >= 2 and field[0] == "input" and field[1] not in _OUTSIDE_RULE:
            error.field = ["input", "rule", *field[1:]]
    return errors


class UserErrors(FieldExtension):
    """Turns the domain errors of one mutation into its payload's `userErrors`, and audits the
    mutation when an admin key makes it. A staff key's role is checked before the resolver runs."""

    def __init__(self, placement: ErrorPlacement) -> None:
        self.placement = placement

    def apply(self, field: StrawberryField) -> None:
        self.payload: Callable[..., Any] = field.type  # type: ignore[assignment]

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: strawberry.Info,
        **kwargs: Any,
    ) -> Any:
        async def outcome() -> tuple[Any, bool]:
            try:
                # A staff key's role first (app/graphql/core/roles.py): refused, nothing runs.
                require_role_for_mutation(info)
                return await next_(source, info, **kwargs), True
            except DomainError as exc:
                errors = user_errors(exc, info.context.accept_language)
                return self.payload(user_errors=self.placement(errors)), False

        return await audited(outcome)


def mutation(
    description: str | None = None, *, errors_at: ErrorPlacement = _as_raised
) -> Callable[[Callable[..., Awaitable[Any]]], StrawberryField]:
    """A root mutation field; `errors_at` may re-point the errors' `field` paths."""

    def field(resolver: Callable[..., Awaitable[Any]]) -> StrawberryField:
        made: StrawberryField = strawberry.mutation(
            resolver=resolver, description=description, extensions=[UserErrors(errors_at)]
        )
        return made

    return field
