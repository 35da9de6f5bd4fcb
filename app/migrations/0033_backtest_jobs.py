"""Backtest jobs: a backtest run in the background (`startBacktest`), its progress and result."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0032_analytics_summaries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BacktestJob',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='backtest_jobs', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(max_length=16)),
                ('input', fields.JSONField()),
                ('orders_total', fields.BigIntField(default=0)),
                ('orders_done', fields.BigIntField(default=0)),
                ('result', fields.JSONField(null=True)),
                ('failure', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'backtest_jobs', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A backtest run in the background: the proposal it was given, how far it got, its result.'},
            bases=['Model'],
        ),
    ]
