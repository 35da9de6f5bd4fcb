"""Global ids (`base64url("Type:pk")`): what every client sees, in the API and in events."""

from __future__ import annotations

import base64
import binascii


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


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
