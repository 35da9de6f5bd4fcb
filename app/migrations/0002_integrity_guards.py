"""CHECK constraints and ledger triggers, which Tortoise's model options cannot express.

PostgreSQL gets real CHECK constraints and PL/pgSQL triggers. SQLite cannot add a CHECK to an
existing table, so the same rules are triggers there, named like the constraints they stand
for (`ck_...`). `tests/test_schema_guards.py` reads the live schema of both backends.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# (name, table, condition that must hold with {row} the row prefix, columns re-checked on update)
CHECKS = [
    (
        "ck_members_points_available_nonnegative",
        "members",
        "{row}points_available >= 0",
        "points_available",
    ),
    (
        "ck_members_points_pending_nonnegative",
        "members",
        "{row}points_pending >= 0",
        "points_pending",
    ),
    (
        "ck_members_points_within_int32",
        "members",
        "{row}points_available <= 2147483647 AND {row}points_pending <= 2147483647"
        " AND {row}lifetime_earned <= 2147483647 AND {row}lifetime_redeemed <= 2147483647",
        "points_available, points_pending, lifetime_earned, lifetime_redeemed",
    ),
    ("ck_rewards_stock_nonnegative", "rewards", "{row}stock IS NULL OR {row}stock >= 0", "stock"),
    ("ck_rewards_cost_positive", "rewards", "{row}cost_points > 0", "cost_points"),
    (
        "ck_point_lots_remaining_in_range",
        "point_lots",
        "{row}remaining >= 0 AND {row}remaining <= {row}points",
        "remaining, points",
    ),
    (
        "ck_programs_points_rate_nonnegative",
        "programs",
        "{row}points_per_currency_unit >= 0",
        "points_per_currency_unit",
    ),
]

APPEND_ONLY_TABLES = ["ledger_entries", "ledger_transactions"]

POSTGRES_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION laurel_refuse_ledger_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
"""

# Deferred to commit, so the check sees every entry the transaction inserted.
POSTGRES_BALANCE_FUNCTION = """
CREATE OR REPLACE FUNCTION laurel_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total BIGINT;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total
        FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not sum to zero (%)', NEW.transaction_id, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def check_statements(checks: list[tuple[str, str, str, str]], is_postgres: bool) -> list[str]:
    """CHECK constraints on PostgreSQL; on SQLite, insert and update triggers of the same name."""
    if is_postgres:
        return [
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition.format(row='')})"
            for name, table, condition, _ in checks
        ]
    statements: list[str] = []
    for name, table, condition, columns in checks:
        fail = f"SELECT RAISE(ABORT, 'CHECK constraint failed: {name}')"
        statements.append(
            f"CREATE TRIGGER {name}_insert BEFORE INSERT ON {table}"
            f" WHEN NOT ({condition.format(row='NEW.')})"
            f" BEGIN {fail}; END"
        )
        statements.append(
            f"CREATE TRIGGER {name}_update BEFORE UPDATE OF {columns} ON {table}"
            f" WHEN NOT ({condition.format(row='NEW.')})"
            f" BEGIN {fail}; END"
        )
    return statements


def postgres_statements() -> list[str]:
    statements = check_statements(CHECKS, is_postgres=True)
    statements.append(POSTGRES_APPEND_ONLY_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION laurel_refuse_ledger_change()"
        )
    # The transaction that wrote each event: readers of the outbox list only events older than
    # every transaction still running, so an event whose id was taken before a later one
    # commits is never skipped by a cursor that has moved past it.
    statements.append(
        "ALTER TABLE outbox_events ADD COLUMN writer_xid xid8 NOT NULL"
        " DEFAULT pg_current_xact_id()"
    )
    statements.append(POSTGRES_BALANCE_FUNCTION)
    statements.append(
        "CREATE CONSTRAINT TRIGGER trg_ledger_entries_balanced AFTER INSERT ON ledger_entries"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " EXECUTE FUNCTION laurel_check_transaction_balanced()"
    )
    return statements


def sqlite_statements() -> list[str]:
    statements = check_statements(CHECKS, is_postgres=False)
    for table in APPEND_ONLY_TABLES:
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER trg_{table}_append_only_{operation.lower()}"
                f" BEFORE {operation} ON {table} BEGIN"
                f" SELECT RAISE(ABORT, 'ledger rows are append-only: {operation} on {table} refused');"
                " END"
            )
    # SQLite has no deferred triggers: the entry that closes a transaction is checked instead,
    # and `laurel verify-ledger` finds a transaction left without one.
    statements.append(
        "CREATE TRIGGER trg_ledger_entries_balanced BEFORE INSERT ON ledger_entries"
        " WHEN NEW.closes_transaction"
        " AND (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries"
        " WHERE transaction_id = NEW.transaction_id) + NEW.amount <> 0"
        " BEGIN SELECT RAISE(ABORT, 'ledger transaction does not sum to zero'); END"
    )
    return statements


async def create_guards(apps: object, schema_editor: BaseSchemaEditor) -> None:
    client = schema_editor.client
    is_postgres = client.capabilities.dialect == "postgres"
    for statement in postgres_statements() if is_postgres else sqlite_statements():
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(create_guards)]
