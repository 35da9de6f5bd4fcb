from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

INDEXES = [
    # One live manual assignment per member: a new one clears the previous in its transaction.
    "CREATE UNIQUE INDEX ux_tier_assignments_live ON tier_assignments (member_id)"
    " WHERE cleared_at IS NULL",
]


async def add_live_index(apps: object, schema_editor: BaseSchemaEditor) -> None:
    for statement in INDEXES:
        await schema_editor.client.execute_script(statement)


async def move_reward_access(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Tier restrictions now live on the reward (`rewards.required_tiers`, tier names, checked
    from now on): carry the rows of the dropped `tier_reward_access` table over before it goes.
    A reward without such rows keeps only the names of its program's active tiers: before, its
    `required_tiers` were stored unchecked and restricted nothing, and a name that matches no
    tier would now refuse every member."""
    client = schema_editor.client
    _, access_rows = await client.execute_query(
        "SELECT a.reward_id, t.name FROM tier_reward_access a JOIN tiers t ON t.id = a.tier_id"
        " WHERE t.retired_at IS NULL ORDER BY a.reward_id, t.name"
    )
    granted: dict[int, list[str]] = {}
    for row in access_rows:
        granted.setdefault(int(row["reward_id"]), []).append(str(row["name"]))
    _, tier_rows = await client.execute_query(
        "SELECT program_id, name FROM tiers WHERE retired_at IS NULL"
    )
    active: dict[int, set[str]] = {}
    for row in tier_rows:
        active.setdefault(int(row["program_id"]), set()).add(str(row["name"]))
    _, rewards = await client.execute_query(
        "SELECT id, program_id, required_tiers FROM rewards ORDER BY id"
    )
    postgres = client.capabilities.dialect == "postgres"
    statement = (
        "UPDATE rewards SET required_tiers = $1::jsonb WHERE id = $2"
        if postgres
        else "UPDATE rewards SET required_tiers = ? WHERE id = ?"
    )
    for reward in rewards:
        reward_id = int(reward["id"])
        stored = reward["required_tiers"]
        stored_names = loads(stored) if isinstance(stored, str) else list(stored or [])
        names = granted.get(reward_id)
        if names is None:
            program_tiers = active.get(int(reward["program_id"]), set())
            names = [name for name in stored_names if name in program_tiers]
        if sorted(names) != sorted(stored_names) or reward_id in granted:
            await client.execute_query(
                statement, [dumps(sorted(names), separators=(",", ":")), reward_id]
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0009_reward_catalogue')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TierAssignment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='tier_assignments', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='tier_assignments', on_delete=OnDelete.RESTRICT)),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', db_constraint=True, to_field='id', related_name='assignments', on_delete=OnDelete.RESTRICT)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reason', fields.CharField(max_length=500)),
                ('assigned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('cleared_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('clear_reason', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'tier_assignments', 'app': 'models', 'indexes': [Index(fields=['member_id', 'id'])], 'pk_attr': 'id', 'table_description': "A tier set by an admin: a floor under the member's earned tier (they can still earn"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Tier',
            name='perks',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='TierChange',
            name='note',
            field=fields.CharField(null=True, max_length=500),
        ),
        ops.RunPython(move_reward_access),
        ops.DeleteModel(name='TierRewardAccess'),
        ops.RunPython(add_live_index),
    ]
