"""Imports: the jobs that import files (and their progress), and events marked as replayed
history, which the webhook fan-out skips."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0025_staff_roles')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxEvent',
            name='replayed',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.CreateModel(
            name='ImportJob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='import_jobs', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('file_format', fields.CharField(max_length=8)),
                ('dry_run', fields.BooleanField(default=False)),
                ('status', fields.CharField(max_length=16)),
                ('content', fields.TextField(null=True, unique=False)),
                ('bytes_total', fields.BigIntField(default=0)),
                ('bytes_read', fields.BigIntField(default=0)),
                ('items', fields.IntField(default=0)),
                ('imported', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('errors', fields.JSONField(default=list)),
                ('failure', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'import_jobs', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'An import (or bulk operation) run as a job: what it was given and how far it got.'},
            bases=['Model'],
        ),
    ]
