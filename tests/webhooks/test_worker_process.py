"""`laurel worker` as a process of its own: endpoints made with `laurel webhooks create`, the
worker SIGKILLed in the middle of a batch and started again. Every event arrives; the only
ones sent twice are those whose send was under way when the worker died."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from app.config import Settings
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import create_program, enroll
from tests.graphql.helpers import rows
from tests.webhooks.receiver import receiver

EVENTS = 30
WAIT_SECONDS = 90


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client


def _environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LAUREL_WEBHOOKS_ALLOW_PRIVATE": "on",
        # A short time limit makes a short lease: a killed worker's claims run out in 9 s.
        "LAUREL_WEBHOOK_TIMEOUT_SECONDS": "1",
        "LAUREL_LOG_LEVEL": "warning",
    }


def laurel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _worker(settings: Settings) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "worker",
        env=_environment(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS} s for {what}"
        await asyncio.sleep(0.1)


async def _delivered() -> int:
    [row] = await rows("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'SUCCEEDED'")
    return int(row["n"])


async def test_a_killed_worker_loses_nothing_and_repeats_only_what_was_in_flight(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    with receiver() as hook:
        # Answers come after half a second: the worker is killed with its sends under way.
        hook.pause_seconds = 0.5
        created = laurel(
            settings,
            "webhooks",
            "create",
            "--program",
            "shop",
            "--url",
            hook.url,
            "--event-type",
            "member.*",
        )
        assert created.returncode == 0, created.stderr
        endpoint_id, secret = created.stdout.strip().split("\t")
        assert secret.startswith("whsec_")
        listed = laurel(settings, "webhooks", "list", "--program", "shop")
        assert listed.stdout.split("\t")[:3] == [endpoint_id, "enabled", hook.url]
        refused = laurel(
            settings, "webhooks", "create", "--program", "shop", "--url", "ftp://x.example"
        )
        assert refused.returncode == 2
        assert "INVALID_VALUE" in refused.stderr

        for n in range(EVENTS):
            await enroll(api, customer_id=f"cust-{n}")

        first = await _worker(settings)

        async def sends_under_way() -> bool:
            return len(hook.received) >= 5

        await _until(sends_under_way, "the first sends")
        first.kill()
        await first.wait()
        before_kill = set(hook.ids())

        second = await _worker(settings)
        assert second.stdout is not None
        assert b"delivering webhooks" in await second.stdout.readline()

        async def all_delivered() -> bool:
            return await _delivered() == EVENTS

        await _until(all_delivered, "every event")
        second.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(second.communicate(), 30)

    assert second.returncode == 0, err.decode()
    assert out.decode().strip() == "stopped"
    counts = Counter(hook.ids())
    repeated = {event for event, times in counts.items() if times > 1}
    assert max(counts.values()) <= 2
    assert repeated <= before_kill, "only a send under way at the kill may be repeated"
    statuses = await rows("SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status")
    assert [(row["status"], row["n"]) for row in statuses] == [("SUCCEEDED", EVENTS)]
