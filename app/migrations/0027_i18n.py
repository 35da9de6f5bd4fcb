"""Languages: a default locale per program, and the translations of configured texts (names,
descriptions, perks) keyed by what they translate, its field and a locale
(docs/decisions/0003-translations.md)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0026_imports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Translation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='translations', on_delete=OnDelete.RESTRICT)),
                ('entity_kind', fields.CharField(max_length=16)),
                ('entity_id', fields.BigIntField()),
                ('field', fields.CharField(max_length=16)),
                ('locale', fields.CharField(max_length=35)),
                ('text', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'translations', 'app': 'models', 'unique_together': (('entity_kind', 'entity_id', 'field', 'locale'),), 'pk_attr': 'id', 'table_description': "One text of a configured thing in one locale (app/domain/locales.py): a reward's name in"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Program',
            name='default_locale',
            field=fields.CharField(default='en', db_default='en', max_length=35),
        ),
    ]
