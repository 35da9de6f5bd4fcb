from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.members import Member
    from app.models.programs import Program

# How long a segment's key may be (the column's width).
SEGMENT_KEY_MAX_LENGTH = 64


class Segment(Model):
    """A group of a program's members described by conditions (app/domain/segments.py)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation[Program] = fields.ForeignKeyField(
        "models.Program", related_name="segments", on_delete=fields.RESTRICT
    )
    # What rules and rewards name it by (eligibleSegments, requiredSegments).
    key = fields.CharField(max_length=SEGMENT_KEY_MAX_LENGTH)
    name = fields.CharField(max_length=200)
    description = fields.CharField(max_length=2000, default="")
    # The current version's definition; every version is kept in segment_versions.
    definition: Any = fields.JSONField()
    version = fields.IntField(default=1)
    # Whether the clock alone moves members in or out (the refresh job re-evaluates these).
    time_based = fields.BooleanField(default=False)
    archived_at = fields.DatetimeField(null=True)
    # When the membership table was last brought up to date for every member.
    refreshed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "segments"
        unique_together = (("program", "key"),)


class SegmentVersion(Model):
    """A segment's definition as it was saved: versions are never changed."""

    id = fields.BigIntField(primary_key=True)
    segment: fields.ForeignKeyRelation[Segment] = fields.ForeignKeyField(
        "models.Segment", related_name="versions", on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    definition: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "segment_versions"
        unique_together = (("segment", "version"),)


class SegmentMember(Model):
    """A member in a segment now: kept as members change, and by the refresh job for
    conditions the clock moves (app/services/segments/membership.py)."""

    id = fields.BigIntField(primary_key=True)
    segment: fields.ForeignKeyRelation[Segment] = fields.ForeignKeyField(
        "models.Segment", related_name="memberships", on_delete=fields.RESTRICT
    )
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "models.Member", related_name="segment_memberships", on_delete=fields.RESTRICT
    )
    entered_at = fields.DatetimeField()

    class Meta:
        table = "segment_members"
        unique_together = (("segment", "member"),)
        indexes = (("member_id",),)
