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
    (
        "ck_members_points_debt_in_range",
        "members",
        "{row}points_debt >= 0 AND {row}points_debt <= 2147483647",
        "points_debt",
    ),
]

# Partial indexes keep the expiry and inactivity jobs proportional to what is due: spent,
# expired and pending lots, and members with nothing left, are not in them.
INDEXES = [
    "CREATE INDEX ix_point_lots_expiring ON point_lots (expires_at, id)"
    " WHERE remaining > 0 AND pending_until IS NULL AND expires_at IS NOT NULL",
    "CREATE INDEX ix_point_lots_maturing ON point_lots (pending_until, id)"
    " WHERE pending_until IS NOT NULL",
    "CREATE INDEX ix_idempotency_records_created_at ON idempotency_records (created_at)",
    "CREATE INDEX ix_members_inactive ON members (program_id, last_activity_at)"
    " WHERE points_available > 0",
]

SQLITE_BACKFILL = [
    "UPDATE members SET birthday_month_day = CAST(strftime('%m%d', birthday) AS INTEGER)"
    " WHERE birthday IS NOT NULL",
    "UPDATE members SET anniversary_month_day = CAST(strftime('%m%d', enrolled_at) AS INTEGER)",
]

POSTGRES_BACKFILL = [
    "UPDATE members SET birthday_month_day = EXTRACT(MONTH FROM birthday) * 100"
    " + EXTRACT(DAY FROM birthday) WHERE birthday IS NOT NULL",
    "UPDATE members SET anniversary_month_day ="
    " EXTRACT(MONTH FROM enrolled_at AT TIME ZONE 'UTC') * 100"
    " + EXTRACT(DAY FROM enrolled_at AT TIME ZONE 'UTC')",
]


async def add_guards_and_backfill(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Anniversary keys are enrolment dates in UTC (the job checks the program's local date)."""
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    backfill = POSTGRES_BACKFILL if is_postgres else SQLITE_BACKFILL
    for statement in [*backfill, *INDEXES, *_guards.check_statements(CHECKS, is_postgres)]:
        await client.execute_script(statement)

class Migration(migrations.Migration):
    dependencies = [('models', '0002_integrity_guards')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExpiryWarning',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='expiry_warnings', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='expiry_warnings', on_delete=OnDelete.RESTRICT)),
                ('expires_on', fields.DateField()),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('points', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'expiry_warnings', 'app': 'models', 'unique_together': (('member', 'expires_on'),), 'pk_attr': 'id', 'table_description': 'A warning sent for one member and expiry date: the unique pair makes it go out once.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='anniversary_month_day',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='birthday_month_day',
            field=fields.SmallIntField(null=True),
        ),
        ops.AddField(
            model_name='Member',
            name='last_activity_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='opted_out_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='points_debt',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['program_id', 'birthday_month_day']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['program_id', 'anniversary_month_day']),
        ),
        ops.AddField(
            model_name='PointLot',
            name='expired_points',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='PointLot',
            name='expired_by',
            field=fields.ForeignKeyField('models.LedgerTransaction', source_field='expired_by_id', null=True, db_constraint=True, to_field='id', related_name='expired_lots', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Program',
            name='earn_on_points_payments',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Program',
            name='exchange_rates',
            field=fields.JSONField(default=dict, db_default='{}', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_lifetime',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_lifetime_unit',
            field=fields.CharField(default='MONTHS', db_default='MONTHS', max_length=8),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_policy',
            field=fields.CharField(default='NONE', db_default='NONE', max_length=16),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_round_to',
            field=fields.CharField(default='NONE', db_default='NONE', max_length=16),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Program',
            name='expiry_warning_days',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Program',
            name='inactivity_months',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Program',
            name='refund_shortfall_policy',
            field=fields.CharField(default='WRITE_OFF', db_default='WRITE_OFF', max_length=16),
        ),
        ops.AddField(
            model_name='Program',
            name='time_zone',
            field=fields.CharField(default='UTC', db_default='UTC', max_length=64),
        ),
        ops.RunPython(add_guards_and_backfill),
    ]
