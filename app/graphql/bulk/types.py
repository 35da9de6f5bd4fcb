"""A bulk operation in the API: its progress, its counts and its row errors."""

from __future__ import annotations

import strawberry

from app.domain.bulk import BulkKind, BulkStatus
from app.graphql.core.jobs import ImportRowError, Job, share_done
from app.graphql.core.records import from_record
from app.services.bulk.repository import BulkOperationRecord

BulkOperationKindEnum = strawberry.enum(BulkKind, name="BulkOperationKind")
BulkOperationStatusEnum = strawberry.enum(
    BulkStatus,
    name="BulkOperationStatus",
    description="CANCELLED: stopped on request between two members; what was done stays done.",
)


@strawberry.type(
    description="A change to many members run as a job (docs/capabilities/bulk-operations.md)."
)
class BulkOperation(Job):
    kind: BulkOperationKindEnum  # type: ignore[valid-type]
    status: BulkOperationStatusEnum  # type: ignore[valid-type]
    dry_run: bool = strawberry.field(
        description="Checked and counted, nothing written: `applied` is what would be."
    )
    segment_key: str | None = strawberry.field(
        description="The segment whose members (when queued) it changes; null for a file."
    )
    cancel_requested: bool
    rows_total: int = strawberry.field(description="Records in the file (or the segment).")
    rows_done: int = strawberry.field(description="Records handled so far, in file order.")
    progress: float = strawberry.field(description="rowsDone / rowsTotal, 0 to 1.")
    applied: int = strawberry.field(description="Members changed (a dry run: would be).")
    skipped: int = strawberry.field(description="Nothing to do (already enrolled).")
    failed: int = strawberry.field(description="Records refused: see `errors`.")
    points: int = strawberry.field(description="Points adjusted in all (either way, summed).")
    errors: list[ImportRowError] = strawberry.field(
        description="The first 1000 refused records, in line order: line, column, code."
    )
    failure: str | None = strawberry.field(description="Why the operation stopped (FAILED).")

    @classmethod
    def from_record(cls, record: BulkOperationRecord) -> BulkOperation:
        return from_record(
            cls,
            record,
            progress=share_done(record.position, record.rows_total),
            rows_done=record.position,
            errors=ImportRowError.all_of(record.errors),
        )
