"""The per-request context: the caller's principal, and the permission checks on it."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.types import Info as StrawberryInfo

from app.auth.api_keys import Principal
from app.domain.errors import DomainError, ErrorCode


@dataclass
class Context:
    principal: Principal


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
