from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
import importlib
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

_guards = importlib.import_module("app.migrations.0002_integrity_guards")

# Challenges and badges (app/domain/engagement.py): a target of at least one, points and
# milestones never below zero, progress never below zero (a refund takes off only what its
# order added).
CHECKS = [
    (
        "ck_challenges_sizes",
        "challenges",
        "{row}target >= 1 AND {row}points >= 0",
        "target, points",
    ),
    (
        "ck_challenge_progress_not_negative",
        "challenge_progress",
        "{row}progress >= 0",
        "progress",
    ),
    (
        "ck_challenge_contributions_not_negative",
        "challenge_contributions",
        "{row}amount >= 0",
        "amount",
    ),
    (
        "ck_badges_threshold_not_negative",
        "badges",
        "{row}threshold >= 0",
        "threshold",
    ),
]


async def add_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in _guards.check_statements(CHECKS, is_postgres):
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0019_segments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Badge',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='badges', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('image_url', fields.CharField(null=True, max_length=2000)),
                ('milestone', fields.CharField(max_length=24)),
                ('threshold', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'badges', 'app': 'models', 'indexes': [Index(fields=['program_id', 'milestone'])], 'pk_attr': 'id', 'table_description': 'A badge members earn once: by a challenge or a milestone (app/domain/engagement.py).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberBadge',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='member_badges', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='badges', on_delete=OnDelete.RESTRICT)),
                ('badge', fields.ForeignKeyField('models.Badge', source_field='badge_id', db_constraint=True, to_field='id', related_name='awards', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharField(max_length=128)),
                ('awarded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_badges', 'app': 'models', 'unique_together': (('member', 'badge'),), 'pk_attr': 'id', 'table_description': 'A badge a member earned: once per member and badge.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Challenge',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='challenges', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('goal', fields.CharField(max_length=24)),
                ('target', fields.BigIntField()),
                ('action', fields.CharField(null=True, max_length=32)),
                ('action_qualifier', fields.CharField(default='', max_length=64)),
                ('recurrence', fields.CharField(max_length=16)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('points', fields.IntField(default=0)),
                ('badge', fields.ForeignKeyField('models.Badge', source_field='badge_id', null=True, db_constraint=True, to_field='id', related_name='challenges', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(max_length=16)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'challenges', 'app': 'models', 'indexes': [Index(fields=['program_id', 'status', 'goal'])], 'pk_attr': 'id', 'table_description': 'A goal members reach within a window (monthly, optionally) for points and/or a badge.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChallengeProgress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='challenge_progress', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='challenge_progress', on_delete=OnDelete.RESTRICT)),
                ('challenge', fields.ForeignKeyField('models.Challenge', source_field='challenge_id', db_constraint=True, to_field='id', related_name='progress', on_delete=OnDelete.RESTRICT)),
                ('period_key', fields.CharField(max_length=16)),
                ('period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('period_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('progress', fields.BigIntField(default=0)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('grant_key', fields.CharField(null=True, unique=True, max_length=128)),
                ('transaction', fields.ForeignKeyField('models.LedgerTransaction', source_field='transaction_id', null=True, db_constraint=True, to_field='id', related_name='challenge_grants', on_delete=OnDelete.RESTRICT)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'challenge_progress', 'app': 'models', 'unique_together': (('member', 'challenge', 'period_key'),), 'pk_attr': 'id', 'table_description': "A member's progress on one challenge in one period, and its completion."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChallengeContribution',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('progress', fields.ForeignKeyField('models.ChallengeProgress', source_field='progress_id', db_constraint=True, to_field='id', related_name='contributions', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharField(max_length=64)),
                ('amount', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'challenge_contributions', 'app': 'models', 'unique_together': (('progress', 'source'),), 'indexes': [Index(fields=['source'])], 'pk_attr': 'id', 'table_description': 'What one order, action or referral added to a progress row, so that a refund knows what'},
            bases=['Model'],
        ),
        ops.RunPython(add_guards),
    ]
