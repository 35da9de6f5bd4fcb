from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_tier_assignments')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Membership',
            name='welcome_reward_failure',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Redemption',
            name='gift_kind',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Redemption',
            name='spent_points_expire_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
