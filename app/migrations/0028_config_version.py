"""The program's configuration version: a counter on the program row that database triggers
raise in the same transaction as any change to the program's cold configuration (earning
rules, experiments and their subjects, punch cards, tiers, tier settings, paid plans,
challenges, badges, segments, and the program's own time zone, currency and member
attributes).

A write path reads the program row anyway; with its version it knows whether what a process
cached of that configuration is still current (app/services/core/config_cache.py). Triggers,
not the services, raise it, so that no write path (an admin mutation, a job, the CLI, another
process, hand-written SQL) can change the configuration without it.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# The tables whose rows are configuration of their program (each has program_id).
CONFIG_TABLES = (
    "earning_rules",
    "experiments",
    "experiment_subjects",
    "punch_cards",
    "tiers",
    "tier_settings",
    "membership_plans",
    "challenges",
    "badges",
    "segments",
)
# The program's own columns that cached configuration depends on.
PROGRAM_COLUMNS = ("time_zone", "currency", "member_attributes")

POSTGRES_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION laurel_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE programs SET config_version = config_version + 1 WHERE id = OLD.program_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.program_id IS DISTINCT FROM OLD.program_id)
    THEN
        UPDATE programs SET config_version = config_version + 1 WHERE id = NEW.program_id;
    END IF;
    RETURN NULL;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION laurel_program_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.config_version := OLD.config_version + 1;
    RETURN NEW;
END
$$
""",
)


def _program_changed(old: str, new: str) -> str:
    return " OR ".join(f"{old}.{column} IS DISTINCT FROM {new}.{column}" for column in PROGRAM_COLUMNS)


def postgres_statements() -> list[str]:
    statements = list(POSTGRES_FUNCTIONS)
    for table in CONFIG_TABLES:
        statements.append(
            f"CREATE TRIGGER trg_{table}_config_version AFTER INSERT OR UPDATE OR DELETE"
            f" ON {table} FOR EACH ROW EXECUTE FUNCTION laurel_config_changed()"
        )
    statements.append(
        "CREATE TRIGGER trg_programs_config_version BEFORE UPDATE OF"
        f" {', '.join(PROGRAM_COLUMNS)} ON programs FOR EACH ROW"
        f" WHEN ({_program_changed('OLD', 'NEW')})"
        " EXECUTE FUNCTION laurel_program_config_changed()"
    )
    return statements


def sqlite_statements() -> list[str]:
    bump = "UPDATE programs SET config_version = config_version + 1 WHERE id = {row}.program_id;"
    statements: list[str] = []
    for table in CONFIG_TABLES:
        statements += [
            f"CREATE TRIGGER trg_{table}_config_version_insert AFTER INSERT ON {table}"
            f" BEGIN {bump.format(row='NEW')} END",
            f"CREATE TRIGGER trg_{table}_config_version_update AFTER UPDATE ON {table}"
            f" BEGIN {bump.format(row='OLD')}"
            " UPDATE programs SET config_version = config_version + 1"
            " WHERE id = NEW.program_id AND NEW.program_id IS NOT OLD.program_id; END",
            f"CREATE TRIGGER trg_{table}_config_version_delete AFTER DELETE ON {table}"
            f" BEGIN {bump.format(row='OLD')} END",
        ]
    # SQLite has no IS DISTINCT FROM before 3.39: IS NOT is its null-safe inequality.
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in PROGRAM_COLUMNS)
    statements.append(
        f"CREATE TRIGGER trg_programs_config_version AFTER UPDATE OF {', '.join(PROGRAM_COLUMNS)}"
        f" ON programs WHEN {changed}"
        " BEGIN UPDATE programs SET config_version = config_version + 1 WHERE id = NEW.id; END"
    )
    return statements


async def create_triggers(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in postgres_statements() if is_postgres else sqlite_statements():
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0027_i18n")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Program",
            name="config_version",
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.RunPython(create_triggers),
    ]
