from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class ImportJob(Model):
    """An import (or bulk operation) run as a job: what it was given and how far it got."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="import_jobs", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    file_format = fields.CharField(max_length=8)
    dry_run = fields.BooleanField(default=False)
    # QUEUED, RUNNING, DONE or FAILED.
    status = fields.CharField(max_length=16)
    # The uploaded file (an upload through the API is bounded by the request size); emptied
    # once the job is done.
    content = fields.TextField(null=True)
    bytes_total = fields.BigIntField(default=0)
    bytes_read = fields.BigIntField(default=0)
    items = fields.IntField(default=0)
    imported = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    # The first row errors: [{line, field, code, message}].
    errors: Any = fields.JSONField(default=list)
    failure = fields.TextField(null=True)
    # While RUNNING: the runner renews this (app/services/core/leases.py); once it has passed, the
    # runner is taken for dead and the next one resumes the job. `claims` counts the runners
    # that took it, so a runner whose job was taken over stops.
    lease_until = fields.DatetimeField(null=True)
    claims = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "import_jobs"
        indexes = (("status", "id"),)
