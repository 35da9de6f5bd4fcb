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

CHECKS = [
    ("ck_tiers_threshold_in_range", "tiers", "{row}threshold >= 0", "threshold"),
    (
        "ck_tiers_reward_discount_in_range",
        "tiers",
        "{row}reward_discount_percent >= 0 AND {row}reward_discount_percent <= 90",
        "reward_discount_percent",
    ),
    ("ck_tiers_entry_points_in_range", "tiers", "{row}entry_points >= 0", "entry_points"),
    (
        "ck_membership_plans_fee_in_range",
        "membership_plans",
        "{row}fee_minor >= 0 AND {row}trial_days >= 0 AND {row}grace_days >= 0",
        "fee_minor, trial_days, grace_days",
    ),
]

INDEXES = [
    # One membership not ended per member and plan: whoever wins a race of two starts.
    "CREATE UNIQUE INDEX ux_memberships_live ON memberships (member_id, plan_id)"
    " WHERE ended_at IS NULL",
]


async def add_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in [*INDEXES, *_guards.check_statements(CHECKS, is_postgres)]:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0007_store_credit_punch_cards')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Tier',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='tiers', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=64)),
                ('rank', fields.IntField(null=True)),
                ('threshold', fields.BigIntField()),
                ('earn_multiplier', fields.CharField(null=True, max_length=8)),
                ('reward_discount_percent', fields.IntField(default=0)),
                ('entry_points', fields.BigIntField(default=0)),
                ('entry_reward', fields.ForeignKeyField('models.Reward', source_field='entry_reward_id', null=True, db_constraint=True, to_field='id', related_name='entry_reward_tiers', on_delete=OnDelete.RESTRICT)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tiers', 'app': 'models', 'unique_together': (('program', 'name'),), 'pk_attr': 'id', 'table_description': 'One level of a program. A tier dropped from the configuration is retired, not deleted:'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberTier',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='tier_state', on_delete=OnDelete.RESTRICT)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='member_tiers', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', null=True, db_constraint=True, to_field='id', related_name='holders', on_delete=OnDelete.RESTRICT)),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('review_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('config_version', fields.IntField()),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_tiers', 'app': 'models', 'indexes': [Index(fields=['review_at'])], 'pk_attr': 'id', 'table_description': 'The tier a member holds now (the result of app/domain/tiers.py, stored). No row: the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MembershipPlan',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='membership_plans', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('fee_minor', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('interval', fields.CharField(max_length=8)),
                ('trial_days', fields.IntField(default=0)),
                ('grace_days', fields.IntField(default=0)),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', null=True, db_constraint=True, to_field='id', related_name='membership_plans', on_delete=OnDelete.RESTRICT)),
                ('earn_multiplier', fields.CharField(null=True, max_length=8)),
                ('perks', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('welcome_reward', fields.ForeignKeyField('models.Reward', source_field='welcome_reward_id', null=True, db_constraint=True, to_field='id', related_name='welcome_plans', on_delete=OnDelete.RESTRICT)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_plans', 'app': 'models', 'unique_together': (('program', 'code'),), 'pk_attr': 'id', 'table_description': 'A paid membership a program sells (the store bills, Laurel keeps the benefits).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('plan', fields.ForeignKeyField('models.MembershipPlan', source_field='plan_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharField(max_length=16)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('current_period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('current_period_end', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('cancel_at_period_end', fields.BooleanField(default=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('end_reason', fields.CharField(null=True, max_length=16)),
                ('welcome_redemption_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'memberships', 'app': 'models', 'indexes': [Index(fields=['ends_at']), Index(fields=['member_id', 'plan_id'])], 'pk_attr': 'id', 'table_description': "A member's subscription to a plan. At most one not ended per member and plan (a"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MembershipFirst',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='membership_firsts', on_delete=OnDelete.RESTRICT)),
                ('plan', fields.ForeignKeyField('models.MembershipPlan', source_field='plan_id', db_constraint=True, to_field='id', related_name='firsts', on_delete=OnDelete.RESTRICT)),
                ('trial_days', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership_firsts', 'app': 'models', 'unique_together': (('member', 'plan'),), 'pk_attr': 'id', 'table_description': "A member's first membership of a plan: the trial and the welcome reward, once ever."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TierChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='tier_changes', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='tier_changes', on_delete=OnDelete.RESTRICT)),
                ('from_tier', fields.CharField(null=True, max_length=64)),
                ('to_tier', fields.CharField(null=True, max_length=64)),
                ('reason', fields.CharField(max_length=16)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tier_changes', 'app': 'models', 'indexes': [Index(fields=['member_id', 'id'])], 'pk_attr': 'id', 'table_description': "A member's tier history: from, to, why, when (names, so it outlives retired tiers)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TierEntryGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='tier_entry_grants', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', db_constraint=True, to_field='id', related_name='entry_grants', on_delete=OnDelete.RESTRICT)),
                ('points', fields.BigIntField(default=0)),
                ('redemption_id', fields.BigIntField(null=True)),
                ('reward_failure', fields.CharField(null=True, max_length=32)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tier_entry_grants', 'app': 'models', 'unique_together': (('member', 'tier'),), 'pk_attr': 'id', 'table_description': "A tier's entry reward given to a member: once per member and tier, ever."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TierRewardAccess',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reward', fields.ForeignKeyField('models.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='tier_access', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', db_constraint=True, to_field='id', related_name='reward_access', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'tier_reward_access', 'app': 'models', 'unique_together': (('reward', 'tier'),), 'pk_attr': 'id', 'table_description': 'A reward only members of these tiers may redeem (no row: everyone).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TierSettings',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.OneToOneField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='tier_settings', on_delete=OnDelete.RESTRICT)),
                ('metric', fields.CharField(max_length=16)),
                ('period', fields.CharField(max_length=24)),
                ('downgrade', fields.CharField(max_length=16)),
                ('grace_days', fields.IntField(default=0)),
                ('version', fields.IntField(default=1)),
                ('recalculated_version', fields.IntField(default=0)),
                ('recalculation_cursor', fields.BigIntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tier_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "A program's tier rules (app/domain/tiers.py). No row, or no tiers: tiers are off."},
            bases=['Model'],
        ),
        ops.RunPython(add_guards),
    ]
