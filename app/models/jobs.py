"""The columns every background job row has (imports, bulk operations): its kind, its state, how
many rows it skipped or failed, and the lease a runner holds while it runs."""

from typing import Any

from tortoise import fields
from tortoise.models import Model


class JobRow(Model):
    """Abstract: no table of its own. Each job keeps its own program relation (its related name
    differs) and the counters that only it has."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    dry_run = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16)
    content = fields.TextField(null=True)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    # The first row errors: [{line, field, code, message}].
    errors: Any = fields.JSONField(default=list)
    failure = fields.TextField(null=True)
    # While RUNNING: the runner renews this (app/services/core/leases.py); once it has passed, the
    # runner is taken for dead and the next one resumes the job. `claims` counts the runners
    # that took it, so a runner whose job was taken over stops.
    lease_until = fields.DatetimeField(null=True)
    claims = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        abstract = True
