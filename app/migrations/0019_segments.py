from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_order_channel')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Segment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='segments', on_delete=OnDelete.RESTRICT)),
                ('key', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.CharField(default='', max_length=2000)),
                ('definition', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('version', fields.IntField(default=1)),
                ('time_based', fields.BooleanField(default=False)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refreshed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'segments', 'app': 'models', 'unique_together': (('program', 'key'),), 'pk_attr': 'id', 'table_description': "A group of a program's members described by conditions (app/domain/segments.py)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SegmentMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('segment', fields.ForeignKeyField('models.Segment', source_field='segment_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='segment_memberships', on_delete=OnDelete.RESTRICT)),
                ('entered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'segment_members', 'app': 'models', 'unique_together': (('segment', 'member'),), 'indexes': [Index(fields=['member_id'])], 'pk_attr': 'id', 'table_description': 'A member in a segment now: kept as members change, and by the refresh job for'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SegmentVersion',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('segment', fields.ForeignKeyField('models.Segment', source_field='segment_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('definition', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'segment_versions', 'app': 'models', 'unique_together': (('segment', 'version'),), 'pk_attr': 'id', 'table_description': "A segment's definition as it was saved: versions are never changed."},
            bases=['Model'],
        ),
    ]
