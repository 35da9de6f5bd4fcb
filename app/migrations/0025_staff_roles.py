"""Staff roles: an admin key may carry a role (owner, marketing, support, read_only) that limits
what it may do (app/domain/roles.py), and a support key the most points one adjustment may move.

Keys made before keep a NULL role, which is the owner's: everything, as before.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0024_analytics_kpis')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiKey',
            name='role',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='points_adjustment_limit',
            field=fields.IntField(null=True),
        ),
    ]
