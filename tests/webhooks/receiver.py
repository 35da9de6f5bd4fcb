"""A webhook receiver on 127.0.0.1 for the tests: it keeps every request it gets and answers
as the test says (a status per request, optionally after a pause)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.live_server import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # The status of the n-th request (0-based) and its body; 204 when left as is.
    answer: Callable[[int, Received], int] = lambda n, request: 204
    pause_seconds: float = 0.0

    def ids(self) -> list[str]:
        return [request.headers["webhook-id"] for request in self.received]


@contextmanager
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hook")
    lock = threading.Lock()

    async def hook(request: Request) -> Response:
        got = Received(dict(request.headers), (await request.body()).decode())
        with lock:
            number = len(state.received)
            state.received.append(got)
        if state.pause_seconds:
            await asyncio.sleep(state.pause_seconds)
        return Response(status_code=state.answer(number, got))

    async def moved(request: Request) -> Response:
        return Response(status_code=302, headers={"location": state.url})

    app = Starlette(
        routes=[Route("/hook", hook, methods=["POST"]), Route("/moved", moved, methods=["POST"])]
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        time.sleep(0.05)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
