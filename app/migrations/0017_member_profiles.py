from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

# The staff's search looks terms up by prefix (LIKE 'ada%'): PostgreSQL's B-tree serves that
# only with text_pattern_ops (under a linguistic collation), SQLite's only under NOCASE (its
# LIKE ignores ASCII case; the terms are lowercase, so that changes nothing they match).
POSTGRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_member_search_terms_prefix ON member_search_terms"
    " (program_id, term text_pattern_ops)"
)
SQLITE_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_member_search_terms_prefix ON member_search_terms"
    " (program_id, term COLLATE NOCASE)"
)
BATCH = 1000


def search_terms(row: dict) -> set[str]:
    """As app/services/members/profile.py makes them (that module may change; this may not)."""
    terms = set((row["name"] or "").lower().split())
    for column in ("email", "customer_id"):
        if row[column]:
            terms.add(str(row[column]).lower())
    return {term[:254] for term in terms}


async def index_members(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """The lowercased e-mail and the search terms of the members enrolled before, lowercased
    as Python does it (SQLite's LOWER folds ASCII only), so a search finds them as it finds new
    ones."""
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    await client.execute_script(POSTGRES_INDEX if postgres else SQLITE_INDEX)

    def marks(count: int) -> list[str]:
        return [f"${n}" if postgres else "?" for n in range(1, count + 1)]

    after = 0
    while True:
        first, = marks(1)
        rows = await client.execute_query_dict(
            "SELECT id, program_id, email, name, customer_id FROM members"
            f" WHERE id > {first} ORDER BY id LIMIT {BATCH}",
            [after],
        )
        if not rows:
            return
        for row in rows:
            email = row["email"]
            if email is not None:
                one, two = marks(2)
                await client.execute_query(
                    f"UPDATE members SET email_lower = {one} WHERE id = {two}",
                    [email.lower(), row["id"]],
                )
            for term in search_terms(row):
                one, two, three = marks(3)
                await client.execute_query(
                    "INSERT INTO member_search_terms (program_id, member_id, term)"
                    f" VALUES ({one}, {two}, {three})",
                    [row["program_id"], row["id"], term],
                )
        after = int(rows[-1]["id"])


class Migration(migrations.Migration):
    dependencies = [('models', '0016_event_catalogue')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberSearchTerm',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='member_search_terms', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='search_terms', on_delete=OnDelete.RESTRICT)),
                ('term', fields.CharField(max_length=254)),
            ],
            options={'table': 'member_search_terms', 'app': 'models', 'indexes': [Index(fields=['member_id'])], 'pk_attr': 'id', 'table_description': "A word a member is found by in the staff's search (each word of the name, the e-mail),"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='attributes',
            field=fields.JSONField(default=dict, db_default='{}', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Member',
            name='card_number',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Member',
            name='email_lower',
            field=fields.CharField(null=True, max_length=254),
        ),
        ops.AddField(
            model_name='Member',
            name='erased_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='locale',
            field=fields.CharField(null=True, max_length=35),
        ),
        ops.AddField(
            model_name='Member',
            name='marketing_consent',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Member',
            name='marketing_consent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Member',
            name='phone',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Member',
            name='tags',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['program_id', 'email_lower']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['program_id', 'phone']),
        ),
        ops.AddConstraint(
            model_name='Member',
            constraint=UniqueConstraint(fields=('program', 'card_number'), name=None),
        ),
        ops.AddField(
            model_name='Program',
            name='member_attributes',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunPython(index_members),
    ]
