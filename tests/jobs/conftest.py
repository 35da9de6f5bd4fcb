"""Fixtures of the job tests: the API client and a manual clock shared by services and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from tests.api.conftest import Api, api_client
from tests.jobs.helpers import T0


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """The process's clock for this test, standing at T0 until the test moves it."""
    with app_clock.using(ManualClock(T0)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


@pytest.fixture
async def api(db: None, settings: Settings, clock: ManualClock) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client
