"""The persisted_queries and trusted_documents tables."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

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


async def trusted_document_of(program_id: int, sha256: str) -> str | None:
    row = await fetch_one(
        connection(),
        "SELECT document FROM trusted_documents WHERE program_id = ? AND sha256 = ?",
        (program_id, sha256),
    )
    return None if row is None else str(row["document"])


async def insert_trusted_document(
    conn: BaseDBAsyncClient,
    program_id: int,
    sha256: str,
    name: str | None,
    document: str,
    now: datetime,
) -> bool:
    """Whether the document is new to the program (a manifest registered again adds nothing)."""
    row = await fetch_one(
        conn,
        "INSERT INTO trusted_documents (program_id, sha256, name, document, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (program_id, sha256) DO NOTHING RETURNING id",
        (program_id, sha256, name, document, now),
    )
    return row is not None


async def count_trusted_documents(program_id: int, conn: BaseDBAsyncClient | None = None) -> int:
    row = await fetch_one(
        conn or connection(),
        "SELECT COUNT(*) AS n FROM trusted_documents WHERE program_id = ?",
        (program_id,),
    )
    return 0 if row is None else int(row["n"])
