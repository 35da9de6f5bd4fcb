"""The rows of `bulk_operations`: an operation queued, claimed, its progress, its end.

Progress is written with the claim it belongs to (`claims`) and the position it moves from, so
that a runner whose job was taken over writes nothing more (LeaseLostError): inside a member's
own transaction that rolls the member's change back too (app/jobs/bulk.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import as_datetime, as_optional_datetime, connection, fetch_one, from_json, utc_now
from app.db import execute as run_statement
from app.domain.bulk import BulkKind, BulkStatus
from app.domain.imports import RowError
from app.services.core.leases import Lease, LeaseLostError, claim_job

COLUMNS = (
    "id, program_id, kind, dry_run, status, cancel_requested, segment_key, parameters,"
    " rows_total, position, applied, skipped, failed, points, errors, failure, api_key_id,"
    " staff_role, points_limit, created_at, updated_at, finished_at"
)


@dataclass(frozen=True)
class BulkOperationRecord:
    id: int
    program_id: int
    kind: BulkKind
    dry_run: bool
    status: BulkStatus
    cancel_requested: bool
    segment_key: str | None
    parameters: dict[str, Any]
    rows_total: int
    position: int
    applied: int
    skipped: int
    failed: int
    points: int
    errors: list[RowError]
    failure: str | None
    api_key_id: int | None
    staff_role: str | None
    points_limit: int | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def record_of(row: dict[str, Any]) -> BulkOperationRecord:
    return BulkOperationRecord(
        id=int(row["id"]),
        program_id=int(row["program_id"]),
        kind=BulkKind(row["kind"]),
        dry_run=bool(row["dry_run"]),
        status=BulkStatus(row["status"]),
        cancel_requested=bool(row["cancel_requested"]),
        segment_key=row["segment_key"],
        parameters=from_json(row["parameters"]) or {},
        rows_total=int(row["rows_total"]),
        position=int(row["position"]),
        applied=int(row["applied"]),
        skipped=int(row["skipped"]),
        failed=int(row["failed"]),
        points=int(row["points"]),
        errors=[RowError(**error) for error in from_json(row["errors"]) or []],
        failure=row["failure"],
        api_key_id=None if row["api_key_id"] is None else int(row["api_key_id"]),
        staff_role=row["staff_role"],
        points_limit=None if row["points_limit"] is None else int(row["points_limit"]),
        created_at=as_datetime(row["created_at"]),
        updated_at=as_datetime(row["updated_at"]),
        finished_at=as_optional_datetime(row["finished_at"]),
    )


@dataclass(frozen=True)
class NewOperation:
    program_id: int
    kind: BulkKind
    dry_run: bool
    segment_key: str | None
    parameters: dict[str, Any]
    content: str
    rows_total: int
    api_key_id: int | None
    staff_role: str | None
    points_limit: int | None


async def insert(conn: BaseDBAsyncClient, new: NewOperation) -> BulkOperationRecord:
    now = utc_now()
    row = await fetch_one(
        conn,
        "INSERT INTO bulk_operations (program_id, kind, dry_run, status, cancel_requested,"
        " segment_key, parameters, content, rows_total, position, applied, skipped, failed,"
        " points, errors, api_key_id, staff_role, points_limit, claims, created_at, updated_at)"
        " VALUES (?, ?, ?, 'QUEUED', ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, '[]', ?, ?, ?, 0, ?, ?)"
        f" RETURNING {COLUMNS}",
        (
            new.program_id,
            new.kind.value,
            new.dry_run,
            False,
            new.segment_key,
            json.dumps(new.parameters, sort_keys=True),
            new.content,
            new.rows_total,
            new.api_key_id,
            new.staff_role,
            new.points_limit,
            now,
            now,
        ),
    )
    assert row is not None
    return record_of(row)


async def read(operation_id: int) -> BulkOperationRecord | None:
    row = await fetch_one(
        connection(), f"SELECT {COLUMNS} FROM bulk_operations WHERE id = ?", (operation_id,)
    )
    return None if row is None else record_of(row)


@dataclass(frozen=True)
class ClaimedOperation:
    operation: BulkOperationRecord
    content: str
    lease: Lease


async def claim(operation_id: int | None = None) -> ClaimedOperation | None:
    """The oldest operation that is queued or whose runner's lease has passed (or that one
    operation), now RUNNING for this runner alone."""
    row = await claim_job("bulk_operations", f"{COLUMNS}, content", operation_id)
    if row is None:
        return None
    return ClaimedOperation(
        record_of(row),
        str(row["content"] or ""),
        Lease("bulk_operations", int(row["id"]), int(row["claims"])),
    )


def errors_json(errors: list[RowError]) -> str:
    return json.dumps(
        [{"line": e.line, "field": e.field, "code": e.code, "message": e.message} for e in errors],
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Step:
    """One record handled: what it adds to the counts, and the errors list if it grew."""

    applied: int = 0
    skipped: int = 0
    failed: int = 0
    points: int = 0
    errors: list[RowError] | None = None


async def advance(conn: BaseDBAsyncClient, lease: Lease, position: int, step: Step) -> None:
    """Move the operation from record `position` to the next, on `conn` (inside a member's
    transaction, it commits with the member's change). LeaseLostError when this runner no
    longer holds the operation, or another one has moved it on."""
    errors_sql = "" if step.errors is None else ", errors = ?"
    errors_param: tuple[str, ...] = () if step.errors is None else (errors_json(step.errors),)
    changed = await run_statement(
        conn,
        "UPDATE bulk_operations SET position = position + 1, applied = applied + ?,"
        f" skipped = skipped + ?, failed = failed + ?, points = points + ?{errors_sql},"
        " updated_at = ? WHERE id = ? AND claims = ? AND position = ? AND status = 'RUNNING'",
        (
            step.applied,
            step.skipped,
            step.failed,
            step.points,
            *errors_param,
            utc_now(),
            lease.job_id,
            lease.claims,
            position,
        ),
    )
    if changed == 0:
        lease.lost = True
        raise LeaseLostError


async def cancel_requested(operation_id: int) -> bool:
    row = await fetch_one(
        connection(), "SELECT cancel_requested FROM bulk_operations WHERE id = ?", (operation_id,)
    )
    return row is not None and bool(row["cancel_requested"])


async def finish(lease: Lease, status: BulkStatus, failure: str | None = None) -> None:
    """The operation's end (DONE, FAILED or CANCELLED), its file dropped."""
    now = utc_now()
    await run_statement(
        connection(),
        "UPDATE bulk_operations SET status = ?, failure = ?, content = NULL, lease_until = NULL,"
        " finished_at = ?, updated_at = ? WHERE id = ? AND claims = ?",
        (status.value, failure, now, now, lease.job_id, lease.claims),
    )


async def request_cancel(operation_id: int) -> BulkOperationRecord | None:
    """QUEUED: cancelled now. RUNNING: asked to stop at the next member. Finished: unchanged.
    None when there is no such operation."""
    now = utc_now()
    await run_statement(
        connection(),
        "UPDATE bulk_operations SET status = 'CANCELLED', cancel_requested = ?, content = NULL,"
        " finished_at = ?, updated_at = ? WHERE id = ? AND status = 'QUEUED'",
        (True, now, now, operation_id),
    )
    await run_statement(
        connection(),
        "UPDATE bulk_operations SET cancel_requested = ?, updated_at = ?"
        " WHERE id = ? AND status = 'RUNNING'",
        (True, now, operation_id),
    )
    return await read(operation_id)
