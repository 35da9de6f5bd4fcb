"""Member tokens: what lets a storefront or app act as one customer, with a publishable key.

A member token is a JWT signed with HS256 by one of the program's token-signing secrets:

    header  {"alg": "HS256", "typ": "JWT", "kid": "<key id of the secret>"}
    payload {"program": "<program slug>", "sub": "<the store's customer id>",
             "iat": <issued, seconds since 1970>, "exp": <expiry, seconds since 1970>}

The store's backend signs it itself (the secret comes from `rotateTokenSigningSecret`) or asks
`createMemberToken` with its secret key. Laurel accepts a token when its `kid` names a secret of
the program that is not retired, the signature holds, `exp` is in the future, `exp - iat` is
within the program's `memberTokenMaxSeconds`, and `program` is the publishable key's program
(30 seconds of clock skew are allowed). Rotation keeps the older secrets valid for an overlap.
Time comes from the process clock (app/clock.py), like everywhere else.
"""

from __future__ import annotations

import secrets as random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from app.db import as_optional_datetime, connection, fetch_all, fetch_one, utc_now

ALGORITHM = "HS256"
CLOCK_SKEW_SECONDS = 30
MAX_TOKEN_LENGTH = 4096
TOKEN_HEADER = b"x-member-token"


class MemberTokenError(Exception):
    """Why a token was refused; the message is safe to return to the client."""

    code = "INVALID_MEMBER_TOKEN"


class MemberTokenExpiredError(MemberTokenError):
    """The token was good and has run out: the app should get a new one and retry."""

    code = "MEMBER_TOKEN_EXPIRED"


@dataclass(frozen=True)
class SigningSecret:
    key_id: str
    secret: str
    retires_at: datetime | None


@dataclass(frozen=True)
class MemberIdentity:
    customer_id: str
    # None when the customer is not (yet) a member: `me` is then null.
    member_id: int | None
    # Unix seconds: when the token stops being valid (a live subscription ends then).
    expires_at: float = float("inf")


def new_key_id() -> str:
    return "ts_" + random.token_urlsafe(12)


def new_secret() -> str:
    return random.token_urlsafe(48)


def sign(
    *, program_slug: str, customer_id: str, key: SigningSecret, issued: int, expires: int
) -> str:
    return jwt.encode(
        {"program": program_slug, "sub": customer_id, "iat": issued, "exp": expires},
        key.secret,
        algorithm=ALGORITHM,
        headers={"kid": key.key_id},
    )


@dataclass(frozen=True)
class _ProgramKeys:
    slug: str
    max_seconds: int
    keys: dict[str, SigningSecret]
    fetched: float


class MemberTokenVerifier:
    """Checks tokens against the program's secrets, cached for a few seconds like API keys."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._programs: dict[int, _ProgramKeys] = {}

    async def _keys(self, program_id: int, key_id: str) -> _ProgramKeys | None:
        cached = self._programs.get(program_id)
        # An unknown kid is looked up again at once: a secret rotated on another server works
        # without waiting for the cache to expire.
        if (
            cached is not None
            and time.monotonic() - cached.fetched < self._ttl
            and key_id in cached.keys
        ):
            return cached
        program = await fetch_one(
            connection(),
            "SELECT slug, member_token_max_seconds FROM programs WHERE id = ?",
            (program_id,),
        )
        if program is None:
            return None
        rows = await fetch_all(
            connection(),
            "SELECT key_id, secret, retires_at FROM token_signing_secrets WHERE program_id = ?",
            (program_id,),
        )
        keys = _ProgramKeys(
            slug=str(program["slug"]),
            max_seconds=int(program["member_token_max_seconds"]),
            keys={
                str(row["key_id"]): SigningSecret(
                    key_id=str(row["key_id"]),
                    secret=str(row["secret"]),
                    retires_at=as_optional_datetime(row["retires_at"]),
                )
                for row in rows
            },
            fetched=time.monotonic(),
        )
        self._programs[program_id] = keys
        return keys

    async def verify(self, token: str, program_id: int) -> MemberIdentity:
        if len(token) > MAX_TOKEN_LENGTH:
            raise MemberTokenError("the member token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise MemberTokenError("the member token is not a JWT") from exc
        key_id = str(header.get("kid"))
        program = await self._keys(program_id, key_id)
        key = program.keys.get(key_id) if program else None
        now = utc_now()
        if program is None or key is None:
            raise MemberTokenError("the member token's kid names no signing secret of the program")
        if key.retires_at is not None and key.retires_at <= now:
            raise MemberTokenError("the member token was signed with a retired secret")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.secret,
                algorithms=[ALGORITHM],
                options={
                    "require": ["exp", "iat", "sub"],
                    # Checked below against the process clock, which tests can move.
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise MemberTokenError(f"the member token is not valid: {exc}") from exc
        exp, iat, subject = claims.get("exp"), claims.get("iat"), claims.get("sub")
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise MemberTokenError("the member token's exp and iat must be integers")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise MemberTokenError("the member token's sub must be the customer id")
        if claims.get("program") != program.slug:
            raise MemberTokenError("the member token is for another program than the key")
        moment = now.timestamp()
        if exp <= moment - CLOCK_SKEW_SECONDS:
            raise MemberTokenExpiredError("the member token has expired: get a new one")
        if iat > moment + CLOCK_SKEW_SECONDS:
            raise MemberTokenError("the member token is issued in the future")
        if exp - iat > program.max_seconds:
            raise MemberTokenError(
                f"the member token lives {exp - iat} s; the program allows {program.max_seconds}"
            )
        member = await fetch_one(
            connection(),
            "SELECT id FROM members WHERE program_id = ? AND customer_id = ?",
            (program_id, subject),
        )
        return MemberIdentity(
            customer_id=subject,
            member_id=None if member is None else int(member["id"]),
            expires_at=float(exp + CLOCK_SKEW_SECONDS),
        )
