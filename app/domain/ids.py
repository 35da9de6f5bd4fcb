"""Global ids (`base64url("Type:pk")`): what every client sees, in the API and in events."""

from __future__ import annotations

import base64


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
