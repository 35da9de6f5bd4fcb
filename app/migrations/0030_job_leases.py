"""Job leases: a running import or bulk operation holds a lease its runner renews; once the
lease has passed (the runner died), the next runner takes the job and resumes it
(app/services/core/leases.py)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0029_bulk_operations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ImportJob',
            name='lease_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ImportJob',
            name='claims',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='BulkOperation',
            name='lease_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='BulkOperation',
            name='claims',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
