from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

# Segment targeting of challenges (eligible_segments, keys; [] for every member) and
# experiments (audience_segment_id; NULL for every member). See
# docs/capabilities/engagement.md and docs/capabilities/experiments.md.

class Migration(migrations.Migration):
    dependencies = [('models', '0021_experiments')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Challenge',
            name='eligible_segments',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Experiment',
            name='audience_segment',
            field=fields.ForeignKeyField('models.Segment', source_field='audience_segment_id', null=True, db_constraint=True, to_field='id', related_name='experiments', on_delete=OnDelete.RESTRICT),
        ),
    ]
