"""Creating API keys (the command line and the demo seed use this)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.auth.api_keys import KeyKind, display_prefix, generate_secret, hash_secret
from app.db import (
    utc_now,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.roles import StaffRole, check_role_settings
from app.domain.validation import NAME_MAX, Checker
from app.models import ApiKey
from app.rows import RowMapper
from app.services.programs.service import require_program


@dataclass(frozen=True)
class CreatedApiKey:
    id: int
    kind: KeyKind
    program_id: int | None
    name: str
    display_prefix: str
    # Shown once: only its hash is stored.
    secret: str
    role: StaffRole | None = None
    points_adjustment_limit: int | None = None


async def create_api_key(
    kind: KeyKind,
    program_slug: str | None,
    name: str,
    *,
    role: StaffRole | None = None,
    points_adjustment_limit: int | None = None,
) -> CreatedApiKey:
    """`role`: an admin key's staff role (app/domain/roles.py), None for the owner's."""
    check = Checker()
    clean_name = check.text(["name"], name, NAME_MAX)
    check.raise_if_any()
    assert clean_name is not None
    if role is not None and kind is not KeyKind.ADMIN:
        raise DomainError(ErrorCode.INVALID_VALUE, "only an admin key has a staff role", ["role"])
    check_role_settings(role, points_adjustment_limit)
    program_id: int | None = None
    if kind is KeyKind.ADMIN:
        if program_slug is not None:
            raise DomainError(
                ErrorCode.INVALID_VALUE, "an admin key belongs to no program", ["program"]
            )
    else:
        if program_slug is None:
            raise DomainError(ErrorCode.REQUIRED, f"a {kind} key needs a program", ["program"])
        program_id = (await require_program(program_slug, None, ["program"])).id
    secret = generate_secret(kind)
    prefix = display_prefix(secret, kind)
    created = await ApiKey.create(
        kind=kind.value,
        program_id=program_id,
        name=clean_name,
        key_hash=hash_secret(secret),
        display_prefix=prefix,
        created_at=utc_now(),
        role=None if role is None else role.value,
        points_adjustment_limit=points_adjustment_limit,
    )
    return CreatedApiKey(
        id=created.id,
        kind=kind,
        program_id=program_id,
        name=clean_name,
        display_prefix=prefix,
        secret=secret,
        role=role,
        points_adjustment_limit=points_adjustment_limit,
    )


@dataclass(frozen=True)
class ApiKeyListing:
    id: int
    kind: KeyKind
    program_slug: str | None
    name: str
    display_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    role: str | None


_listing = RowMapper(ApiKeyListing)


async def list_api_keys() -> list[ApiKeyListing]:
    own_columns = [name for name in _listing.column_names if name != "program_slug"]
    rows = await ApiKey.all().order_by("id").values(*own_columns, program_slug="program__slug")
    return _listing.all(rows)


async def revoke_api_key(key_id: int) -> None:
    """Revoke a key; servers stop accepting it within LAUREL_API_KEY_CACHE_SECONDS."""
    revoked = await ApiKey.filter(id=key_id, revoked_at__isnull=True).update(revoked_at=utc_now())
    if revoked == 0:
        raise DomainError(ErrorCode.INVALID_ID, f"no active API key with id {key_id}", ["id"])


MAX_RATE_PER_SECOND = 100_000.0
MAX_BURST = 1_000_000


async def set_rate_limit(key_id: int, per_second: float | None, burst: int | None) -> None:
    """Give a key its own token bucket; None for both returns it to its kind's default.
    Servers apply it within LAUREL_API_KEY_CACHE_SECONDS."""
    check_rate_limit(per_second, burst)
    changed = await ApiKey.filter(id=key_id, revoked_at__isnull=True).update(
        rate_limit_per_second=per_second, rate_limit_burst=burst
    )
    if changed == 0:
        raise DomainError(ErrorCode.INVALID_ID, f"no active API key with id {key_id}", ["id"])


def check_rate_limit(per_second: float | None, burst: int | None) -> None:
    if (per_second is None) != (burst is None):
        raise DomainError(
            ErrorCode.INVALID_VALUE, "give both --per-second and --burst, or neither", ["burst"]
        )
    if per_second is not None and not 0.01 <= per_second <= MAX_RATE_PER_SECOND:
        raise DomainError(
            ErrorCode.INVALID_VALUE,
            f"--per-second must be between 0.01 and {MAX_RATE_PER_SECOND:g}",
            ["perSecond"],
        )
    if burst is not None and not 1 <= burst <= MAX_BURST:
        raise DomainError(
            ErrorCode.INVALID_VALUE, f"--burst must be between 1 and {MAX_BURST}", ["burst"]
        )
