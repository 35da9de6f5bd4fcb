"""Token-signing secrets of a program, and member tokens signed with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.auth.member_tokens import (
    SigningSecret,
    new_key_id,
    new_secret,
    sign,
)
from app.db import as_optional_datetime, connection, execute, fetch_one, in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id
from app.domain.validation import EXTERNAL_ID_MAX, Checker
from app.services.core.events import append_event
from app.services.programs.service import ProgramScope, require_program

MAX_OVERLAP_SECONDS = 30 * 24 * 3600
MIN_TOKEN_SECONDS = 60


@dataclass(frozen=True)
class RotatedSecret:
    key_id: str
    secret: str
    # When the secrets it replaces stop being accepted.
    previous_retire_at: datetime


@dataclass(frozen=True)
class MemberToken:
    token: str
    expires_at: datetime


async def rotate_signing_secret(program_slug: str, overlap_seconds: int) -> RotatedSecret:
    """A new secret for member tokens; the current ones keep working for `overlap_seconds`."""
    check = Checker()
    check.int_range(
        ["input", "overlapSeconds"],
        overlap_seconds,
        0,
        MAX_OVERLAP_SECONDS,
        ErrorCode.INVALID_VALUE,
    )
    check.raise_if_any()
    program = await require_program(program_slug, None)
    now = utc_now()
    retire_at = now + timedelta(seconds=overlap_seconds)
    key = SigningSecret(key_id=new_key_id(), secret=new_secret(), retires_at=None)
    async with in_transaction() as conn:
        await execute(
            conn,
            "UPDATE token_signing_secrets SET retires_at = ? WHERE program_id = ?"
            " AND (retires_at IS NULL OR retires_at > ?)",
            (retire_at, program.id, retire_at),
        )
        await execute(
            conn,
            "INSERT INTO token_signing_secrets (program_id, key_id, secret, created_at,"
            " retires_at) VALUES (?, ?, ?, ?, NULL)",
            (program.id, key.key_id, key.secret, now),
        )
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="program.token_secret_rotated",
            payload={
                "programId": encode_id("Program", program.id),
                "keyId": key.key_id,
                "previousRetireAt": retire_at.isoformat(),
            },
            now=now,
        )
    return RotatedSecret(key_id=key.key_id, secret=key.secret, previous_retire_at=retire_at)


async def _current_secret(program_id: int) -> SigningSecret | None:
    row = await fetch_one(
        connection(),
        "SELECT key_id, secret, retires_at FROM token_signing_secrets WHERE program_id = ?"
        " AND retires_at IS NULL ORDER BY id DESC LIMIT 1",
        (program_id,),
    )
    if row is None:
        return None
    return SigningSecret(
        key_id=str(row["key_id"]),
        secret=str(row["secret"]),
        retires_at=as_optional_datetime(row["retires_at"]),
    )


async def create_member_token(
    program_slug: str, customer_id: str, lifetime_seconds: int | None, scope: ProgramScope
) -> MemberToken:
    """A token for one customer, signed with the program's current secret (made on first use)."""
    check = Checker()
    customer = check.text(["input", "customerId"], customer_id, EXTERNAL_ID_MAX)
    program = await require_program(program_slug, scope)
    row = await fetch_one(
        connection(),
        "SELECT member_token_max_seconds FROM programs WHERE id = ?",
        (program.id,),
    )
    assert row is not None
    longest = int(row["member_token_max_seconds"])
    seconds = longest if lifetime_seconds is None else lifetime_seconds
    check.int_range(
        ["input", "lifetimeSeconds"], seconds, MIN_TOKEN_SECONDS, longest, ErrorCode.INVALID_VALUE
    )
    check.raise_if_any()
    assert customer is not None
    key = await _current_secret(program.id)
    if key is None:
        # Concurrent first uses may each make one: the overlap keeps every token they signed valid.
        await rotate_signing_secret(program.slug, longest)
        key = await _current_secret(program.id)
        if key is None:
            raise DomainError(ErrorCode.INVALID_VALUE, "the program has no signing secret")
    issued = int(utc_now().timestamp())
    token = sign(
        program_slug=program.slug,
        customer_id=customer,
        key=key,
        issued=issued,
        expires=issued + seconds,
    )
    return MemberToken(
        token=token, expires_at=datetime.fromtimestamp(issued + seconds, utc_now().tzinfo)
    )
