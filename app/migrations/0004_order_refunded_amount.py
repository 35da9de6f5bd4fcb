from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_lifecycle')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='refunded_minor',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]
