"""The models' recorded options catch up with the models: the descriptions of bulk operations,
persisted queries and rate-limit buckets (their docstrings) changed after their migrations.
Nothing changes in the database; `tests/test_migration_state.py` keeps models and migrations in
step from here on."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0035_analytics_days_by_customer')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='BulkOperation',
            options={'table': 'bulk_operations', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'A change to many members run as a job (app/services/bulk/): what it was asked to do, for'},
        ),
        ops.AlterModelOptions(
            name='PersistedQuery',
            options={'table': 'persisted_queries', 'app': 'models', 'pk_attr': 'sha256', 'table_description': 'A query document a client registered by its SHA-256 (automatic persisted queries): later'},
        ),
        ops.AlterModelOptions(
            name='RateLimitBucket',
            options={'table': 'rate_limit_buckets', 'app': 'models', 'pk_attr': 'bucket', 'table_description': "A token bucket every server process and host shares (an API key's rate limit): its"},
        ),
    ]
