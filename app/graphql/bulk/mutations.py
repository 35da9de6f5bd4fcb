"""Bulk operation mutations (admin): change many members as one job, or cancel one.

Each queues an operation and returns it at once; follow it with `bulkOperation` (or `node`).
The members come from `content` (CSV with a header row, or JSON Lines) or from `segmentKey` (its
members when queued). The same `idempotencyKey` and input returns the same operation.
"""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from app.auth.api_keys import Principal
from app.domain.bulk import BulkKind
from app.graphql.bulk.types import BulkOperation
from app.graphql.core.context import Info
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.jobs import admin_job
from app.graphql.core.mutations import mutation
from app.services.bulk import service as bulk_service
from app.services.bulk.repository import BulkOperationRecord

_CONTENT = (
    "The file's text, CSV with a header row or JSON Lines (one object a line), within the"
    " request size limit (columns: docs/capabilities/bulk-operations.md); or give segmentKey."
)
_DRY_RUN = "Check and count every record; write nothing."
_KEY = "The same key and input returns the same operation instead of queueing another."


@strawberry.input
class _QueueInput:
    """What every bulk operation's input has, its own fields after these."""

    program_slug: str
    content: str | None = strawberry.field(default=None, description=_CONTENT)
    dry_run: bool = strawberry.field(default=False, description=_DRY_RUN)
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.input
class _MembersInput(_QueueInput):
    """The members from a file (`content`) or from a segment."""

    segment_key: str | None = None


@strawberry.input
class BulkAdjustPointsInput(_MembersInput):
    reason: str = strawberry.field(description="Staff's note, in the audit log.")
    points: int | None = strawberry.field(
        default=None,
        description="Points for every member (a file's `points` column overrides it).",
    )
    description: str | None = strawberry.field(
        default=None, description="What members read in their activity."
    )


@strawberry.input
class BulkAssignTierInput(_MembersInput):
    tier_name: str
    reason: str


@strawberry.input
class BulkEnrollMembersInput(_QueueInput):
    content: str = strawberry.field(
        description="CSV or JSON Lines: customer_id and/or email (an e-mail alone becomes the"
        " customer id), name, locale."
    )
    marketing_consent: bool = strawberry.field(
        description="Whether the list consented to marketing: recorded on every member enrolled."
    )
    consent_note: str | None = strawberry.field(
        default=None,
        description="How the consent was given (required with marketingConsent): kept with the"
        " operation and its audit entries.",
    )


@strawberry.input
class BulkIssueRewardInput(_MembersInput):
    reward_id: strawberry.ID
    reason: str | None = strawberry.field(
        default=None, description="What members read: '<reason>: <reward>'."
    )


@strawberry.input
class CancelBulkOperationInput:
    id: strawberry.ID


@strawberry.type
class BulkOperationPayload:
    bulk_operation: BulkOperation | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _queue(
    info: Info,
    kind: BulkKind,
    input: _QueueInput,
    parameters: bulk_service.BulkParameters,
    segment_key: str | None = None,
) -> BulkOperationPayload:
    queued = bulk_service.QueueBulkInput(
        program_slug=input.program_slug,
        kind=kind,
        parameters=parameters,
        content=input.content,
        segment_key=segment_key,
        dry_run=input.dry_run,
        idempotency_key=input.idempotency_key,
    )

    def queue(principal: Principal) -> Awaitable[BulkOperationRecord]:
        requester = bulk_service.Requester(
            api_key_id=principal.key_id,
            staff_role=principal.staff_role,
            points_limit=principal.points_adjustment_limit,
        )
        return bulk_service.queue_bulk_operation(queued, principal.program_scope, requester)

    return BulkOperationPayload(bulk_operation=await admin_job(info, BulkOperation, queue))


@mutation(
    description="Admin only: credit or debit points for every member of a file or a segment,"
    " as a job. A support key adjusts each member at most its limit."
)
async def bulk_adjust_points(info: Info, input: BulkAdjustPointsInput) -> BulkOperationPayload:
    return await _queue(
        info,
        BulkKind.ADJUST_POINTS,
        input,
        bulk_service.BulkParameters(
            points=input.points, reason=input.reason, description=input.description
        ),
        input.segment_key,
    )


@mutation(description="Admin only: assign a tier to every member of a file or a segment.")
async def bulk_assign_tier(info: Info, input: BulkAssignTierInput) -> BulkOperationPayload:
    return await _queue(
        info,
        BulkKind.ASSIGN_TIER,
        input,
        bulk_service.BulkParameters(tier_name=input.tier_name, reason=input.reason),
        input.segment_key,
    )


@mutation(
    description="Admin only: enrol a mailing list (customers already enrolled are skipped),"
    " with its consent to marketing."
)
async def bulk_enroll_members(info: Info, input: BulkEnrollMembersInput) -> BulkOperationPayload:
    return await _queue(
        info,
        BulkKind.ENROLL_MEMBERS,
        input,
        bulk_service.BulkParameters(
            marketing_consent=input.marketing_consent, consent_note=input.consent_note
        ),
    )


@mutation(
    description="Admin only: give a catalogue reward to every member of a file or a segment"
    " (their points do not change)."
)
async def bulk_issue_reward(info: Info, input: BulkIssueRewardInput) -> BulkOperationPayload:
    reward_id = decode_id(input.reward_id, "Reward", ["input", "rewardId"])
    return await _queue(
        info,
        BulkKind.ISSUE_REWARD,
        input,
        bulk_service.BulkParameters(reward_id=reward_id, reason=input.reason),
        input.segment_key,
    )


@mutation(
    description="Admin only: cancel a queued bulk operation, or stop a running one before its"
    " next member (what was done stays done; its counts say how far it got)."
)
async def cancel_bulk_operation(
    info: Info, input: CancelBulkOperationInput
) -> BulkOperationPayload:
    def cancel(principal: Principal) -> Awaitable[BulkOperationRecord]:
        pk = decode_id(input.id, "BulkOperation", ["input", "id"])
        return bulk_service.cancel_bulk_operation(pk, principal.program_scope)

    job = await admin_job(info, BulkOperation, cancel)
    return BulkOperationPayload(bulk_operation=job)
