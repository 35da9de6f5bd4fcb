from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index
import importlib
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

_guards = importlib.import_module("app.migrations.0002_integrity_guards")

# Experiments (app/domain/experiments.py): a known status, a window that ends after it starts,
# weights of 1 to 10,000 buckets, a subject that is a rule or a reward (not both, not neither),
# and an effect that is an order or a redemption.
CHECKS = [
    (
        "ck_experiments_status_known",
        "experiments",
        "{row}status IN ('DRAFT', 'RUNNING', 'CONCLUDED')",
        "status",
    ),
    (
        "ck_experiments_window_ordered",
        "experiments",
        "{row}ends_at > {row}starts_at",
        "starts_at, ends_at",
    ),
    (
        "ck_experiment_variants_weight_in_range",
        "experiment_variants",
        "{row}weight >= 1 AND {row}weight <= 10000",
        "weight",
    ),
    (
        "ck_experiment_subjects_one_subject",
        "experiment_subjects",
        "({row}earning_rule_id IS NULL) <> ({row}reward_id IS NULL)",
        "earning_rule_id, reward_id",
    ),
    (
        "ck_experiment_effects_one_source",
        "experiment_effects",
        "({row}kind = 'ORDER' AND {row}order_id IS NOT NULL AND {row}redemption_id IS NULL)"
        " OR ({row}kind = 'REDEMPTION' AND {row}redemption_id IS NOT NULL"
        " AND {row}order_id IS NULL)",
        "kind, order_id, redemption_id",
    ),
]


async def add_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in _guards.check_statements(CHECKS, is_postgres):
        await client.execute_script(statement)

class Migration(migrations.Migration):
    dependencies = [('models', '0020_engagement')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Experiment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='experiments', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('status', fields.CharField(max_length=16)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('slots', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('winner_variant_id', fields.BigIntField(null=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('concluded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'experiments', 'app': 'models', 'indexes': [Index(fields=['program_id', 'id'])], 'pk_attr': 'id', 'table_description': 'An A/B test of earning rules and rewards (its semantics: app/domain/experiments.py).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExperimentVariant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('experiment', fields.ForeignKeyField('models.Experiment', source_field='experiment_id', db_constraint=True, to_field='id', related_name='variants', on_delete=OnDelete.RESTRICT)),
                ('key', fields.CharField(max_length=64)),
                ('weight', fields.IntField()),
                ('control', fields.BooleanField(default=False)),
                ('position', fields.IntField()),
            ],
            options={'table': 'experiment_variants', 'app': 'models', 'unique_together': (('experiment', 'key'),), 'pk_attr': 'id', 'table_description': 'One arm of an experiment: a share of the members (weight in 1/10,000) and its subjects'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExperimentEffect',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='experiment_effects', on_delete=OnDelete.RESTRICT)),
                ('experiment', fields.ForeignKeyField('models.Experiment', source_field='experiment_id', db_constraint=True, to_field='id', related_name='effects', on_delete=OnDelete.RESTRICT)),
                ('variant', fields.ForeignKeyField('models.ExperimentVariant', source_field='variant_id', db_constraint=True, to_field='id', related_name='effects', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='experiment_effects', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='experiment_effects', on_delete=OnDelete.RESTRICT)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', null=True, db_constraint=True, to_field='id', related_name='experiment_effects', on_delete=OnDelete.RESTRICT)),
                ('points', fields.BigIntField(default=0)),
                ('revenue_minor', fields.BigIntField(default=0)),
                ('subject', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'experiment_effects', 'app': 'models', 'unique_together': (('experiment', 'order'), ('experiment', 'redemption')), 'indexes': [Index(fields=['experiment_id', 'variant_id'])], 'pk_attr': 'id', 'table_description': "An order or a redemption of a member while an experiment ran, with the member's variant,"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExperimentSubject',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='experiment_subjects', on_delete=OnDelete.RESTRICT)),
                ('experiment', fields.ForeignKeyField('models.Experiment', source_field='experiment_id', db_constraint=True, to_field='id', related_name='subjects', on_delete=OnDelete.RESTRICT)),
                ('variant', fields.ForeignKeyField('models.ExperimentVariant', source_field='variant_id', db_constraint=True, to_field='id', related_name='subjects', on_delete=OnDelete.RESTRICT)),
                ('earning_rule', fields.OneToOneField('models.EarningRule', source_field='earning_rule_id', null=True, db_constraint=True, to_field='id', related_name='experiment_subject', on_delete=OnDelete.RESTRICT)),
                ('reward', fields.OneToOneField('models.Reward', source_field='reward_id', null=True, db_constraint=True, to_field='id', related_name='experiment_subject', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'experiment_subjects', 'app': 'models', 'indexes': [Index(fields=['program_id'])], 'pk_attr': 'id', 'table_description': 'An earning rule or a reward that a variant of an experiment gives (a rule or reward is'},
            bases=['Model'],
        ),
        ops.RunPython(add_guards),
    ]
