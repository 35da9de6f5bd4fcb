"""The job runner beside another process that keeps writing (the server taking orders while
`laurel jobs run` runs from cron): every due lot matures, and the run ends.

On SQLite the other writer is a connection of its own to the same file. A transaction that read
before it wrote could not take the write lock once that connection had committed after its read
(WAL mode answers "database is locked" at once, without waiting): the run failed on the first
lot that met a commit. On PostgreSQL the other writer is a connection outside Tortoise's pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import timedelta
from itertools import cycle

import asyncpg

from app.clock import ManualClock
from app.config import Settings
from app.jobs.runner import JobName, run_job
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import count, earn

LOTS = 40
# A steady stream, far below what the busy timeout allows for: a commit every 2 ms.
PAUSE_BETWEEN_COMMITS_SECONDS = 0.002
# Each commit renames the program and back: a write unrelated to maturing.
RENAME = "UPDATE programs SET name = $1 WHERE slug = 'shop'"


class _Commits:
    def __init__(self) -> None:
        self.made = 0
        # Set once the writer has committed (on a busy machine its thread may start late,
        # after a quick job has already ended).
        self.under_way = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def one_more(self) -> None:
        self.made += 1
        if self.made == 1:
            self._loop.call_soon_threadsafe(self.under_way.set)


@asynccontextmanager
async def another_writer(database_url: str) -> AsyncIterator[_Commits]:
    """A connection that is not Tortoise's, committing a small write every few milliseconds
    until the block ends."""
    commits = _Commits()
    names = cycle(["Shop", "Shop (busy)"])
    if database_url.startswith("sqlite://"):
        stop = threading.Event()

        def write_steadily() -> None:
            path = database_url.removeprefix("sqlite://").split("?", 1)[0]
            with closing(sqlite3.connect(path, timeout=5, isolation_level=None)) as sqlite:
                while not stop.is_set():
                    sqlite.execute(RENAME.replace("$1", "?"), (next(names),))
                    commits.one_more()
                    time.sleep(PAUSE_BETWEEN_COMMITS_SECONDS)

        writer = asyncio.create_task(asyncio.to_thread(write_steadily))
        try:
            await commits.under_way.wait()
            yield commits
        finally:
            stop.set()
            await writer
        return

    postgres = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    writing = True

    async def write_steadily_to_postgres() -> None:
        while writing:
            await postgres.execute(RENAME, next(names))
            commits.one_more()
            await asyncio.sleep(PAUSE_BETWEEN_COMMITS_SECONDS)

    writer = asyncio.create_task(write_steadily_to_postgres())
    try:
        await commits.under_way.wait()
        yield commits
    finally:
        writing = False
        await writer
        await postgres.close()


async def test_the_job_runner_matures_every_lot_while_another_connection_keeps_writing(
    api: Api, clock: ManualClock, settings: Settings
) -> None:
    await create_program(api, pendingDays=14)
    for n in range(LOTS):
        await enroll(api, customer_id=f"cust-{n}")
        await earn(api, clock, 10, f"order-{n}", f"cust-{n}")
    clock.advance(timedelta(days=14))

    async with asyncio.timeout(60), another_writer(settings.database_url) as commits:
        result = await run_job(JobName.MATURE, clock.now())
        during_the_run = commits.made

    assert result.ran and result.summary == {"lots": LOTS}
    assert during_the_run > 0, "the other connection must have been writing as the job ran"
    assert await count("SELECT COUNT(*) AS n FROM point_lots WHERE pending_until IS NOT NULL") == 0
    assert await count("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'MATURE'") == (
        LOTS
    )
    assert await verify_ledger() == []
