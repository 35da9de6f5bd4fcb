"""Load shedding: a bound on the API requests one process works on at once.

At most `max_in_flight` requests run; up to `max_queued` more wait their turn, first come
first served, each for at most `max_queue_seconds`. Whatever is over that is answered at once
with 503 `OVERLOADED` and `Retry-After`, before anything is read or checked: under overload the
requests that are let in keep their latency and the rest learn at once to come back, instead of
every request waiting for seconds behind all the others. Every admitted answer says how long it
waited (`Server-Timing: queue;dur=<ms>`).

In front of the gateway, as a pure ASGI wrapper: it costs two counter updates a request when
there is room.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("laurel.admission")

RETRY_AFTER_SECONDS = b"1"


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_queued: int,
        max_queue_seconds: float,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queued = max_queued
        self.max_queue_seconds = max_queue_seconds
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_in_flight <= 0:
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        if self.in_flight < self.max_in_flight and not self._waiting:
            self.in_flight += 1
        elif not await self._wait_for_turn():
            self.refused += 1
            await _refuse(send, "the server is at capacity; retry shortly")
            return
        waited_ms = (time.monotonic() - arrived) * 1000
        timing = f"queue;dur={waited_ms:.1f}".encode()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"server-timing", timing)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_timing)
        finally:
            self._release()

    async def _wait_for_turn(self) -> bool:
        """Whether a turn came within the queue time (the slot is then this request's)."""
        if len(self._waiting) >= self.max_queued:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.max_queue_seconds)
        except TimeoutError:
            if turn.done():
                return True  # the turn came as the wait ran out: take it
            self._give_up(turn)
            return False
        except BaseException:
            if turn.done():
                self._release()  # handed a slot it will not use
            else:
                self._give_up(turn)
            raise
        return True

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        turn.cancel()
        self._waiting.remove(turn)

    def _release(self) -> None:
        """The slot goes to the longest waiting request still waiting, or is freed."""
        if self._waiting:
            self._waiting.popleft().set_result(None)
        else:
            self.in_flight -= 1


async def _refuse(send: Send, message: str) -> None:
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "errors": [
                {
                    "message": message,
                    "extensions": {"code": "OVERLOADED", "requestId": request_id},
                }
            ]
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", RETRY_AFTER_SECONDS),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
