from typing import TYPE_CHECKING, Any

from tortoise import fields

from app.models.jobs import JobRow

if TYPE_CHECKING:
    from app.models.programs import Program


class BulkOperation(JobRow):
    """A change to many members run as a job (app/services/bulk/): what it was asked to do, for
    whom, and how far it got."""

    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="bulk_operations", on_delete=fields.RESTRICT
    )
    # Status: QUEUED, RUNNING, DONE, FAILED or CANCELLED.
    cancel_requested = fields.BooleanField(default=False)
    # The segment the members were taken from (its members when the operation was queued), or
    # null for a file.
    segment_key = fields.CharField(max_length=64, null=True)
    # What every member gets: points, reason, description, tier, reward, consent.
    parameters: Any = fields.JSONField(default=dict)
    # `content` is the CSV (for a segment, its members' customer ids); emptied once the
    # operation is over.
    rows_total = fields.IntField(default=0)
    # Records handled, in file order: a resumed operation starts after them.
    position = fields.IntField(default=0)
    applied = fields.IntField(default=0)
    points = fields.BigIntField(default=0)
    # Who queued it: the admin key (null from the command line), and a support key's role and
    # points limit, which apply to every member.
    api_key_id = fields.BigIntField(null=True)
    staff_role = fields.CharField(max_length=16, null=True)
    points_limit = fields.IntField(null=True)

    class Meta:
        table = "bulk_operations"
        indexes = (("status", "id"),)
