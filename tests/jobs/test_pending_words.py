"""What the API says of pending points agrees with its numbers: `lifetimeEarned` counts them
once, when earned; the MATURE activity moves them from pending to available, so its `points`
is 0 and its description says how many."""

from __future__ import annotations

from datetime import timedelta

from app.clock import ManualClock
from app.jobs.runner import JobName, run_job
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import earn

POINTS = """
query($id: ID!) {
  member(id: $id) {
    points { available pending lifetimeEarned }
    activity(first: 10) { edges { node { kind points description } } }
  }
}"""


async def test_pending_points_count_as_earned_once_and_maturing_moves_them(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, pendingDays=14)
    member = await enroll(api)
    await earn(api, clock, 120, "order-1")

    pending = (await api.data(POINTS, {"id": member["id"]}))["member"]
    clock.advance(timedelta(days=15))
    matured = await run_job(JobName.MATURE, clock.now())
    available = (await api.data(POINTS, {"id": member["id"]}))["member"]

    assert matured.ran and matured.summary == {"lots": 1}
    assert pending["points"] == {"available": 0, "pending": 120, "lifetimeEarned": 120}
    assert available["points"] == {"available": 120, "pending": 0, "lifetimeEarned": 120}
    activities = [edge["node"] for edge in available["activity"]["edges"]]
    mature = [activity for activity in activities if activity["kind"] == "MATURE"]
    earned = [activity for activity in activities if activity["kind"] == "EARN_ORDER"]
    assert [activity["points"] for activity in mature] == [0]
    assert "120" in mature[0]["description"]
    assert [activity["points"] for activity in earned] == [120]
    # The activities' points add up to what the member holds, pending or available.
    assert sum(activity["points"] for activity in activities) == 120
