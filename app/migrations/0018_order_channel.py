from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_member_profiles')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='channel',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='store_location',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['member_id', 'placed_at']),
        ),
    ]
