from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class BulkOperation(Model):
    """A change to many members run as a job (app/services/bulk/): what it was asked to do, for
    whom, and how far it got."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="bulk_operations", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    dry_run = fields.BooleanField(default=False)
    # QUEUED, RUNNING, DONE, FAILED or CANCELLED.
    status = fields.CharField(max_length=16)
    cancel_requested = fields.BooleanField(default=False)
    # The segment the members were taken from (its members when the operation was queued), or
    # null for a file.
    segment_key = fields.CharField(max_length=64, null=True)
    # What every member gets: points, reason, description, tier, reward, consent.
    parameters: Any = fields.JSONField(default=dict)
    # The CSV (for a segment, its members' customer ids); emptied once the operation is over.
    content = fields.TextField(null=True)
    rows_total = fields.IntField(default=0)
    # Records handled, in file order: a resumed operation starts after them.
    position = fields.IntField(default=0)
    applied = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    points = fields.BigIntField(default=0)
    # The first row errors: [{line, field, code, message}].
    errors: Any = fields.JSONField(default=list)
    failure = fields.TextField(null=True)
    # Who queued it: the admin key (null from the command line), and a support key's role and
    # points limit, which apply to every member.
    api_key_id = fields.BigIntField(null=True)
    staff_role = fields.CharField(max_length=16, null=True)
    points_limit = fields.IntField(null=True)
    # While RUNNING: the runner renews this (app/services/core/leases.py); once it has passed, the
    # runner is taken for dead and the next one resumes the job. `claims` counts the runners
    # that took it, so a runner whose job was taken over stops.
    lease_until = fields.DatetimeField(null=True)
    claims = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "bulk_operations"
        indexes = (("status", "id"),)
