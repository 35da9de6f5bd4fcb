from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

import importlib
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

_guards = importlib.import_module("app.migrations.0002_integrity_guards")

# What the services check before writing, held by the database too.
CHECKS = [
    (
        "ck_rewards_percent_off_in_range",
        "rewards",
        "{row}percent_off IS NULL OR ({row}percent_off >= 1 AND {row}percent_off <= 100)",
        "percent_off",
    ),
    (
        "ck_redemptions_status_known",
        "redemptions",
        "{row}status IN ('ISSUED', 'USED', 'EXPIRED', 'CANCELLED')",
        "status",
    ),
    (
        "ck_redemptions_used_has_order",
        "redemptions",
        "{row}status <> 'USED' OR {row}used_order_id IS NOT NULL OR {row}used_at IS NOT NULL",
        "status, used_order_id, used_at",
    ),
]

# The expiry job reads only issued codes with a date, oldest first.
INDEXES = [
    "CREATE INDEX ix_redemptions_expiring ON redemptions (expires_at, id)"
    " WHERE status = 'ISSUED' AND expires_at IS NOT NULL",
]


async def add_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in [*INDEXES, *_guards.check_statements(CHECKS, is_postgres)]:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0008_tiers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RedemptionSettings',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.OneToOneField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='redemption_settings', on_delete=OnDelete.RESTRICT)),
                ('expired_codes_return_points', fields.BooleanField(default=False)),
                ('points_per_currency_unit', fields.IntField(default=100)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'redemption_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "A program's redemption settings (no row: the defaults, see redemption_codes.py)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RewardCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='reward_codes', on_delete=OnDelete.RESTRICT)),
                ('reward', fields.ForeignKeyField('models.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', null=True, db_constraint=True, to_field='id', related_name='pool_codes', on_delete=OnDelete.RESTRICT)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reward_codes', 'app': 'models', 'indexes': [Index(fields=['reward_id', 'redemption_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A code the store uploaded for a POOL reward (`redemption` is set when it is handed out).'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Redemption',
            options={'table': 'redemptions', 'app': 'models', 'indexes': [Index(fields=['member_id', 'reward_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "A reward bought with points (or given), carrying the code the store's checkout honours."},
        ),
        ops.AddField(
            model_name='Redemption',
            name='cancelled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Redemption',
            name='charity_name',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Redemption',
            name='currency',
            field=fields.CharField(null=True, max_length=3),
        ),
        ops.AddField(
            model_name='Redemption',
            name='expired_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Redemption',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Redemption',
            name='reversal_transaction',
            field=fields.ForeignKeyField('models.LedgerTransaction', source_field='reversal_transaction_id', null=True, db_constraint=True, to_field='id', related_name='reversed_redemptions', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Redemption',
            name='source',
            field=fields.CharField(default='PURCHASE', db_default='PURCHASE', max_length=16),
        ),
        ops.AddField(
            model_name='Redemption',
            name='used_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Redemption',
            name='used_order_id',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='Redemption',
            name='value_minor',
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name='Redemption',
            index=Index(fields=['member_id', 'reward_id', 'created_at']),
        ),
        ops.AddField(
            model_name='Reward',
            name='categories',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Reward',
            name='charity_name',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Reward',
            name='code_source',
            field=fields.CharField(default='GENERATED', db_default='GENERATED', max_length=16),
        ),
        ops.AddField(
            model_name='Reward',
            name='code_valid_days',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='currency',
            field=fields.CharField(null=True, max_length=3),
        ),
        ops.AddField(
            model_name='Reward',
            name='ends_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Reward',
            name='image_urls',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Reward',
            name='limit_period',
            field=fields.CharField(default='EVER', db_default='EVER', max_length=8),
        ),
        ops.AddField(
            model_name='Reward',
            name='max_value_minor',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='minimum_order_minor',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='per_member_limit',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='percent_off',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='points_max',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='points_min',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='points_step',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Reward',
            name='required_segments',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Reward',
            name='required_tiers',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Reward',
            name='retired_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Reward',
            name='skus',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Reward',
            name='starts_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Reward',
            name='updated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(add_guards),
    ]
