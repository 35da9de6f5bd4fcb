"""The columns background job rows share. Every job (imports, bulk operations, backtests) has a
state and the moments it was queued, touched and finished (`JobState`); the jobs that read a file
row by row (imports, bulk operations) also have a kind, the file, the rows they skipped or
failed, and the lease a runner holds while it runs (`JobRow`)."""

from typing import Any

from tortoise import fields
from tortoise.models import Model


class JobState(Model):
    """Abstract: no table of its own. Each job keeps its own program relation (its related name
    differs) and the counters that only it has."""

    id = fields.BigIntField(primary_key=True)
    # QUEUED, RUNNING, DONE or FAILED (a bulk operation may also be CANCELLED).
    status = fields.CharField(max_length=16)
    failure = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        abstract = True


class JobRow(JobState):
    """Abstract: a job that works through a file's rows."""

    kind = fields.CharField(max_length=32)
    dry_run = fields.BooleanField(default=False)
    content = fields.TextField(null=True)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    # The first row errors: [{line, field, code, message}].
    errors: Any = fields.JSONField(default=list)
    # While RUNNING: the runner renews this (app/services/core/leases.py); once it has passed, the
    # runner is taken for dead and the next one resumes the job. `claims` counts the runners
    # that took it, so a runner whose job was taken over stops.
    lease_until = fields.DatetimeField(null=True)
    claims = fields.IntField(default=0, db_default=0)

    class Meta:
        abstract = True
