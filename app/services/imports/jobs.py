"""Import jobs: a file uploaded through the API, queued, run in the background, and its progress.

`queue_import` keeps the upload in `import_jobs` (QUEUED); the server's import runner (or
`laurel jobs run imports`) claims it with a guarded update (RUNNING), so one runner runs it,
writes its progress as it goes and its report when done (DONE, or FAILED with the reason). The
upload is dropped once the job is over. Re-running an upload is harmless: imports are
idempotent by the store's ids. The runner holds a lease on the job
(app/services/core/leases.py): if it dies, the next runner takes the job again and the re-run
skips what was imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db import as_datetime, as_optional_datetime, connection, fetch_one, from_json, utc_now
from app.db import execute as run_statement
from app.domain.errors import DomainError, ErrorCode
from app.domain.imports import FileFormat, ImportKind, RowError
from app.services.core.leases import Lease, claim_job
from app.services.programs.service import ProgramScope, require_program

# An upload travels in one request, bounded by LAUREL_MAX_BODY_BYTES; larger files go through
# `laurel import`.
MAX_UPLOAD_CHARACTERS = 50_000_000
_COLUMNS = (
    "id, program_id, kind, file_format, dry_run, status, bytes_total, bytes_read, items,"
    " imported, skipped, failed, errors, failure, created_at, updated_at, finished_at"
)


class ImportWake:
    """Wakes this process's import runners when an upload is queued (another process's runner
    finds it on its next look). Each runner waits on an event of its own, made in its own
    event loop: one shared event would be bound to the first loop that waited on it."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[asyncio.Event]:
        """An event set by every upload queued while the block runs."""
        wake = asyncio.Event()
        self._waiters.add(wake)
        try:
            yield wake
        finally:
            self._waiters.discard(wake)

    def queued(self) -> None:
        for wake in self._waiters:
            wake.set()


IMPORT_QUEUED = ImportWake()


@dataclass(frozen=True)
class ImportJobRecord:
    id: int
    program_id: int
    kind: ImportKind
    file_format: FileFormat
    dry_run: bool
    status: str
    bytes_total: int
    bytes_read: int
    items: int
    imported: int
    skipped: int
    failed: int
    errors: list[RowError]
    failure: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def _record(row: dict[str, Any]) -> ImportJobRecord:
    return ImportJobRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        kind=ImportKind(row["kind"]),
        file_format=FileFormat(row["file_format"]),
        dry_run=bool(row["dry_run"]),
        status=str(row["status"]),
        bytes_total=int(row["bytes_total"]),
        bytes_read=int(row["bytes_read"]),
        items=int(row["items"]),
        imported=int(row["imported"]),
        skipped=int(row["skipped"]),
        failed=int(row["failed"]),
        errors=[RowError(**error) for error in from_json(row["errors"]) or []],
        failure=row["failure"],
        created_at=as_datetime(row["created_at"]),
        updated_at=as_datetime(row["updated_at"]),
        finished_at=as_optional_datetime(row["finished_at"]),
    )


@dataclass(frozen=True)
class QueueImportInput:
    program_slug: str
    kind: ImportKind
    file_format: FileFormat
    content: str
    dry_run: bool = False


async def queue_import(data: QueueImportInput, scope: ProgramScope) -> ImportJobRecord:
    if not data.content.strip():
        raise DomainError(ErrorCode.REQUIRED, "the file is empty", ["input", "content"])
    if len(data.content) > MAX_UPLOAD_CHARACTERS:
        raise DomainError(
            ErrorCode.TOO_LONG,
            f"an upload holds at most {MAX_UPLOAD_CHARACTERS} characters; use `laurel import`",
            ["input", "content"],
        )
    program = await require_program(data.program_slug, scope, ["input", "programSlug"])
    now = utc_now()
    size = len(data.content.encode())
    row = await fetch_one(
        connection(),
        "INSERT INTO import_jobs (program_id, kind, file_format, dry_run, status, content,"
        " bytes_total, bytes_read, items, imported, skipped, failed, errors, created_at,"
        f" updated_at) VALUES (?, ?, ?, ?, 'QUEUED', ?, ?, 0, 0, 0, 0, 0, '[]', ?, ?)"
        f" RETURNING {_COLUMNS}",
        (
            program.id,
            data.kind.value,
            data.file_format.value,
            data.dry_run,
            data.content,
            size,
            now,
            now,
        ),
    )
    assert row is not None
    IMPORT_QUEUED.queued()
    return _record(row)


async def get_import_job(job_id: int, scope: ProgramScope) -> ImportJobRecord | None:
    row = await fetch_one(
        connection(), f"SELECT {_COLUMNS} FROM import_jobs WHERE id = ?", (job_id,)
    )
    if row is None or (scope is not None and int(row["program_id"]) != scope):
        return None
    return _record(row)


@dataclass(frozen=True)
class ClaimedImport:
    job: ImportJobRecord
    program_slug: str
    content: str
    lease: Lease


async def claim_queued_import() -> ClaimedImport | None:
    """The oldest queued upload, or a running one whose runner's lease has passed
    (app/services/core/leases.py), now RUNNING for this runner alone; None when none waits."""
    claimed = await claim_job("import_jobs", f"{_COLUMNS}, content")
    if claimed is None:
        return None
    program = await fetch_one(
        connection(), "SELECT slug FROM programs WHERE id = ?", (claimed["program_id"],)
    )
    assert program is not None
    return ClaimedImport(
        _record(claimed),
        str(program["slug"]),
        str(claimed["content"]),
        Lease("import_jobs", int(claimed["id"]), int(claimed["claims"])),
    )


@dataclass(frozen=True)
class ImportCounts:
    bytes_read: int
    items: int
    imported: int
    skipped: int
    failed: int
    errors: list[RowError]


def _errors_json(errors: list[RowError]) -> str:
    return json.dumps(
        [{"line": e.line, "field": e.field, "code": e.code, "message": e.message} for e in errors],
        separators=(",", ":"),
    )


async def save_progress(job_id: int, counts: ImportCounts) -> None:
    await run_statement(
        connection(),
        "UPDATE import_jobs SET bytes_read = ?, items = ?, imported = ?, skipped = ?,"
        " failed = ?, errors = ?, updated_at = ? WHERE id = ?",
        (
            counts.bytes_read,
            counts.items,
            counts.imported,
            counts.skipped,
            counts.failed,
            _errors_json(counts.errors),
            utc_now(),
            job_id,
        ),
    )


async def finish_import(job_id: int, counts: ImportCounts, failure: str | None) -> None:
    """The job's report, DONE (or FAILED with why), and its upload dropped."""
    await save_progress(job_id, counts)
    now = utc_now()
    await run_statement(
        connection(),
        "UPDATE import_jobs SET status = ?, failure = ?, content = NULL, finished_at = ?,"
        " updated_at = ? WHERE id = ?",
        ("FAILED" if failure else "DONE", failure, now, now, job_id),
    )
