from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_order_refunded_amount')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditLogEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('api_key_id', fields.BigIntField()),
                ('operation', fields.CharField(max_length=64)),
                ('target_type', fields.CharField(null=True, max_length=32)),
                ('target_id', fields.CharField(null=True, max_length=200)),
                ('input', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('before', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('succeeded', fields.BooleanField()),
                ('request_id', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'indexes': [Index(fields=['created_at']), Index(fields=['target_type', 'target_id'])], 'pk_attr': 'id', 'table_description': 'One write made with an admin key: who, what, when, and the target before and after.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TokenSigningSecret',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='token_secrets', on_delete=OnDelete.RESTRICT)),
                ('key_id', fields.CharField(unique=True, max_length=32)),
                ('secret', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('retires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'token_signing_secrets', 'app': 'models', 'pk_attr': 'id', 'table_description': "A program's secret for signing member tokens. Rotation retires the older ones after an"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ActionRule',
            name='self_service',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='rate_limit_burst',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='rate_limit_per_second',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Program',
            name='cors_origins',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Program',
            name='member_token_max_seconds',
            field=fields.IntField(default=900, db_default=900),
        ),
    ]
