from typing import TYPE_CHECKING

from tortoise import fields

from app.models.jobs import JobRow

if TYPE_CHECKING:
    from app.models.programs import Program


class ImportJob(JobRow):
    """An import (or bulk operation) run as a job: what it was given and how far it got."""

    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="import_jobs", on_delete=fields.RESTRICT
    )
    file_format = fields.CharField(max_length=8)
    # Status: QUEUED, RUNNING, DONE or FAILED. `content` is the uploaded file (an upload through
    # the API is bounded by the request size); emptied once the job is done.
    bytes_total = fields.BigIntField(default=0)
    bytes_read = fields.BigIntField(default=0)
    items = fields.IntField(default=0)
    imported = fields.IntField(default=0)

    class Meta:
        table = "import_jobs"
        indexes = (("status", "id"),)
