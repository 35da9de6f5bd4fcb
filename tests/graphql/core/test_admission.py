"""Load shedding (app/web/admission.py): past the in-flight and queue bounds a request is
answered 503 OVERLOADED at once, and none waits longer than the queue time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import NoReturn

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.services.programs import service as programs_service
from tests.graphql.conftest import api_client
from tests.graphql.factories import create_program

PROGRAMS = "{ programs { slug } }"


async def _slow_programs(*args: object, **kwargs: object) -> NoReturn:
    await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def test_requests_over_the_bounds_are_refused_at_once(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounded = replace(settings, max_in_flight=2, max_queued=3, max_queue_seconds=5.0)
    async with api_client(bounded) as api:
        api.check_plans = False
        await create_program(api)
        gate = asyncio.Event()

        async def held(*args: object, **kwargs: object) -> list[object]:
            await gate.wait()
            return []

        monkeypatch.setattr(programs_service, "list_programs", held)
        calls = [asyncio.create_task(api.post(PROGRAMS)) for _ in range(8)]
        # Waits until the refusals are answered (or a long bound): the others are held.
        for _ in range(400):
            await asyncio.sleep(0.05)
            if sum(call.done() for call in calls) >= 3:
                break
        await asyncio.sleep(0.1)
        # 2 at work, 3 waiting: the other 3 were answered without waiting for any of them.
        refused = [call for call in calls if call.done()]
        gate.set()
        answers = await asyncio.gather(*calls)

    assert len(refused) == 3
    for call in refused:
        response = call.result()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["errors"][0]["extensions"]["code"] == "OVERLOADED"
    served = [answer for answer in answers if answer.status_code == 200]
    assert len(served) == 5
    assert all(answer.headers["server-timing"].startswith("queue;dur=") for answer in served)


async def test_no_request_waits_longer_than_the_queue_time(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounded = replace(settings, max_in_flight=1, max_queued=100, max_queue_seconds=0.2)
    async with api_client(bounded) as api:
        api.check_plans = False
        await create_program(api)
        monkeypatch.setattr(programs_service, "list_programs", _slow_programs)

        async def timed() -> tuple[int, float]:
            started = time.monotonic()
            response = await api.post(PROGRAMS)
            return response.status_code, time.monotonic() - started

        results = await asyncio.gather(*(timed() for _ in range(10)))

    refused = [elapsed for status, elapsed in results if status == 503]
    # One at work for a second: those behind it give up after 0.2 s of waiting, well before
    # it is done (a slow machine may start the last of them only after the first is done).
    assert len(refused) >= 8
    assert max(refused) < 0.9


async def test_health_checks_are_not_queued(settings: Settings) -> None:
    app = create_app(replace(settings, max_in_flight=1, max_queued=0), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
