"""The per-request context: the caller's principal, its DataLoaders, and the permission checks
on it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from strawberry.types import Info as StrawberryInfo

from app.auth.api_keys import Principal
from app.auth.rate_limit import RateLimiter
from app.domain.errors import DomainError, ErrorCode
from app.graphql.loaders import Loaders


@dataclass
class Context:
    principal: Principal
    request_id: str = "-"
    # Production mode: introspection only for admin keys.
    production: bool = False
    # The app's limiter of redemption-code checks (app/auth/code_checks.py); None: unlimited.
    code_checks: RateLimiter | None = None
    # A WebSocket's `connection_init` payload (subscriptions authenticate with it), and when
    # its member token expires (Unix seconds): its subscriptions end then.
    connection_params: dict[str, object] | None = None
    token_expires_at: float = float("inf")
    # A WebSocket's ASGI scope: its origin and address, for the gateway's checks.
    socket_scope: dict[str, Any] | None = None
    # The request's Accept-Language, most wanted first (app/domain/locales.py): the locale of
    # translated texts and messages when a field is given none.
    accept_language: tuple[str, ...] = ()

    @cached_property
    def loaders(self) -> Loaders:
        # Made on first use: most requests (a member's status) load nothing nested.
        return Loaders.scoped_to(self.principal.program_scope)


Info = StrawberryInfo[Context, None]


def principal_of(info: Info) -> Principal:
    return info.context.principal


def member_reader(info: Info) -> Principal:
    """Admin and secret keys may read and change members; a publishable key never may."""
    principal = info.context.principal
    if not principal.can_read_members:
        raise DomainError(
            ErrorCode.FORBIDDEN, "a publishable key cannot read or change member data"
        )
    return principal


def admin(info: Info) -> Principal:
    principal = info.context.principal
    if not principal.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "this needs an admin key")
    return principal


def member_session(info: Info) -> Principal:
    """A publishable key with a valid member token: the caller acts as that one customer."""
    principal = info.context.principal
    if not principal.is_member_session:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "this needs a member token (header X-Member-Token) with a publishable key",
        )
    return principal


def acting_for_member(info: Info, member_id: int) -> Principal:
    """Who may act on this member: admin and secret keys, or a member token of that member."""
    principal = info.context.principal
    if principal.can_read_members:
        return principal
    if principal.is_member_session:
        if principal.member_id != member_id:
            raise DomainError(ErrorCode.FORBIDDEN, "a member token acts for its own member only")
        return principal
    raise DomainError(ErrorCode.FORBIDDEN, "a publishable key cannot read or change member data")
