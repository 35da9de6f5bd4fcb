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


def encode_cursor(kind: str, pk: int) -> str:
    """The cursor of row `pk` in a connection of `kind` nodes: a cursor of one connection is
    refused by every other (a global id is no cursor either)."""
    return encode_id(f"cursor.{kind}", pk)


def decode_cursor(cursor: str | None, kind: str, field: list[str]) -> int | None:
    if cursor is None:
        return None
    decoded = decode_any_id(cursor)
    if decoded is None or decoded[0] != f"cursor.{kind}":
        raise DomainError(
            ErrorCode.INVALID_CURSOR,
            f"{cursor[:MAX_ID_LENGTH]!r} is not a cursor of this {kind} list",
            field,
        )
    return decoded[1]
