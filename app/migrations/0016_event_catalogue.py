from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# The webhook catalogue's names for events written before it had them.
RENAMED_EVENT_TYPES = [
    ("points.redeemed", "points.spent"),
    ("points.redemption_cancelled", "points.returned"),
    ("reward.code_used", "redemption.used"),
    ("reward.redemption_cancelled", "redemption.cancelled"),
    ("reward.code_expired", "redemption.expired"),
]


async def rename_event_types(apps: object, schema_editor: BaseSchemaEditor) -> None:
    """Old names in the outbox and in endpoints' lists (a JSON array of strings, where a quoted
    name cannot be part of another)."""
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for old, new in RENAMED_EVENT_TYPES:
        await client.execute_script(
            f"UPDATE outbox_events SET type = '{new}' WHERE type = '{old}'"
        )
        if is_postgres:
            replaced = (
                f"CAST(REPLACE(CAST(event_types AS TEXT), '\"{old}\"', '\"{new}\"') AS JSONB)"
            )
            condition = f"CAST(event_types AS TEXT) LIKE '%\"{old}\"%'"
        else:
            replaced = f"REPLACE(event_types, '\"{old}\"', '\"{new}\"')"
            condition = f"event_types LIKE '%\"{old}\"%'"
        await client.execute_script(
            f"UPDATE webhook_endpoints SET event_types = {replaced} WHERE {condition}"
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0015_webhooks')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Member',
            name='birthday_announced_year',
            field=fields.SmallIntField(null=True),
        ),
        ops.RunPython(rename_event_types),
    ]
