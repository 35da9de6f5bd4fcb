"""Import jobs in the API: an upload's progress and its row errors."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.imports import FileFormat, ImportKind, RowError
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.services.imports.jobs import ImportJobRecord

ImportKindEnum = strawberry.enum(
    ImportKind,
    name="ImportKind",
    description="members: one record per customer. orders: replayed as of their time."
    " balances: opening balances of an old program, a lot per record.",
)
ImportFileFormatEnum = strawberry.enum(FileFormat, name="ImportFileFormat")


@strawberry.type(description="A record of an import that was not imported, and why.")
class ImportRowError:
    line: int = strawberry.field(description="The line of the file the record starts on.")
    field: str | None = strawberry.field(description="The column at fault, when one is.")
    code: str = strawberry.field(
        description="An ErrorCode, or one of the import's own (MALFORMED_RECORD,"
        " NOT_IN_TIME_ORDER, PLACED_BEFORE_ENROLMENT, INCONSISTENT_ORDER,"
        " BALANCE_ALREADY_IMPORTED); docs/capabilities/import.md."
    )
    message: str

    @classmethod
    def all_of(cls, errors: list[RowError]) -> list[ImportRowError]:
        return [cls(line=e.line, field=e.field, code=e.code, message=e.message) for e in errors]


def share_done(done: int, total: int) -> float:
    """A job's progress from 0 to 1; a job with nothing to do is done."""
    return 1.0 if total == 0 else min(1.0, done / total)


@strawberry.type(
    description="An uploaded file imported in the background (docs/capabilities/import.md)."
)
class ImportJob(Node):
    kind: ImportKindEnum  # type: ignore[valid-type]
    file_format: ImportFileFormatEnum  # type: ignore[valid-type]
    dry_run: bool
    status: str = strawberry.field(description="QUEUED, RUNNING, DONE or FAILED.")
    bytes_total: int
    bytes_read: int
    progress: float = strawberry.field(description="The share of the file read, 0 to 1.")
    items: int = strawberry.field(description="Items read so far (orders, members, balances).")
    imported: int = strawberry.field(description="Imported (a dry run: would be imported).")
    skipped: int = strawberry.field(description="Already there: a re-run imports nothing twice.")
    failed: int
    errors: list[ImportRowError] = strawberry.field(
        description="The first 1000 row errors, in line order."
    )
    failure: str | None = strawberry.field(
        description="Why the whole file could not be imported (FAILED)."
    )
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_record(cls, record: ImportJobRecord) -> ImportJob:
        total = record.bytes_total
        return cls(
            id=strawberry.ID(encode_id("ImportJob", record.id)),
            kind=record.kind,
            file_format=record.file_format,
            dry_run=record.dry_run,
            status=record.status,
            bytes_total=total,
            bytes_read=record.bytes_read,
            progress=share_done(record.bytes_read, total),
            items=record.items,
            imported=record.imported,
            skipped=record.skipped,
            failed=record.failed,
            errors=ImportRowError.all_of(record.errors),
            failure=record.failure,
            created_at=record.created_at,
            finished_at=record.finished_at,
        )
