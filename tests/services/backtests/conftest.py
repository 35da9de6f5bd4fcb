"""The backtests' fake clock: a fixed now after the imported history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app import clock as app_clock
from app.clock import ManualClock

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed
