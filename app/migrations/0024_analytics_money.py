"""Analytics: the program's cost per point (decimal text, minor units of its currency), which
values the points liability in money (null until configured), and whether its secret keys may
read its analytics."""

from tortoise import fields, migrations
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
    ]
