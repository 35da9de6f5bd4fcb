"""Bulk operations: changes to many members (points, tiers, enrolment, rewards) run as jobs,
with their progress and row errors (app/services/bulk/)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0028_config_version')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BulkOperation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='bulk_operations', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('dry_run', fields.BooleanField(default=False)),
                ('status', fields.CharField(max_length=16)),
                ('cancel_requested', fields.BooleanField(default=False)),
                ('segment_key', fields.CharField(null=True, max_length=64)),
                ('parameters', fields.JSONField(default=dict)),
                ('content', fields.TextField(null=True, unique=False)),
                ('rows_total', fields.IntField(default=0)),
                ('position', fields.IntField(default=0)),
                ('applied', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('points', fields.BigIntField(default=0)),
                ('errors', fields.JSONField(default=list)),
                ('failure', fields.TextField(null=True, unique=False)),
                ('api_key_id', fields.BigIntField(null=True)),
                ('staff_role', fields.CharField(null=True, max_length=16)),
                ('points_limit', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'bulk_operations', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A change to many members run as a job (app/services/bulk/): what it was asked to do, for\nwhom, and how far it got.'},
            bases=['Model'],
        ),
    ]
