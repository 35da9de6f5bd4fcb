"""Bulk operations: queued as jobs, followed, cancelled.

`queue_bulk_operation` checks what every member would get (points and reason, a tier, a
reward, consent to marketing), takes the members from a file (CSV or JSON Lines) or from a
segment (its members now, written out as a CSV file so that a resumed operation goes over the
same ones), and keeps the operation QUEUED. The job runner (app/jobs/bulk.py) claims it,
handles its records in file order through the capabilities' own services, and writes its
progress in each member's own transaction. Sending the request again with the same idempotency
key gives the same operation; a resumed operation does nothing twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from app.db import connection, fetch_all, fetch_one, in_transaction, utc_now
from app.domain.bulk import FINISHED, BulkKind, check_header, count_rows
from app.domain.errors import DomainError, ErrorCode
from app.domain.money import MAX_POINTS_PER_MOVEMENT
from app.domain.roles import StaffRole, check_points_adjustment
from app.domain.tiers import TIER_NAME_MAX
from app.domain.validation import REASON_MAX, Checker
from app.services.bulk import repository
from app.services.bulk.repository import BulkOperationRecord, NewOperation
from app.services.core.idempotency import create_once_if_keyed, input_payload
from app.services.imports.jobs import IMPORT_QUEUED
from app.services.programs.service import ProgramRecord, ProgramScope, require_program
from app.services.rewards.gifts import require_giftable_reward
from app.services.segments.service import get_segment_by_key
from app.services.tiers.service import tier_program_of

# An operation's file travels in one request (or is read by `laurel bulk`): at most this much.
MAX_CONTENT_CHARACTERS = 50_000_000
# A segment's members, read a page at a time into the operation's file.
_SEGMENT_PAGE = 5000


@dataclass(frozen=True)
class BulkParameters:
    """What every member of the operation gets."""

    # ADJUST_POINTS: the amount for every member (a file's `points` column overrides it).
    points: int | None = None
    # ADJUST_POINTS and ASSIGN_TIER: staff's note, in the audit log; ISSUE_REWARD: the
    # member's activity shows "<reason>: <reward>".
    reason: str | None = None
    # ADJUST_POINTS: what the member reads in their activity.
    description: str | None = None
    tier_name: str | None = None
    reward_id: int | None = None
    # ENROLL_MEMBERS: the list's consent to marketing, and how it was given (kept with the
    # operation and its audit entries).
    marketing_consent: bool = False
    consent_note: str | None = None


@dataclass(frozen=True)
class QueueBulkInput:
    program_slug: str
    kind: BulkKind
    parameters: BulkParameters
    content: str | None = None
    segment_key: str | None = None
    dry_run: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Requester:
    """Who queues it: an admin key (None from the command line), and a staff role's limits."""

    api_key_id: int | None = None
    staff_role: StaffRole | None = None
    points_limit: int | None = None


def _check_parameters(data: QueueBulkInput, requester: Requester, check: Checker) -> BulkParameters:
    given = data.parameters
    kind = data.kind
    reason = check.text(
        ["input", "reason"],
        given.reason,
        REASON_MAX,
        required=kind in (BulkKind.ADJUST_POINTS, BulkKind.ASSIGN_TIER),
    )
    description = check.text(
        ["input", "description"], given.description, REASON_MAX, required=False
    )
    points = given.points
    if kind is BulkKind.ADJUST_POINTS:
        if points is None and data.content is None:
            check.add(
                ErrorCode.REQUIRED, "a segment's adjustment needs points", ["input", "points"]
            )
        if points is not None and (points == 0 or abs(points) > MAX_POINTS_PER_MOVEMENT):
            check.add(
                ErrorCode.INVALID_POINTS,
                f"points must be non-zero and at most {MAX_POINTS_PER_MOVEMENT} either way",
                ["input", "points"],
            )
        elif points is not None and requester.staff_role is not None:
            # Refused at once when every member would be over the key's limit; a file's own
            # amounts are checked member by member.
            check_points_adjustment(requester.staff_role, requester.points_limit, points)
    tier_name = None
    if kind is BulkKind.ASSIGN_TIER:
        tier_name = check.text(["input", "tierName"], given.tier_name, TIER_NAME_MAX)
    if kind is BulkKind.ISSUE_REWARD and given.reward_id is None:
        check.add(ErrorCode.REQUIRED, "rewardId must be given", ["input", "rewardId"])
    consent_note = check.text(
        ["input", "consentNote"],
        given.consent_note,
        REASON_MAX,
        required=kind is BulkKind.ENROLL_MEMBERS and given.marketing_consent,
    )
    if (data.content is None) == (data.segment_key is None):
        check.add(
            ErrorCode.REQUIRED, "give either a file (content) or a segment", ["input", "content"]
        )
    elif kind is BulkKind.ENROLL_MEMBERS and data.segment_key is not None:
        check.add(
            ErrorCode.INVALID_VALUE,
            "a segment's members are enrolled already: enrol from a file",
            ["input", "segmentKey"],
        )
    if data.content is not None and len(data.content) > MAX_CONTENT_CHARACTERS:
        check.add(
            ErrorCode.TOO_LONG,
            f"a file holds at most {MAX_CONTENT_CHARACTERS} characters",
            ["input", "content"],
        )
    check.idempotency_key(data.idempotency_key, required=False)
    return BulkParameters(
        points=points if kind is BulkKind.ADJUST_POINTS else None,
        reason=reason,
        description=description if kind is BulkKind.ADJUST_POINTS else None,
        tier_name=tier_name,
        reward_id=given.reward_id if kind is BulkKind.ISSUE_REWARD else None,
        marketing_consent=given.marketing_consent and kind is BulkKind.ENROLL_MEMBERS,
        consent_note=consent_note if kind is BulkKind.ENROLL_MEMBERS else None,
    )


