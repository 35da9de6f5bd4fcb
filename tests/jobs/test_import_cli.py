"""`laurel import` as a separate process: the summary and row errors it prints, and its exit
status (0 all imported, 1 a row rejected, 2 the file or arguments unusable)."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program
from tests.test_cli import api, laurel

__all__ = ["api"]

SAMPLES = Path(__file__).parents[2] / "docs" / "import"


async def test_the_sample_files_import_and_a_second_run_imports_nothing(
    api: Api, settings: Settings
) -> None:
    await create_program(api, slug="shop")
    members = laurel(
        settings, "import", "members", str(SAMPLES / "members.csv"), "--program", "shop"
    )
    orders = laurel(settings, "import", "orders", str(SAMPLES / "orders.csv"), "--program", "shop")
    again = laurel(settings, "import", "orders", str(SAMPLES / "orders.jsonl"), "--program", "shop")
    balances = laurel(
        settings, "import", "balances", str(SAMPLES / "balances.csv"), "--program", "shop"
    )

    assert members.returncode == 0, members.stderr
    assert members.stdout.strip() == "members: imported 3, skipped 0 already there, rejected 0"
    assert orders.returncode == 0, orders.stderr
    assert orders.stdout.startswith("orders: imported 3, skipped 0 already there, rejected 0")
    # The JSON Lines sample holds the same orders: all there already.
    assert again.stdout.startswith("orders: imported 0, skipped 3 already there, rejected 0")
    assert balances.stdout.strip() == (
        "balances: imported 2, skipped 0 already there, rejected 0; points 425"
    )
    assert laurel(settings, "verify-ledger").returncode == 0


async def test_rejected_rows_are_listed_and_unusable_files_exit_2(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await create_program(api, slug="shop")
    bad = tmp_path / "members.csv"
    bad.write_text("customer_id,birthday\nc1,1990-02-30\nc2,\n")
    rejected = laurel(settings, "import", "members", str(bad), "--program", "shop")
    assert rejected.returncode == 1
    assert rejected.stdout.splitlines() == [
        "line 2\tbirthday\tINVALID_VALUE\tbirthday is not a date (YYYY-MM-DD)",
        "members: imported 1, skipped 0 already there, rejected 1",
    ]

    wrong_columns = laurel(settings, "import", "orders", str(bad), "--program", "shop")
    assert wrong_columns.returncode == 2
    assert "unknown column(s) birthday for orders" in wrong_columns.stderr
    missing = laurel(settings, "import", "orders", str(tmp_path / "none.csv"), "--program", "shop")
    assert missing.returncode == 2
    no_program = laurel(settings, "import", "members", str(bad), "--program", "nope")
    assert (no_program.returncode, no_program.stderr.strip()) == (
        2,
        "error: PROGRAM_NOT_FOUND: no program with slug 'nope'",
    )
    unknown_kind = laurel(settings, "import", "rewards", str(bad), "--program", "shop")
    assert unknown_kind.returncode == 2
