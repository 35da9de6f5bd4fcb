"""Global ids (`base64("Type:pk")`) so clients can cache any object by `id`."""

from __future__ import annotations

import base64
import binascii

from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import encode_id

__all__ = ["decode_any_id", "decode_cursor", "decode_id", "encode_cursor", "encode_id"]

MAX_ID_LENGTH = 100


def decode_any_id(global_id: str) -> tuple[str, int] | None:
    if not global_id or len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id(global_id: str, expected_type: str, field: list[str] | None = None) -> int:
    """The primary key inside a global id of `expected_type`; anything else is INVALID_ID."""
    decoded = decode_any_id(global_id)
    if decoded is None or decoded[0] != expected_type:
        raise DomainError(
            ErrorCode.INVALID_ID,
            f"{global_id[:MAX_ID_LENGTH]!r} is not a {expected_type} id",
            field,
        )
    return decoded[1]


def encode_cursor(pk: int) -> str:
    return encode_id("cursor", pk)


def decode_cursor(cursor: str | None, field: list[str]) -> int | None:
    if cursor is None:
        return None
    return decode_id(cursor, "cursor", field)
