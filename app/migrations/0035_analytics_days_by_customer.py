"""A customer's activity rows by (program_id, dimension, day): programInsights of a span that
reaches an unsettled month reads the rows of the customers of those months only
(app/services/analytics/summaries.py), which the index on (program_id, metric, day) cannot
find without reading every customer's rows of the span."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0034_orders_by_time")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="AnalyticsDay",
            index=Index(fields=["program_id", "dimension", "day"]),
        ),
    ]
