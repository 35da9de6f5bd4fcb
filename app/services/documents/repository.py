"""The persisted_queries table."""

from __future__ import annotations

from datetime import datetime

from app.db import connection, execute, fetch_one


async def document_of(sha256: str) -> str | None:
    row = await fetch_one(
        connection(), "SELECT document FROM persisted_queries WHERE sha256 = ?", (sha256,)
    )
    return None if row is None else str(row["document"])


async def insert_document(sha256: str, document: str, now: datetime) -> None:
    """Kept once: two workers registering one document at once both succeed."""
    await execute(
        connection(),
        "INSERT INTO persisted_queries (sha256, document, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (sha256) DO NOTHING",
        (sha256, document, now),
    )
