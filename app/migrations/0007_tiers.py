from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_referrals')]

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
    ]
