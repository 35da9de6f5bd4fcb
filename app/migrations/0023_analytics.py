"""Analytics: every order is kept (a customer who is not a member has member_id NULL), the
customer id of every order, the program's retroactive-credit window, and the daily rollups.

The customer id of the orders recorded before is the member's (an erased member's is already
anonymised). `laurel analytics rebuild` fills analytics_days from what was recorded before.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor


# SQLite cannot drop a NOT NULL: Tortoise copies the orders table into a new one, which loses
# its unique (program_id, order_id) and its (member_id, placed_at) index; they are made again.
SQLITE_ORDER_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS uid_orders_program_order_id ON orders"
    " (program_id, order_id);"
    " CREATE INDEX IF NOT EXISTS idx_orders_member_placed_at ON orders (member_id, placed_at)"
)


async def copy_customer_ids(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Each order names its member's customer id, as new orders do; SQLite's indexes back."""
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        await client.execute_script(SQLITE_ORDER_INDEXES)
    await client.execute_script(
        "UPDATE orders SET customer_id ="
        " (SELECT m.customer_id FROM members m WHERE m.id = orders.member_id)"
        " WHERE customer_id IS NULL"
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0022_segment_targeting')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Order',
            name='member',
            field=fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='orders', null=True, on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Order',
            name='customer_id',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['program_id', 'customer_id']),
        ),
        ops.AddField(
            model_name='Program',
            name='retro_credit_days',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.CreateModel(
            name='AnalyticsDay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='analytics_days', on_delete=OnDelete.RESTRICT)),
                ('day', fields.DateField()),
                ('metric', fields.CharField(max_length=64)),
                ('dimension', fields.CharField(default='', db_default='', max_length=64)),
                ('value', fields.BigIntField(default=0)),
                ('shard', fields.SmallIntField(default=0, db_default=0)),
            ],
            options={'table': 'analytics_days', 'app': 'models', 'unique_together': (('program', 'day', 'metric', 'dimension', 'shard'),), 'pk_attr': 'id', 'table_description': "One counter of one program on one day of the program's time zone: kept by the writes"},
            bases=['Model'],
        ),
        ops.RunPython(copy_customer_ids),
    ]
