"""Import jobs in the API: an upload's progress and its row errors."""

from __future__ import annotations

import strawberry

from app.domain.imports import FileFormat, ImportKind
from app.graphql.core.jobs import ImportRowError, Job, share_done
from app.graphql.core.records import from_record
from app.services.imports.jobs import ImportJobRecord

ImportKindEnum = strawberry.enum(
    ImportKind,
    name="ImportKind",
    description="members: one record per customer. orders: replayed as of their time."
    " balances: opening balances of an old program, a lot per record.",
)
ImportFileFormatEnum = strawberry.enum(FileFormat, name="ImportFileFormat")


@strawberry.type(
    description="An uploaded file imported in the background (docs/capabilities/import.md)."
)
class ImportJob(Job):
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

    @classmethod
    def from_record(cls, record: ImportJobRecord) -> ImportJob:
        return from_record(
            cls,
            record,
            progress=share_done(record.bytes_read, record.bytes_total),
            errors=ImportRowError.all_of(record.errors),
        )
