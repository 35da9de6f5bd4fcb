"""Readers of the outbox are woken by commits: `after_commit` runs once a transaction commits,
and on PostgreSQL a commit in one process reaches another's readers by LISTEN/NOTIFY, with no
polling to fall back on in these tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import asyncpg
import pytest

from app.db import after_commit, in_transaction, utc_now
from app.services.core import outbox_signal
from app.services.core.events import EventRecord, append_event
from app.services.core.outbox_signal import CHANNEL, OUTBOX_SIGNAL
from app.services.core.outbox_tail import OutboxTail
from app.services.programs.service import CreateProgramInput, ProgramRecord, create_program

WAIT_SECONDS = 10


@pytest.fixture
async def program(db: None) -> ProgramRecord:
    return await create_program(
        CreateProgramInput(slug="shop", name="Shop", currency="EUR", points_per_currency_unit=1)
    )


async def test_after_commit_runs_once_after_the_outermost_commit_and_never_on_rollback(
    db: None,
) -> None:
    calls: list[str] = []

    def note() -> None:
        calls.append("committed")

    async with in_transaction():
        after_commit(note)
        async with in_transaction():
            after_commit(note)
        assert calls == []
    assert calls == ["committed"]

    with pytest.raises(RuntimeError):
        async with in_transaction():
            after_commit(note)
            raise RuntimeError("roll back")
    assert calls == ["committed"]

    after_commit(note)  # outside a transaction: nothing to wait for
    assert calls == ["committed", "committed"]


async def test_a_commit_in_this_process_wakes_a_reader_at_once(
    program: ProgramRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_signal, "SAFETY_POLL_SECONDS", 600)
    tail = OutboxTail(poll_seconds=600)
    received = asyncio.create_task(_first_event(tail))
    await _until(lambda: tail._ready is not None and tail._ready.done())

    async with in_transaction() as conn:
        await append_event(
            conn, program_id=program.id, member_id=None, event_type="t", payload={}, now=utc_now()
        )

    event = await asyncio.wait_for(received, WAIT_SECONDS)
    assert event.type == "t"


async def test_a_commit_by_another_process_reaches_a_listening_reader(
    program: ProgramRecord, backend: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite other processes are polled")
    monkeypatch.setattr(outbox_signal, "SAFETY_POLL_SECONDS", 600)
    tail = OutboxTail(poll_seconds=600)
    received = asyncio.create_task(_first_event(tail))
    await _until(lambda: OUTBOX_SIGNAL.listens > 0)

    # Another process: its own connection, its own commit and NOTIFY.
    other = await asyncpg.connect(database_url)
    try:
        await other.execute(
            "INSERT INTO outbox_events (program_id, member_id, type, payload, created_at)"
            " VALUES ($1, NULL, 'from.elsewhere', '{}', now())",
            program.id,
        )
        await other.execute(f"NOTIFY {CHANNEL}")
        event = await asyncio.wait_for(received, WAIT_SECONDS)
    finally:
        await other.close()
    assert event.type == "from.elsewhere"
    await _until(lambda: OUTBOX_SIGNAL.listens == 0)


async def test_a_commit_here_notifies_other_processes_after_it_commits(
    program: ProgramRecord, backend: str, database_url: str
) -> None:
    if backend == "sqlite":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite other processes are polled")
    heard: asyncio.Queue[str] = asyncio.Queue()
    other = await asyncpg.connect(database_url)
    try:
        await other.add_listener(CHANNEL, lambda *args: heard.put_nowait(str(args[2])))
        async with in_transaction() as conn:
            for number in range(3):
                await append_event(
                    conn,
                    program_id=program.id,
                    member_id=None,
                    event_type=f"t{number}",
                    payload={},
                    now=utc_now(),
                )
        assert await asyncio.wait_for(heard.get(), WAIT_SECONDS) == CHANNEL
    finally:
        await other.close()


async def _first_event(tail: OutboxTail) -> EventRecord:
    events = tail.subscribe(lambda event: True)
    try:
        return await anext(events)
    finally:
        await events.aclose()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while not condition():  # noqa: ASYNC110 - the conditions are counters, not events
            await asyncio.sleep(0.01)


async def test_subscribers_arriving_at_once_share_one_tail_and_get_each_event_once(
    program: ProgramRecord, backend: str
) -> None:
    tail = OutboxTail(poll_seconds=0.05)
    streams = [tail.subscribe(lambda event: True) for _ in range(20)]

    async def next_of(stream: AsyncGenerator[EventRecord, None]) -> EventRecord:
        return await anext(stream)

    firsts = [asyncio.create_task(next_of(stream)) for stream in streams]
    await _until(
        lambda: len(tail._subscribers) == 20 and tail._ready is not None and tail._ready.done()
    )
    if backend == "postgres":
        await _until(lambda: OUTBOX_SIGNAL.listens > 0)
        assert OUTBOX_SIGNAL.listens == 1
    for event_type in ("first", "second"):
        async with in_transaction() as conn:
            await append_event(
                conn,
                program_id=program.id,
                member_id=None,
                event_type=event_type,
                payload={},
                now=utc_now(),
            )
    try:
        # Each subscriber's next two events are the two appended: a second tail would have
        # given each the first one twice.
        received = [await asyncio.wait_for(first, WAIT_SECONDS) for first in firsts]
        seconds = [await asyncio.wait_for(next_of(stream), WAIT_SECONDS) for stream in streams]
    finally:
        for stream in streams:
            await stream.aclose()
    assert [event.type for event in received] == ["first"] * 20
    assert [event.type for event in seconds] == ["second"] * 20
    assert tail._task is None
