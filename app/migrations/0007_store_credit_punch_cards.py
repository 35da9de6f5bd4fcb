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

# Store credit is guarded like points: a balance never below zero nor past a 32-bit Int, and a
# spend never refunded beyond what it spent. Punch cards need at least one punch and one unit.
CHECKS = [
    (
        "ck_members_store_credit_in_range",
        "members",
        "{row}store_credit_minor >= 0 AND {row}store_credit_minor <= 2147483647",
        "store_credit_minor",
    ),
    (
        "ck_store_credit_movements_refund_within_spend",
        "store_credit_movements",
        "{row}refunded_minor >= 0"
        " AND ({row}refunded_minor = 0 OR {row}refunded_minor <= -{row}amount_minor)",
        "refunded_minor, amount_minor",
    ),
    (
        "ck_punch_cards_sizes_positive",
        "punch_cards",
        "{row}punches_needed >= 1 AND {row}minimum_quantity >= 1",
        "punches_needed, minimum_quantity",
    ),
]


async def add_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in _guards.check_statements(CHECKS, is_postgres):
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0006_referrals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PunchCard',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='punch_cards', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('reward', fields.ForeignKeyField('models.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='punch_cards', on_delete=OnDelete.RESTRICT)),
                ('punches_needed', fields.IntField()),
                ('skus', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('categories', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('minimum_quantity', fields.IntField(default=1)),
                ('minimum_per', fields.CharField(default='LINE', max_length=8)),
                ('active', fields.BooleanField(default=True)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'punch_cards', 'app': 'models', 'indexes': [Index(fields=['program_id', 'active'])], 'pk_attr': 'id', 'table_description': 'N qualifying purchases give a catalogue reward (app/domain/punch_cards.py).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PunchCardProgress',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='punch_card_progress', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='punch_card_progress', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('models.PunchCard', source_field='card_id', db_constraint=True, to_field='id', related_name='progress', on_delete=OnDelete.RESTRICT)),
                ('punches', fields.BigIntField(default=0)),
                ('punches_total', fields.BigIntField(default=0)),
                ('rewards_earned', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'punch_card_progress', 'app': 'models', 'unique_together': (('member', 'card'),), 'pk_attr': 'id', 'table_description': "A member's current card of one punch card, and what its cards have given."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PunchCardPunch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='punch_card_punches', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='punch_card_punches', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('models.PunchCard', source_field='card_id', db_constraint=True, to_field='id', related_name='punches', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='punch_card_punches', on_delete=OnDelete.RESTRICT)),
                ('line_index', fields.IntField()),
                ('lines', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('minimum_quantity', fields.IntField()),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'punch_card_punches', 'app': 'models', 'unique_together': (('card', 'order', 'line_index'),), 'indexes': [Index(fields=['order_id'])], 'pk_attr': 'id', 'table_description': 'A punch an order line gave, kept so that a refund of the line knows what to take off.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PunchCardReward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='punch_card_rewards', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='punch_card_rewards', on_delete=OnDelete.RESTRICT)),
                ('card', fields.ForeignKeyField('models.PunchCard', source_field='card_id', db_constraint=True, to_field='id', related_name='rewards_given', on_delete=OnDelete.RESTRICT)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='punch_card_rewards', on_delete=OnDelete.RESTRICT)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', null=True, db_constraint=True, to_field='id', related_name='punch_card_rewards', on_delete=OnDelete.RESTRICT)),
                ('punches', fields.IntField()),
                ('status', fields.CharField(max_length=16)),
                ('failure', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'punch_card_rewards', 'app': 'models', 'indexes': [Index(fields=['member_id', 'card_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A completed card: the reward given (or why not), and whether a refund revoked it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoreCreditMovement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='store_credit_movements', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='store_credit_movements', on_delete=OnDelete.RESTRICT)),
                ('transaction', fields.OneToOneField('models.LedgerTransaction', source_field='transaction_id', db_constraint=True, to_field='id', related_name='store_credit_movement', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('amount_minor', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('balance_after_minor', fields.BigIntField()),
                ('reason', fields.CharField(max_length=500)),
                ('source_ref', fields.CharField(null=True, max_length=128)),
                ('order_ref', fields.CharField(null=True, max_length=128)),
                ('spend', fields.ForeignKeyField('models.StoreCreditMovement', source_field='spend_id', null=True, db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('refunded_minor', fields.BigIntField(default=0, db_default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_credit_movements', 'app': 'models', 'indexes': [Index(fields=['member_id', 'id'])], 'pk_attr': 'id', 'table_description': "One movement of a member's store credit, beside its journal transaction: what the"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='store_credit_minor',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Program',
            name='punch_card_refund_policy',
            field=fields.CharField(default='KEEP_REWARD', db_default='KEEP_REWARD', max_length=24),
        ),
        ops.RunPython(add_guards),
    ]
