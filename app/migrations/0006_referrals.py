from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_access')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberSignal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='member_signals', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='signals', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('value_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_signals', 'app': 'models', 'unique_together': (('member', 'kind', 'value_hash'),), 'pk_attr': 'id', 'table_description': 'A fraud signal of a member (IP, device, payment, address), stored only as a salted hash.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='referrals', on_delete=OnDelete.RESTRICT)),
                ('referrer', fields.ForeignKeyField('models.Member', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referrals_made', on_delete=OnDelete.RESTRICT)),
                ('friend', fields.ForeignKeyField('models.Member', source_field='friend_id', null=True, db_constraint=True, to_field='id', related_name='referrals_received', on_delete=OnDelete.RESTRICT)),
                ('friend_customer_id', fields.CharField(null=True, max_length=128)),
                ('friend_email', fields.CharField(null=True, max_length=254)),
                ('claim_customer_id', fields.CharField(null=True, max_length=128)),
                ('claim_email', fields.CharField(null=True, max_length=254)),
                ('state', fields.CharField(max_length=16)),
                ('rejection_reason', fields.CharField(null=True, max_length=32)),
                ('hold_reason', fields.CharField(null=True, max_length=32)),
                ('review_note', fields.CharField(null=True, max_length=500)),
                ('source', fields.CharField(max_length=16)),
                ('ip_hash', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('signed_up_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('qualified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rewarded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('held_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rejected_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referrals', 'app': 'models', 'unique_together': (('program', 'claim_customer_id'), ('program', 'claim_email')), 'indexes': [Index(fields=['program_id', 'id']), Index(fields=['referrer_id', 'created_at']), Index(fields=['friend_id']), Index(fields=['program_id', 'ip_hash', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A referrer inviting a friend, and what became of it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralCode',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='referral_codes', on_delete=OnDelete.RESTRICT)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='referral_code', on_delete=OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_codes', 'app': 'models', 'unique_together': (('program', 'code'),), 'pk_attr': 'id', 'table_description': "A member's stable referral code, unique in the program."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralReward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('referral', fields.ForeignKeyField('models.Referral', source_field='referral_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('side', fields.CharField(max_length=16)),
                ('trigger_ref', fields.CharField(max_length=64)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', null=True, db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('points', fields.BigIntField()),
                ('status', fields.CharField(max_length=16)),
                ('transaction', fields.ForeignKeyField('models.LedgerTransaction', source_field='transaction_id', null=True, db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('reward', fields.ForeignKeyField('models.Reward', source_field='reward_id', null=True, db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('reward_status', fields.CharField(null=True, max_length=16)),
                ('reward_failure', fields.CharField(null=True, max_length=32)),
                ('reward_value_minor', fields.BigIntField(null=True)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', null=True, db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('available_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('settled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_rewards', 'app': 'models', 'unique_together': (('referral', 'side', 'trigger_ref'),), 'indexes': [Index(fields=['order_id']), Index(fields=['status', 'available_at'])], 'pk_attr': 'id', 'table_description': 'What one side of a referral earned, once per trigger (`trigger_ref`).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralSettings',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.OneToOneField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='referral_settings', on_delete=OnDelete.RESTRICT)),
                ('enabled', fields.BooleanField(default=False)),
                ('url_template', fields.CharField(default='', max_length=500)),
                ('referrer_points', fields.BigIntField(default=0)),
                ('referrer_reward', fields.ForeignKeyField('models.Reward', source_field='referrer_reward_id', null=True, db_constraint=True, to_field='id', related_name='referrer_referral_settings', on_delete=OnDelete.RESTRICT)),
                ('referrer_trigger', fields.CharField(default='FIRST_ORDER', max_length=16)),
                ('referrer_minimum_order_minor', fields.BigIntField(default=0)),
                ('referrer_max_orders', fields.IntField(default=1)),
                ('friend_points', fields.BigIntField(default=0)),
                ('friend_reward', fields.ForeignKeyField('models.Reward', source_field='friend_reward_id', null=True, db_constraint=True, to_field='id', related_name='friend_referral_settings', on_delete=OnDelete.RESTRICT)),
                ('friend_trigger', fields.CharField(default='SIGNUP', max_length=16)),
                ('friend_minimum_order_minor', fields.BigIntField(default=0)),
                ('friend_max_orders', fields.IntField(default=1)),
                ('referrer_limit', fields.IntField(default=0)),
                ('referrer_limit_period', fields.CharField(default='MONTH', max_length=8)),
                ('ip_weekly_threshold', fields.IntField(default=0)),
                ('attach_window_days', fields.IntField(default=7)),
                ('signal_salt', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': "A program's referral rules (app/domain/referrals.py). No row means referrals are off."},
            bases=['Model'],
        ),
    ]
