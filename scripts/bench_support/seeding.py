"""What every PostgreSQL benchmark does before it seeds its own rows: a fresh database of its
name, migrated, with the one program the benchmark reads (the rest it inserts with plain SQL)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

from app.config import Settings
from app.db import apply_migrations, close_db, init_db, normalise_url
from app.services.programs import service as programs_service
from bench_support.jobs_main import BenchError, recreate

DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test"


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def fresh_database(command: str, database: str) -> str | None:
    """The URL of `database` on the server of BENCH_POSTGRES_URL, dropped and created again;
    None (the reason printed) when the server refuses."""
    admin_url = normalise_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    url = with_database(admin_url, database)
    try:
        recreate(url)
    except BenchError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    return url


@asynccontextmanager
async def migrated_with_program(url: str, slug: str, name: str) -> AsyncIterator[int]:
    """The database at `url` migrated and open, with one EUR program earning a point per unit;
    yields the program's id and closes the database after."""
    settings = Settings(database_url=url)
    await apply_migrations(settings)
    await init_db(settings)
    try:
        program = await programs_service.create_program(
            programs_service.CreateProgramInput(
                slug=slug, name=name, currency="EUR", points_per_currency_unit=1
            )
        )
        yield program.id
    finally:
        await close_db()


async def seed_program(url: str, slug: str = "shop", name: str = "Shop") -> int:
    """`migrated_with_program` for benchmarks that insert everything else with plain SQL."""
    async with migrated_with_program(url, slug, name) as program_id:
        return program_id
