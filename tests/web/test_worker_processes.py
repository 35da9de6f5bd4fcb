"""`laurel serve --workers 2` as an operator runs it: two OS processes behind one port, on
PostgreSQL. An API key's rate limit holds across them (its bucket is in the database), not once
per process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.db import connection, fetch_all
from app.services.access.api_keys import create_api_key, set_rate_limit
from tests.live_server import free_port, healthy

START_SECONDS = 60
BURST = 10
REQUESTS = 60


async def test_two_worker_processes_share_a_keys_rate(
    backend: str, db: None, settings: Settings
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serves from one process: `laurel serve --workers 2` refuses it")
    key = await create_api_key(KeyKind.ADMIN, None, "two worker processes")
    # Almost no refill: over the test's few seconds the key has its burst and nothing more.
    await set_rate_limit(key.id, 0.01, BURST)
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--workers",
        "2",
        env={
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "LAUREL_PORT": str(port),
            "LAUREL_LOG_LEVEL": "warning",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while not await asyncio.to_thread(healthy, url):
            if server.returncode is not None:
                problem = await server.stderr.read() if server.stderr else b""
                raise AssertionError(f"the server exited: {problem.decode()}")
            assert time.monotonic() < deadline, f"no answer within {START_SECONDS} s"
            await asyncio.sleep(0.2)
        workers = await _worker_processes()

        async def one() -> int:
            # A connection of its own each: the kernel hands them to either process.
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                answer = await http.post(
                    "/graphql",
                    json={"query": "{ programs { slug } }"},
                    headers={"Authorization": f"Bearer {key.secret}"},
                )
                return answer.status_code

        statuses = await asyncio.gather(*(one() for _ in range(REQUESTS)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(server.wait(), 20)
        except TimeoutError:
            os.killpg(server.pid, signal.SIGKILL)
            await server.wait()

    assert len(workers) == 2, f"expected two server processes on the database, saw {workers}"
    assert set(statuses) == {200, 429}
    # The burst once over both processes (a token may refill during the run), not twice.
    assert BURST <= statuses.count(200) <= BURST + 1, statuses


async def _worker_processes() -> set[str]:
    """The server processes connected to the test's database (db.py names each connection
    after its process); both workers open their pool as they start."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        rows = await fetch_all(
            connection(),
            "SELECT DISTINCT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'laurel %'"
            " AND pid <> pg_backend_pid()",
        )
        mine = f"laurel {os.getpid()}"
        names = {str(row["application_name"]) for row in rows} - {mine}
        if len(names) >= 2 or time.monotonic() > deadline:
            return names
        await asyncio.sleep(0.2)
