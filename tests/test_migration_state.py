"""The migrations describe exactly the models: `makemigrations` would write nothing.

A model changed without a migration (a column's default, a new index, a renamed table) would
otherwise only show up when the next engineer runs `makemigrations` for an unrelated change and
finds someone else's operations in it. The check runs Tortoise's own autodetector, the code
behind `tortoise ... makemigrations`, in a child process so that its Tortoise context does not
meet the test's; it reads the models and the migration files and never writes either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

PENDING_OPERATIONS = """
import asyncio

from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector

from app.tortoise_cli_config import TORTOISE_ORM


async def pending() -> None:
    apps = {label: dict(app) for label, app in TORTOISE_ORM["apps"].items()}
    async with tortoise_cli_context(dict(TORTOISE_ORM)) as context:
        for writer in await MigrationAutodetector(context.apps, apps).changes():
            for operation in writer.operations:
                print(operation.describe())


asyncio.run(pending())
"""


def test_makemigrations_finds_nothing_to_write(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "LAUREL_DATABASE_URL": f"sqlite://{tmp_path / 'unused.sqlite3'}",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", PENDING_OPERATIONS],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pending = result.stdout.strip()
    assert pending == "", (
        "the models differ from what app/migrations/ builds; run makemigrations and review"
        f" the migration it writes:\n{pending}"
    )
