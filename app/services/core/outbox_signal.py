"""Wakes the readers of the outbox (live subscriptions, the webhook worker) when events commit,
so they need not poll fast.

In one process the wake is direct. Across processes and hosts on PostgreSQL it is a
`NOTIFY laurel_outbox` sent after the commit, outside the writer's transaction: a NOTIFY inside
it would make PostgreSQL serialise every committing writer on its notification queue. A burst
of commits sends one NOTIFY at a time (the next waits for the one in flight), so a busy writer
adds about one small statement per round trip, not one per write. A reader LISTENs on one
pooled connection while it has readers, and still polls slowly in case a notification is lost
(a listening connection that dropped, a process that exited before its NOTIFY went out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from app.db import connection, is_postgres

logger = logging.getLogger("laurel.outbox")

CHANNEL = "laurel_outbox"


class OutboxSignal:
    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._notifying: asyncio.Task[None] | None = None
        self._notify_again = False
        # What this process does, for tests and the benchmarks: NOTIFYs sent, LISTENs open.
        self.notifications_sent = 0
        self.listens = 0

    def committed(self) -> None:
        """Events were committed by this process (an `after_commit` callback of append_event)."""
        self._wake()
        if not is_postgres(connection()):
            return
        if self._notifying is not None and not self._notifying.done():
            self._notify_again = True
            return
        try:
            self._notifying = asyncio.get_running_loop().create_task(self._notify())
        except RuntimeError:
            return  # no loop: a synchronous caller; the readers' slow poll finds the events

    def committed_here(self) -> None:
        """Events were committed that only this process's readers need hear of at once: replayed
        history (an import), which no webhook sends; other processes' readers find it by their
        slow poll, and the import sends no NOTIFY per order."""
        self._wake()

    async def _notify(self) -> None:
        while True:
            self._notify_again = False
            try:
                await connection().execute_script(f"NOTIFY {CHANNEL}")
                self.notifications_sent += 1
            except Exception:
                logger.warning("NOTIFY %s failed; readers find the events by polling", CHANNEL)
                return
            if not self._notify_again:
                return

    async def settled(self) -> None:
        """Until the NOTIFY under way, if any, has gone out (tests that count statements)."""
        if self._notifying is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._notifying)

    def _wake(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    def _heard(self, *_: Any) -> None:
        self._wake()

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[OutboxWake]:
        """A wake for events committed here or, on PostgreSQL, anywhere. While the block runs,
        one pooled connection LISTENs (PostgreSQL); if it cannot, the wake polls as on SQLite."""
        wake = OutboxWake(asyncio.Event(), across_processes=False)
        self._waiters.add(wake.event)
        try:
            client = connection()
            async with contextlib.AsyncExitStack() as stack:
                if is_postgres(client):
                    try:
                        raw = await stack.enter_async_context(client.acquire_connection())
                        await raw.add_listener(CHANNEL, self._heard)
                        stack.push_async_callback(self._unlisten, raw)
                        wake.across_processes = True
                        self.listens += 1
                    except Exception:
                        logger.warning("LISTEN %s failed; polling the outbox instead", CHANNEL)
                yield wake
        finally:
            self._waiters.discard(wake.event)

    async def _unlisten(self, raw: Any) -> None:
        # The pool does not reset its connections (app/db/configuration.py), so the LISTEN
        # must end here.
        self.listens -= 1
        with contextlib.suppress(Exception):
            await raw.remove_listener(CHANNEL, self._heard)


# How long a reader that hears every commit waits before reading anyway, in case a notification
# was lost.
SAFETY_POLL_SECONDS = 1.0


@dataclass
class OutboxWake:
    event: asyncio.Event
    # Whether commits by other processes wake it too (LISTEN on PostgreSQL); otherwise only this
    # process's, and the reader must poll for the rest.
    across_processes: bool

    async def wait(self, poll_seconds: float) -> None:
        """Until events commit, or the time to read anyway; then ready for the next read."""
        timeout = SAFETY_POLL_SECONDS if self.across_processes else poll_seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.event.wait()
        self.event.clear()


OUTBOX_SIGNAL = OutboxSignal()
