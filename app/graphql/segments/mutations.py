"""Segment mutations (admin keys): create, change (a new version), archive, refresh now."""

from __future__ import annotations

import strawberry

from app.graphql.core.admin_writes import RecordPayloads
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.segments.types import Segment, SegmentConditionInput, raw_condition
from app.services.segments import service as segments_service


@strawberry.input
class CreateSegmentInput:
    program_slug: str
    key: str = strawberry.field(
        description="What earning rules (eligibleSegments) and rewards (requiredSegments) name"
        " it by: lowercase letters, digits, - and _. Never reused in the program."
    )
    name: str
    condition: SegmentConditionInput
    description: str = ""
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.input
class UpdateSegmentInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    condition: SegmentConditionInput | None = strawberry.field(
        default=None,
        description="New conditions: a new version, whose members are re-evaluated (those who"
        " enter or leave are announced). Left out: the conditions stay.",
    )


@strawberry.input
class SegmentIdInput:
    id: strawberry.ID


@strawberry.type
class SegmentPayload:
    segment: Segment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


_segments = RecordPayloads("Segment", Segment.from_record, SegmentPayload, "segment")


@strawberry.type
class RefreshSegmentPayload:
    segment: Segment | None = None
    entered: int = strawberry.field(default=0, description="Members who entered.")
    left: int = strawberry.field(default=0, description="Members who left.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _segment_id(id: strawberry.ID) -> int:
    return decode_id(id, "Segment", ["input", "id"])


@mutation(
    description="Admin only: save a segment. A program of up to 20,000 members has its"
    " members evaluated before the answer; a larger one by the segments job (refreshedAt is"
    " null until then) or refreshSegment."
)
async def create_segment(info: Info, input: CreateSegmentInput) -> SegmentPayload:
    principal = admin(info)
    record = await segments_service.create_segment(
        segments_service.CreateSegmentInput(
            program_slug=input.program_slug,
            key=input.key,
            name=input.name,
            description=input.description,
            condition=raw_condition(input.condition),
            idempotency_key=input.idempotency_key,
        ),
        principal.program_scope,
    )
    return SegmentPayload(segment=Segment.from_record(record))


@mutation(description="Admin only: rename a segment or give it new conditions (a new version).")
async def update_segment(info: Info, input: UpdateSegmentInput) -> SegmentPayload:
    principal = admin(info)
    record = await segments_service.update_segment(
        segments_service.UpdateSegmentInput(
            id=_segment_id(input.id),
            name=input.name,
            description=input.description,
            condition=None if input.condition is None else raw_condition(input.condition),
        ),
        principal.program_scope,
    )
    return SegmentPayload(segment=Segment.from_record(record))


@mutation(
    description="Admin only: stop keeping a segment (SEGMENT_IN_USE while an earning rule or"
    " a reward targets it). Archiving again changes nothing."
)
async def archive_segment(info: Info, input: SegmentIdInput) -> SegmentPayload:
    return await _segments.by_id(admin(info), input.id, segments_service.archive_segment)


@mutation(description="Admin only: evaluate every member of the segment now.")
async def refresh_segment(info: Info, input: SegmentIdInput) -> RefreshSegmentPayload:
    principal = admin(info)
    segment_id = _segment_id(input.id)
    result = await segments_service.refresh_now(segment_id, principal.program_scope)
    record = await segments_service.get_segment(segment_id, principal.program_scope)
    return RefreshSegmentPayload(
        segment=None if record is None else Segment.from_record(record),
        entered=result.entered,
        left=result.left,
    )
