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
        # (many more) customer-activity rows, or the customer rows of some months.
        indexes = (("program_id", "metric", "day"),)
