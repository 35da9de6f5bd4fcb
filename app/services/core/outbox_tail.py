"""Live outbox events for subscriptions (app/graphql/core/subscriptions.py): one task per
process reads the events committed after the last it saw whenever events commit
(app/services/core/outbox_signal.py: at once in this process, by LISTEN/NOTIFY from others on
PostgreSQL, a few times a second otherwise), and hands each to the subscribers whose filter
takes it. It reads the database, so a change written by any
process or host reaches every subscriber, on SQLite and PostgreSQL alike (the outbox's commit
order rule, app/services/core/events.py, holds here too)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from app.db import connection, fetch_one
from app.services.core.events import EventRecord, events_after
from app.services.core.outbox_signal import OUTBOX_SIGNAL, OutboxWake

logger = logging.getLogger("laurel.subscriptions")

POLL_SECONDS = 0.2
BATCH = 1000
# Events a slow subscriber may have waiting before it is dropped (its socket closes).
QUEUE_LIMIT = 1000


class SubscriberTooSlowError(Exception):
    pass


@dataclass(eq=False)
class _Subscriber:
    wants: Callable[[EventRecord], bool]
    queue: asyncio.Queue[EventRecord | None]


class OutboxTail:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._position: int | None = None

    async def _start(self) -> None:
        """One tail, however many subscribers arrive at once: the task is made before any
        wait, and each subscriber waits until it knows where the outbox ends, so it gets every
        event committed after it subscribed."""
        if self._task is None or self._task.done():
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._tail(self._ready))
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def _tail(self, ready: asyncio.Future[None]) -> None:
        try:
            row = await fetch_one(
                connection(), "SELECT COALESCE(MAX(id), 0) AS last FROM outbox_events"
            )
        except Exception as error:
            ready.set_exception(error)
            raise
        self._position = 0 if row is None else int(row["last"])
        ready.set_result(None)
        async with OUTBOX_SIGNAL.listening() as wake:
            await self._follow(wake)

    async def _follow(self, wake: OutboxWake) -> None:
        while self._subscribers:
            try:
                assert self._position is not None
                events = await events_after(connection(), self._position, BATCH)
            except Exception:
                logger.exception("reading the outbox for subscriptions failed; retrying")
                events = []
            for event in events:
                self._position = event.id
                for subscriber in list(self._subscribers):
                    if subscriber.wants(event):
                        if subscriber.queue.qsize() >= QUEUE_LIMIT:
                            subscriber.queue.put_nowait(None)
                            self._subscribers.discard(subscriber)
                        else:
                            subscriber.queue.put_nowait(event)
            if len(events) < BATCH:
                await wake.wait(self.poll_seconds)

    async def subscribe(
        self, wants: Callable[[EventRecord], bool]
    ) -> AsyncGenerator[EventRecord, None]:
        """The events from now on that `wants` takes, until the caller stops iterating."""
        subscriber = _Subscriber(wants, asyncio.Queue())
        self._subscribers.add(subscriber)
        try:
            await self._start()
            while True:
                event = await subscriber.queue.get()
                if event is None:
                    raise SubscriberTooSlowError("the subscriber fell too far behind")
                yield event
        finally:
            self._subscribers.discard(subscriber)
            if not self._subscribers and self._task is not None:
                # Forgotten before the wait: a subscriber arriving meanwhile starts a new tail.
                task, self._task, self._ready = self._task, None, None
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
