"""The server's own job runner: with LAUREL_JOBS_INTERVAL_SECONDS set, due work gets done."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from app import clock
from app.config import Settings
from app.db import utc_now
from app.main import create_app
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, record_order

MEMBER_POINTS = "query($id: ID!) { member(id: $id) { points { available pending } } }"


async def test_server_matures_due_points_on_its_own(api: Api, settings: Settings) -> None:
    await create_program(api, pendingDays=7)
    member = await enroll(api)
    await record_order(api, placedAt=(utc_now() - timedelta(days=1)).isoformat())
    before = await api.data(MEMBER_POINTS, {"id": member["id"]})
    assert before["member"]["points"]["pending"] > 0

    app = create_app(dataclasses.replace(settings, jobs_interval_seconds=1), manage_database=False)
    later = clock.ManualClock(utc_now() + timedelta(days=7))
    with clock.using(later):
        async with app.router.lifespan_context(app):
            for _ in range(100):
                status = await api.data(MEMBER_POINTS, {"id": member["id"]})
                if status["member"]["points"]["pending"] == 0:
                    break
                await asyncio.sleep(0.1)

    assert status["member"]["points"] == {
        "available": before["member"]["points"]["pending"],
        "pending": 0,
    }


async def test_no_runner_without_an_interval(api: Api, settings: Settings) -> None:
    await create_program(api, pendingDays=7)
    member = await enroll(api)
    await record_order(api, placedAt=(utc_now() - timedelta(days=1)).isoformat())
    app = create_app(settings, manage_database=False)
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=7))):
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.5)
            status = await api.data(MEMBER_POINTS, {"id": member["id"]})
    assert status["member"]["points"]["pending"] > 0
