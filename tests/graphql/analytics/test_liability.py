"""The points liability in money: the program's cost per point (validated), outstanding and
pending points valued with it, and the forecasts of breakage and redemptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app import clock as app_clock
from app.clock import ManualClock
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points, update_program_settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) {
    program { costPerPointMinor }
    userErrors { field code }
  }
}"""

LIABILITY = """
query($slug: String!) {
  programInsights(programSlug: $slug, from: "2026-11-01", to: "2026-11-30") {
    costPerPointMinor
    totals { points { outstandingAtEnd outstandingAtEndMinor pendingAtEndMinor
                      settledBreakageRate forecastBreakage forecastRedemptions
                      forecastBreakageMinor forecastRedemptionsMinor } }
  }
}"""


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with app_clock.using(ManualClock(NOW)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


async def test_outstanding_points_are_valued_at_the_cost_per_point(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 333)

    before = await api.data(LIABILITY, {"slug": "shop"})
    program = await update_program_settings(api, costPerPointMinor=" 0.50 ")
    after = await api.data(LIABILITY, {"slug": "shop"})

    points = before["programInsights"]["totals"]["points"]
    assert before["programInsights"]["costPerPointMinor"] is None
    assert (points["outstandingAtEnd"], points["outstandingAtEndMinor"]) == (333, None)
    # Nothing expired or spent yet: no observed rate to forecast with.
    assert (points["settledBreakageRate"], points["forecastBreakage"]) == (None, None)
    assert program["slug"] == "shop"
    valued = after["programInsights"]
    assert valued["costPerPointMinor"] == "0.50"
    # 333 x 0.5 = 166.5, rounded half to even.
    assert valued["totals"]["points"]["outstandingAtEndMinor"] == 166
    assert valued["totals"]["points"]["pendingAtEndMinor"] == 0


async def test_a_bad_cost_per_point_is_refused_and_changes_nothing(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await update_program_settings(api, costPerPointMinor="2")

    for bad in ("abc", "-1", "0.0000001", "1000000.5", "NaN", "Infinity", ""):
        data = await api.data(
            SETTINGS, {"input": {"programSlug": "shop", "costPerPointMinor": bad}}
        )
        payload = data["updateProgramSettings"]
        assert payload["userErrors"] == [
            {"field": ["input", "costPerPointMinor"], "code": "INVALID_VALUE"}
        ], bad
    kept = await api.data(SETTINGS, {"input": {"programSlug": "shop"}})
    assert kept["updateProgramSettings"]["program"]["costPerPointMinor"] == "2"
