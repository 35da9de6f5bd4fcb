from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_redemption_fixes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PersistedQuery',
            fields=[
                ('sha256', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('document', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'persisted_queries', 'app': 'models', 'pk_attr': 'sha256', 'table_description': 'A query document a client registered by its SHA-256 (automatic persisted queries): later requests send the hash alone. Shared by every program: a document is public schema text.'},
            bases=['Model'],
        ),
    ]