async def _check_targets(
    program: ProgramRecord, kind: BulkKind, parameters: BulkParameters
) -> None:
    if kind is BulkKind.ASSIGN_TIER:
        tiers = await tier_program_of(program.id)
        if tiers is None or all(tier.name != parameters.tier_name for tier in tiers.tiers):
            raise DomainError(
                ErrorCode.TIER_NOT_FOUND,
                f"no active tier {parameters.tier_name!r}",
                ["input", "tierName"],
            )
    if kind is BulkKind.ISSUE_REWARD:
        assert parameters.reward_id is not None
        await require_giftable_reward(
            connection(), program.id, parameters.reward_id, ["input", "rewardId"], utc_now()
        )


async def _segment_file(program: ProgramRecord, key: str) -> str:
    """The segment's members now, as a file of customer ids in member order."""
    segment = await get_segment_by_key(program.id, key)
    if segment is None or segment.archived_at is not None:
        raise DomainError(ErrorCode.SEGMENT_NOT_FOUND, "no such segment", ["input", "segmentKey"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["customer_id"])
    after = 0
    while True:
        rows = await fetch_all(
            connection(),
            "SELECT m.id, m.customer_id FROM segment_members s JOIN members m ON m.id = s.member_id"
            " WHERE s.segment_id = ? AND m.erased_at IS NULL AND m.id > ? ORDER BY m.id LIMIT ?",
            (segment.id, after, _SEGMENT_PAGE),
        )
        for row in rows:
            writer.writerow([row["customer_id"]])
        if len(rows) < _SEGMENT_PAGE:
            return out.getvalue()
        after = int(rows[-1]["id"])


async def queue_bulk_operation(
    data: QueueBulkInput, scope: ProgramScope, requester: Requester
) -> BulkOperationRecord:
    check = Checker()
    parameters = _check_parameters(data, requester, check)
    check.raise_if_any()
    program = await require_program(data.program_slug, scope, ["input", "programSlug"])
    await _check_targets(program, data.kind, parameters)
    if data.content is not None:
        check_header(data.kind, data.content)
        content = data.content
    else:
        assert data.segment_key is not None
        content = await _segment_file(program, data.segment_key)
    new = NewOperation(
        program_id=program.id,
        kind=data.kind,
        dry_run=data.dry_run,
        segment_key=data.segment_key,
        parameters=asdict(parameters),
        content=content,
        rows_total=count_rows(content),
        api_key_id=requester.api_key_id,
        staff_role=None if requester.staff_role is None else requester.staff_role.value,
        points_limit=requester.points_limit,
    )
    async with in_transaction() as conn:
        record = await create_once_if_keyed(
            conn,
            program_id=program.id,
            key=None if data.idempotency_key is None else data.idempotency_key.strip(),
            operation="bulkOperation",
            payload=input_payload(data),
            now=utc_now(),
            create=lambda: repository.insert(conn, new),
            remember_id_as="bulkOperationId",
            read=_read_on(conn),
        )
    # The import runner runs bulk operations too (app/jobs/imports.py).
    IMPORT_QUEUED.queued()
    return record


def _read_on(
    conn: BaseDBAsyncClient,
) -> Callable[[int], Awaitable[BulkOperationRecord | None]]:
    async def read(operation_id: int) -> BulkOperationRecord | None:
        row = await fetch_one(
            conn,
            f"SELECT {repository.COLUMNS} FROM bulk_operations WHERE id = ?",
            (operation_id,),
        )
        return None if row is None else repository.record_of(row)

    return read


async def get_bulk_operation(operation_id: int, scope: ProgramScope) -> BulkOperationRecord | None:
    record = await repository.read(operation_id)
    if record is None or (scope is not None and record.program_id != scope):
        return None
    return record


async def cancel_bulk_operation(operation_id: int, scope: ProgramScope) -> BulkOperationRecord:
    """A queued operation is cancelled at once; a running one stops before its next member
    (what it did stays done, and its counts say how far it got)."""
    record = await get_bulk_operation(operation_id, scope)
    if record is None:
        raise DomainError(
            ErrorCode.BULK_OPERATION_NOT_FOUND, "no such bulk operation", ["input", "id"]
        )
    if record.status in FINISHED:
        raise DomainError(
            ErrorCode.BULK_OPERATION_FINISHED,
            f"the operation is {record.status.value} already",
            ["input", "id"],
        )
    cancelled = await repository.request_cancel(operation_id)
    assert cancelled is not None
    return cancelled
