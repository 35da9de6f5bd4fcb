"""Segment queries: the program's segments, and a preview of conditions before saving them."""

from __future__ import annotations

import strawberry

from app.graphql.core.connection import Connection, Edges, page_size
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.programs import program_keyset_page
from app.graphql.core.query_checks import admin_in_query
from app.graphql.members.types import Member
from app.graphql.segments.types import Segment, SegmentConditionInput, raw_condition
from app.services.segments import service as segments_service

_segment_edges = Edges("Segment", Segment.from_record)


@strawberry.type(description="What a definition would select now; nothing is saved.")
class SegmentPreview:
    count: int = strawberry.field(description="Members the conditions hold for now.")
    sample: list[Member] = strawberry.field(description="The newest of them.")


@strawberry.field(description="Admin only: the program's segments, oldest first.")
async def segments(
    info: Info,
    program_slug: str,
    include_archived: bool = False,
    first: int = 50,
    after: str | None = None,
) -> Connection[Segment]:
    principal = admin_in_query(info)
    page_size(first)
    return await program_keyset_page(
        program_slug,
        principal.program_scope,
        lambda program_id, position, limit: segments_service.list_segments(
            program_id, include_archived=include_archived, after_id=position, limit=limit
        ),
        first=first,
        after=after,
        edges=_segment_edges,
    )


@strawberry.field(
    description="Admin only: how many members conditions select now, and a sample, before the"
    " segment is saved. Invalid conditions are errors with the code and path of each problem."
)
async def segment_preview(
    info: Info, program_slug: str, condition: SegmentConditionInput, sample_size: int = 10
) -> SegmentPreview:
    principal = admin_in_query(info)
    with as_query_errors():
        preview = await segments_service.preview_segment(
            program_slug, raw_condition(condition), sample_size, principal.program_scope
        )
    return SegmentPreview(
        count=preview.count, sample=[Member.from_record(record) for record in preview.sample]
    )
