from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from app.models.programs import Program


class AnalyticsDay(Model):
    """One counter of one program on one day of the program's time zone: kept by the writes
    that move it, in their transaction, and recomputed by `laurel analytics rebuild`
    (app/services/analytics/rollups.py names the metrics)."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="analytics_days", on_delete=fields.RESTRICT
    )
    day = fields.DateField()
    metric = fields.CharField(max_length=64)
    # What the metric is split by (an order channel, a transaction kind...), '' for nothing.
    dimension = fields.CharField(max_length=64, default="", db_default="")
    value = fields.BigIntField(default=0)
    # PostgreSQL: writers add to the row of their connection's shard (pg_backend_pid() % 64),
    # so concurrent writes of one day do not queue on one row; readers sum the shards.
    shard = fields.SmallIntField(default=0, db_default=0)

    class Meta:
        table = "analytics_days"
        unique_together = (("program", "day", "metric", "dimension", "shard"),)
        # Readers ask for some metrics over a range of days: the daily counters without the
        # (many more) customer-activity rows, or the customer rows of some months; or the
        # rows of some customers (those active in the months not settled yet).
        indexes = (("program_id", "metric", "day"), ("program_id", "dimension", "day"))


class AnalyticsSummary(Model):
    """The customer figures of a settled period, computed once from the customer-activity rows
    (app/services/analytics/summaries.py): `kind` 'customers' (a span of whole months, with
    `parameter` the inactivity threshold), 'cohort' (one enrolment month's cell of one later
    month, `parameter` 0) or 'open:YYYY-MM' (the rows up to that newest settled month of a span
    that reaches past it, `parameter` the threshold). 'live:YYYY-MM' and 'cells:YYYY-MM' are
    the lagged snapshots of the figures past that month (app/services/analytics/
    open_snapshots.py): a span's, and a cohort's cells up to `last_month`."""

    id = fields.BigIntField(primary_key=True)
    program: fields.ForeignKeyRelation["Program"] = fields.ForeignKeyField(
        "models.Program", related_name="analytics_summaries", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16)
    first_month = fields.DateField()
    last_month = fields.DateField()
    parameter = fields.IntField(default=0)
    # The sum of the late-write marks of the months read when it was computed: when the sum
    # now differs, a late write changed those months and the summary is stale.
    marks = fields.BigIntField(default=0)
    figures = fields.TextField()  # JSON
    computed_at = fields.DatetimeField()

    class Meta:
        table = "analytics_summaries"
        unique_together = (("program", "kind", "first_month", "last_month", "parameter"),)
