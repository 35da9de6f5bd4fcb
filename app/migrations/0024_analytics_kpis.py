"""Analytics: the program's cost per point (decimal text, minor units of its currency), which
values the points liability in money (null until configured), and whether its secret keys may
read its analytics; an index of the rollups by metric and day (readers ask for the daily
counters without the customer-activity rows, or for some months of those)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0023_analytics')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Program',
            name='cost_per_point_minor',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Program',
            name='insights_for_secret_keys',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddIndex(
            model_name='AnalyticsDay',
            index=Index(fields=['program_id', 'metric', 'day']),
        ),
    ]
