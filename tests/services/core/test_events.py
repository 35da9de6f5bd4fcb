"""The outbox lists events in commit-safe order: a cursor never skips a late commit."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from app.db import utc_now
from app.services.core.events import append_event, list_events
from app.services.programs.service import CreateProgramInput, create_program


async def test_an_event_committed_after_a_newer_one_is_not_skipped(db: None, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite writes one transaction at a time: no commit can overtake another")
    program = await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    slow_appended = asyncio.Event()
    release_slow = asyncio.Event()

    async def slow_writer() -> None:
        async with in_transaction() as conn:
            await append_event(
                conn,
                program_id=program.id,
                member_id=None,
                event_type="slow",
                payload={},
                now=utc_now(),
            )
            slow_appended.set()
            await release_slow.wait()

    slow = asyncio.create_task(slow_writer())
    await slow_appended.wait()
    async with in_transaction() as conn:
        await append_event(
            conn,
            program_id=program.id,
            member_id=None,
            event_type="fast",
            payload={},
            now=utc_now(),
        )

    while_slow_is_open = [e.type for e in await list_events(program.id, after_id=None, limit=10)]
    release_slow.set()
    await slow
    after_both = [e.type for e in await list_events(program.id, after_id=None, limit=10)]

    assert while_slow_is_open == ["program.created"]
    assert after_both == ["program.created", "slow", "fast"]
