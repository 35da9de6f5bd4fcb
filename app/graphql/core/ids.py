"""Global ids (`base64("Type:pk")`) so clients can cache any object by `id`."""

from __future__ import annotations

from app.domain.errors import DomainError, ErrorCode
from app.domain.ids import MAX_ID_LENGTH, decode_any_id, encode_id

__all__ = ["decode_any_id", "decode_cursor", "decode_id", "encode_cursor", "encode_id"]


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
