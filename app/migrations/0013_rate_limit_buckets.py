from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_persisted_queries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RateLimitBucket',
            fields=[
                ('bucket', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('tokens', fields.FloatField()),
                ('refilled_at', fields.FloatField()),
            ],
            options={'table': 'rate_limit_buckets', 'app': 'models', 'pk_attr': 'bucket', 'table_description': 'A token bucket every server process and host shares (an API key\'s rate limit): its tokens as of `refilled_at` (Unix seconds). Processes lease a few tokens at a time.'},
            bases=['Model'],
        ),
    ]
