"""Segment types: a segment with its definition, versions and size, and a member's place in one."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.domain.segments import SegmentField, SegmentOperator
from app.graphql.core.context import Info
from app.graphql.core.node import Node
from app.graphql.core.records import from_record
from app.services.segments import service as segments_service
from app.services.segments.service import MemberSegment as MemberSegmentRecord
from app.services.segments.service import SegmentRecord

SegmentFieldEnum = strawberry.enum(
    SegmentField,
    name="SegmentField",
    description="The fact of a member a condition compares (docs/capabilities/segments.md).",
)
SegmentOperatorEnum = strawberry.enum(
    SegmentOperator,
    name="SegmentOperator",
    description="EQ..GTE compare numbers, dates and texts; IN / NOT_IN test a list.",
)


@strawberry.input(
    description="A condition: exactly one of `all` (every one holds), `any` (at least one"
    " holds) or `field` (a comparison, with `operator` and `value`)."
)
class SegmentConditionInput:
    all: list[SegmentConditionInput] | None = None
    any: list[SegmentConditionInput] | None = None
    field: SegmentFieldEnum | None = None  # type: ignore[valid-type]
    operator: SegmentOperatorEnum | None = None  # type: ignore[valid-type]
    value: JSON | None = strawberry.field(
        default=None,
        description="A whole number (counts, amounts in minor units, days), a list for IN /"
        " NOT_IN, or for an attribute a value of its type.",
    )
    window_days: int | None = strawberry.field(
        default=None,
        description="ORDER_COUNT, SPEND and CHANNEL: only orders of the last this many days.",
    )
    attribute: str | None = strawberry.field(
        default=None, description="ATTRIBUTE: the name of one of the program's member attributes."
    )


def raw_condition(condition: SegmentConditionInput) -> dict[str, object]:
    """The input as the definition's JSON (app/domain/segments.py parses and checks it)."""
    raw: dict[str, object] = {}
    if condition.all is not None:
        raw["all"] = [raw_condition(item) for item in condition.all]
    if condition.any is not None:
        raw["any"] = [raw_condition(item) for item in condition.any]
    if condition.field is not None:
        raw["field"] = SegmentField(condition.field).value
        raw["operator"] = (
            None if condition.operator is None else SegmentOperator(condition.operator).value
        )
        raw["value"] = condition.value
        if condition.window_days is not None:
            raw["windowDays"] = condition.window_days
        if condition.attribute is not None:
            raw["attribute"] = condition.attribute
    return raw


@strawberry.type(description="One saved definition of a segment; versions never change.")
class SegmentVersion:
    version: int
    condition: JSON
    created_at: datetime


@strawberry.type(description="A group of the program's members described by conditions.")
class Segment(Node):
    key: str = strawberry.field(description="What rules and rewards target it by.")
    name: str
    description: str
    condition: JSON = strawberry.field(description="The current version's definition.")
    version: int
    time_based: bool = strawberry.field(
        description="Whether the clock alone moves members in or out (the segments job"
        " re-evaluates it on each run)."
    )
    archived_at: datetime | None
    refreshed_at: datetime | None = strawberry.field(
        description="When every member was last evaluated; null until the first refresh of"
        " this version (memberCount then counts the members known so far)."
    )
    created_at: datetime
    updated_at: datetime
    segment_pk: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: SegmentRecord) -> Segment:
        return from_record(cls, record, condition=JSON(record.definition), segment_pk=record.id)

    @strawberry.field(description="Members in the segment now (kept as they change).")
    async def member_count(self) -> int:
        counts = await segments_service.member_counts([self.segment_pk])
        return counts[self.segment_pk]

    @strawberry.field(description="Every saved definition, newest first.")
    async def versions(self) -> list[SegmentVersion]:
        found = await segments_service.segment_versions(self.segment_pk)
        return [
            from_record(SegmentVersion, item, condition=JSON(item.definition)) for item in found
        ]


@strawberry.type(description="A segment a member is in, and since when.")
class MemberSegment:
    segment: Segment
    entered_at: datetime

    @classmethod
    def from_record(cls, record: MemberSegmentRecord) -> MemberSegment:
        return cls(segment=Segment.from_record(record.segment), entered_at=record.entered_at)


async def member_segments_of(info: Info, member_id: int) -> list[MemberSegment]:
    found = await info.context.loaders.segments.load(member_id)
    return [MemberSegment.from_record(item) for item in found]
