"""API keys: the three kinds, their format, hashing, and the cached lookup of every request.

Keys are random secrets with a readable prefix (`laurel_admin_`, `laurel_sk_`, `laurel_pk_`),
so a leaked key is recognisable in logs and secret scanners. Only the SHA-256 is stored: the
secrets are long and random, so a slow password hash would add latency and no safety.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from app.db import connection, fetch_one
from app.domain.roles import StaffRole


class KeyKind(StrEnum):
    ADMIN = "admin"
    SECRET = "secret"  # noqa: S105 (a key kind, not a password)
    PUBLISHABLE = "publishable"


KEY_PREFIXES = {
    KeyKind.ADMIN: "laurel_admin_",
    KeyKind.SECRET: "laurel_sk_",
    KeyKind.PUBLISHABLE: "laurel_pk_",
}
DISPLAY_PREFIX_RANDOM_CHARS = 4


@dataclass(frozen=True)
class Principal:
    key_id: int
    kind: KeyKind
    program_id: int | None
    # The key's own rate limit; None takes its kind's default (app/auth/rate_limit.py).
    rate_per_second: float | None = None
    rate_burst: int | None = None
    # With a publishable key and a member token: the customer the token names.
    member_customer_id: str | None = None
    member_id: int | None = None
    # An admin key's staff role (app/domain/roles.py); other kinds have none.
    role: StaffRole | None = None
    points_adjustment_limit: int | None = None

    @property
    def is_member_session(self) -> bool:
        return self.member_customer_id is not None

    @property
    def program_scope(self) -> int | None:
        """The only program this caller may touch, or None for an admin."""
        return None if self.kind is KeyKind.ADMIN else self.program_id

    @property
    def can_read_members(self) -> bool:
        return self.kind in (KeyKind.ADMIN, KeyKind.SECRET)

    @property
    def is_admin(self) -> bool:
        return self.kind is KeyKind.ADMIN

    @property
    def staff_role(self) -> StaffRole | None:
        """An admin key's role (the owner's when it has none); None for other kinds."""
        if self.kind is not KeyKind.ADMIN:
            return None
        return self.role or StaffRole.OWNER


def generate_secret(kind: KeyKind) -> str:
    return KEY_PREFIXES[kind] + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str, kind: KeyKind) -> str:
    return secret[: len(KEY_PREFIXES[kind]) + DISPLAY_PREFIX_RANDOM_CHARS]


class ApiKeyResolver:
    """Resolves a bearer secret to its principal, caching answers for a few seconds.

    The cache keeps the key lookup off the hot path; a revoked key stops working within
    `ttl_seconds`. Unknown secrets are cached too, so a flood of bad keys costs no queries.
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()

    async def resolve(self, secret: str) -> Principal | None:
        if not secret.startswith("laurel_") or len(secret) > 200:
            return None
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            self._cache.move_to_end(digest)
            return cached[0]
        row = await fetch_one(
            connection(),
            "SELECT id, kind, program_id, rate_limit_per_second, rate_limit_burst, role,"
            " points_adjustment_limit FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (digest,),
        )
        principal = (
            None
            if row is None
            else Principal(
                key_id=int(row["id"]),
                kind=KeyKind(row["kind"]),
                program_id=None if row["program_id"] is None else int(row["program_id"]),
                rate_per_second=None
                if row["rate_limit_per_second"] is None
                else float(row["rate_limit_per_second"]),
                rate_burst=None
                if row["rate_limit_burst"] is None
                else int(row["rate_limit_burst"]),
                role=None if row["role"] is None else StaffRole(row["role"]),
                points_adjustment_limit=None
                if row["points_adjustment_limit"] is None
                else int(row["points_adjustment_limit"]),
            )
        )
        self._cache[digest] = (principal, now + self._ttl)
        self._cache.move_to_end(digest)
        # Least recently used first: a flood of unknown keys cannot evict the keys in use.
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return principal
