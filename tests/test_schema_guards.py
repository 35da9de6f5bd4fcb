"""The integrity guards of migration 0002 exist in the live schema and refuse bad writes.

Runs on both backends (see conftest.py). The rows are written with raw SQL so the test depends
on the schema alone, not on the services that normally write them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

_guards = importlib.import_module("app.migrations.0002_integrity_guards")
_lifecycle = importlib.import_module("app.migrations.0003_lifecycle")
_store_credit = importlib.import_module("app.migrations.0007_store_credit_punch_cards")
_tiers = importlib.import_module("app.migrations.0008_tiers")
_catalogue = importlib.import_module("app.migrations.0009_reward_catalogue")
_engagement = importlib.import_module("app.migrations.0020_engagement")
_experiments = importlib.import_module("app.migrations.0021_experiments")
# (name, table, condition, columns re-checked on update)
CHECKS: list[tuple[str, str, str, str]] = [
    *_guards.CHECKS,
    *_lifecycle.CHECKS,
    *_store_credit.CHECKS,
    *_tiers.CHECKS,
    *_catalogue.CHECKS,
    *_engagement.CHECKS,
    *_experiments.CHECKS,
]
APPEND_ONLY_TABLES: list[str] = _guards.APPEND_ONLY_TABLES
BALANCE_TRIGGER = "trg_ledger_entries_balanced"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def expected_postgres_checks() -> dict[str, str]:
    return {name: table for name, table, _, _ in CHECKS}


def expected_postgres_triggers() -> dict[str, str]:
    triggers = {f"trg_{table}_append_only": table for table in APPEND_ONLY_TABLES}
    triggers[BALANCE_TRIGGER] = "ledger_entries"
    return triggers


def expected_sqlite_triggers() -> dict[str, str]:
    triggers: dict[str, str] = {}
    for name, table, _, _ in CHECKS:
        triggers[f"{name}_insert"] = table
        triggers[f"{name}_update"] = table
    for table in APPEND_ONLY_TABLES:
        triggers[f"trg_{table}_append_only_update"] = table
        triggers[f"trg_{table}_append_only_delete"] = table
    triggers[BALANCE_TRIGGER] = "ledger_entries"
    return triggers


def client() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


def _sql(conn: BaseDBAsyncClient, statement: str) -> str:
    """Statements are written with `?` placeholders; asyncpg wants `$1, $2, ...`."""
    if conn.capabilities.dialect != "postgres":
        return statement
    pieces = statement.split("?")
    return pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], start=1))


async def fetch_all(
    conn: BaseDBAsyncClient, statement: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(_sql(conn, statement), params or [])


async def execute(conn: BaseDBAsyncClient, statement: str, params: list[Any]) -> None:
    await conn.execute_query(_sql(conn, statement), params)


# --- The live schema --------------------------------------------------------------------------


async def test_guards_exist_in_live_schema(db: None, backend: str) -> None:
    conn = client()
    if backend == "sqlite":
        rows = await conn.execute_query_dict(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
        )
        triggers = {row["name"]: row["tbl_name"] for row in rows}
        expected = expected_sqlite_triggers()
        assert {name: triggers.get(name) for name in expected} == expected
        return

    rows = await conn.execute_query_dict(
        "SELECT conname, conrelid::regclass::text AS tbl, convalidated FROM pg_constraint"
        " WHERE contype = 'c' AND connamespace = 'public'::regnamespace"
    )
    checks = {row["conname"]: row["tbl"] for row in rows}
    expected_checks = expected_postgres_checks()
    assert {name: checks.get(name) for name in expected_checks} == expected_checks
    assert all(row["convalidated"] for row in rows if row["conname"] in expected_checks)

    rows = await conn.execute_query_dict(
        "SELECT tgname, tgrelid::regclass::text AS tbl, tgdeferrable, tginitdeferred"
        " FROM pg_trigger WHERE NOT tgisinternal"
    )
    triggers = {row["tgname"]: row for row in rows}
    expected_triggers = expected_postgres_triggers()
    assert {
        name: triggers[name]["tbl"] if name in triggers else None for name in expected_triggers
    } == expected_triggers
    # The balance check must wait for the last entry of the transaction: deferred to COMMIT.
    assert triggers[BALANCE_TRIGGER]["tgdeferrable"] is True
    assert triggers[BALANCE_TRIGGER]["tginitdeferred"] is True


# --- Behaviour --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    program_id: int
    member_id: int
    reward_id: int
    transaction_id: int
    entry_ids: list[int]


async def _insert(conn: BaseDBAsyncClient, table: str, **values: Any) -> int:
    columns = ", ".join(values)
    placeholders = ", ".join("?" for _ in values)
    rows = await fetch_all(
        conn,
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id",
        list(values.values()),
    )
    return int(rows[0]["id"])


async def _insert_transaction(
    conn: BaseDBAsyncClient,
    program_id: int,
    member_id: int,
    amounts: list[int],
    kind: str = "earn",
) -> tuple[int, list[int]]:
    """A ledger transaction with one entry per amount; the last one closes it."""
    transaction_id = await _insert(
        conn,
        "ledger_transactions",
        program_id=program_id,
        member_id=member_id,
        kind=kind,
        points=amounts[0],
        description=f"{kind} test",
        created_at=NOW,
    )
    entry_ids = []
    for position, amount in enumerate(amounts):
        entry_ids.append(
            await _insert(
                conn,
                "ledger_entries",
                transaction_id=transaction_id,
                program_id=program_id,
                member_id=member_id,
                account="member_available" if amount > 0 else "program_issued",
                amount=amount,
                closes_transaction=position == len(amounts) - 1,
            )
        )
    return transaction_id, entry_ids


@pytest.fixture
async def ledger(db: None) -> Ledger:
    """A program, a member holding 100 points, a reward in stock and one balanced transaction."""
    conn = client()
    program_id = await _insert(
        conn,
        "programs",
        slug="guards",
        name="Guards",
        currency="EUR",
        points_per_currency_unit=1,
        active=True,
        created_at=NOW,
        rounding="FLOOR",
        count_shipping=False,
        count_tax=False,
        minimum_order_minor=0,
        excluded_skus="[]",
        excluded_categories="[]",
        pending_days=0,
    )
    member_id = await _insert(
        conn,
        "members",
        program_id=program_id,
        customer_id="c-1",
        enrolled_at=NOW,
        points_available=100,
        points_pending=0,
        lifetime_earned=100,
        lifetime_redeemed=0,
    )
    reward_id = await _insert(
        conn,
        "rewards",
        program_id=program_id,
        name="Mug",
        description="",
        kind="item",
        cost_points=50,
        stock=5,
        active=True,
        created_at=NOW,
    )
    # In a database transaction, so PostgreSQL's deferred balance check runs at its COMMIT.
    async with in_transaction() as txn:
        transaction_id, entry_ids = await _insert_transaction(
            txn, program_id, member_id, [100, -100]
        )
    return Ledger(program_id, member_id, reward_id, transaction_id, entry_ids)


async def _rows(statement: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return await fetch_all(client(), statement, params)


async def _ledger_snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        await _rows("SELECT * FROM ledger_transactions ORDER BY id"),
        await _rows("SELECT * FROM ledger_entries ORDER BY id"),
    )


async def test_fixture_ledger_is_balanced(ledger: Ledger) -> None:
    entries = await _rows(
        "SELECT amount, closes_transaction FROM ledger_entries WHERE transaction_id = ?",
        [ledger.transaction_id],
    )
    assert sorted(row["amount"] for row in entries) == [-100, 100]
    assert [bool(row["closes_transaction"]) for row in entries].count(True) == 1


@pytest.mark.parametrize(
    ("statement", "operation", "table"),
    [
        ("UPDATE ledger_entries SET amount = amount + 1 WHERE id = ?", "UPDATE", "ledger_entries"),
        ("DELETE FROM ledger_entries WHERE id = ?", "DELETE", "ledger_entries"),
        (
            "UPDATE ledger_transactions SET description = 'edited' WHERE id = ?",
            "UPDATE",
            "ledger_transactions",
        ),
        ("DELETE FROM ledger_transactions WHERE id = ?", "DELETE", "ledger_transactions"),
    ],
    ids=["update-entry", "delete-entry", "update-transaction", "delete-transaction"],
)
async def test_ledger_rows_are_append_only(
    ledger: Ledger, statement: str, operation: str, table: str
) -> None:
    before = await _ledger_snapshot()
    row_id = ledger.entry_ids[0] if table == "ledger_entries" else ledger.transaction_id

    with pytest.raises(
        IntegrityError, match=f"ledger rows are append-only: {operation} on {table} refused"
    ):
        await execute(client(), statement, [row_id])

    assert await _ledger_snapshot() == before


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
async def test_ledger_tables_refuse_truncate(ledger: Ledger, backend: str, table: str) -> None:
    # SQLite has no TRUNCATE (its `DELETE FROM t` is covered above); PostgreSQL's bypasses row
    # triggers, so the statement-level trigger must refuse it.
    before = await _ledger_snapshot()

    with pytest.raises(IntegrityError, match=f"append-only: TRUNCATE on {table} refused"):
        await client().execute_script(f"TRUNCATE {table} CASCADE")

    assert await _ledger_snapshot() == before


async def test_member_points_cannot_go_negative(ledger: Ledger) -> None:
    with pytest.raises(IntegrityError, match="ck_members_points_available_nonnegative"):
        await execute(
            client(),
            "UPDATE members SET points_available = -1 WHERE id = ?",
            [ledger.member_id],
        )

    rows = await _rows("SELECT points_available FROM members WHERE id = ?", [ledger.member_id])
    assert rows == [{"points_available": 100}]


async def test_member_store_credit_cannot_go_negative(ledger: Ledger) -> None:
    with pytest.raises(IntegrityError, match="ck_members_store_credit_in_range"):
        async with in_transaction() as conn:
            await execute(
                conn,
                "UPDATE members SET store_credit_minor = store_credit_minor - 1 WHERE id = ?",
                [ledger.member_id],
            )


async def test_reward_stock_cannot_go_negative(ledger: Ledger) -> None:
    with pytest.raises(IntegrityError, match="ck_rewards_stock_nonnegative"):
        await execute(
            client(),
            "UPDATE rewards SET stock = stock - 6 WHERE id = ?",
            [ledger.reward_id],
        )

    assert await _rows("SELECT stock FROM rewards WHERE id = ?", [ledger.reward_id]) == [
        {"stock": 5}
    ]


async def test_reward_created_with_negative_stock_is_refused(ledger: Ledger) -> None:
    with pytest.raises(IntegrityError, match="ck_rewards_stock_nonnegative"):
        await _insert(
            client(),
            "rewards",
            program_id=ledger.program_id,
            name="Broken",
            description="",
            kind="item",
            cost_points=10,
            stock=-1,
            active=True,
            created_at=NOW,
        )

    assert await _rows("SELECT id FROM rewards") == [{"id": ledger.reward_id}]


async def test_unbalanced_transaction_is_refused(ledger: Ledger, backend: str) -> None:
    before = await _ledger_snapshot()
    entries_written = False

    async def write_unbalanced() -> None:
        nonlocal entries_written
        async with in_transaction() as txn:
            await _insert_transaction(
                txn, ledger.program_id, ledger.member_id, [100, -90], kind="unbalanced"
            )
            entries_written = True

    if backend == "postgres":
        # The constraint trigger is deferred: every entry goes in and COMMIT fails. Tortoise
        # translates the errors of statements only, so COMMIT's arrives as asyncpg's own.
        with pytest.raises(asyncpg.CheckViolationError, match="does not sum to zero"):
            await write_unbalanced()
        assert entries_written
    else:
        # No deferred triggers on SQLite: the closing entry is refused on insert.
        with pytest.raises(IntegrityError, match="ledger transaction does not sum to zero"):
            await write_unbalanced()
        assert not entries_written

    # Rolled back as a whole: not even the ledger_transactions row is left.
    assert await _ledger_snapshot() == before


async def test_balanced_transaction_in_several_entries_is_accepted(ledger: Ledger) -> None:
    async with in_transaction() as txn:
        transaction_id, _ = await _insert_transaction(
            txn, ledger.program_id, ledger.member_id, [60, -40, -20], kind="split"
        )

    entries = await _rows(
        "SELECT amount FROM ledger_entries WHERE transaction_id = ? ORDER BY id", [transaction_id]
    )
    assert [row["amount"] for row in entries] == [60, -40, -20]
