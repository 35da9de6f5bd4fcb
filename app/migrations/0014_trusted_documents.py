from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_rate_limit_buckets')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TrustedDocument',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='trusted_documents', on_delete=OnDelete.CASCADE)),
                ('sha256', fields.CharField(max_length=64)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('document', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'trusted_documents', 'app': 'models', 'unique_together': (('program', 'sha256'),), 'pk_attr': 'id', 'table_description': "A query document a program's store registered from its build (a persisted-query"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Program',
            name='cors_allowed_headers',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Program',
            name='trusted_documents_only',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
