"""Purging idempotency records: only those older than the retention go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.connection import connections

from app.clock import ManualClock
from app.config import Settings
from app.db import fetch_all
from app.jobs.progress import SilentProgress
from app.jobs.purge import purge_idempotency_records
from app.jobs.runner import JobName, JobOptions, run_job
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points
from tests.jobs.helpers import T0, points_of
from tests.test_cli import laurel

DAY = timedelta(days=1)


async def keys() -> list[str]:
    rows = await fetch_all(
        connections.get("default"), "SELECT key FROM idempotency_records ORDER BY key"
    )
    return [str(row["key"]) for row in rows]


async def test_purge_deletes_only_records_older_than_the_retention(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    member = await enroll(api)
    for age, key in ((45, "day-0"), (25, "day-20"), (5, "day-40")):
        clock.set(T0 + (45 - age) * DAY)
        await grant_points(api, member["id"], 1, key=key)
    clock.set(T0 + 45 * DAY)

    default = await run_job(JobName.PURGE_IDEMPOTENCY, clock.now())
    again = await run_job(JobName.PURGE_IDEMPOTENCY, clock.now())
    assert (default.summary, again.summary) == ({"records": 1}, {"records": 0})
    assert await keys() == ["day-20", "day-40"]
    # Exactly at the cutoff a record is kept; a second older it goes.
    clock.set(T0 + 50 * DAY)
    at_cutoff = await run_job(JobName.PURGE_IDEMPOTENCY, clock.now(), options=JobOptions(30))
    shorter = await run_job(
        JobName.PURGE_IDEMPOTENCY, clock.now() + timedelta(seconds=1), options=JobOptions(30)
    )

    assert (at_cutoff.summary, shorter.summary) == ({"records": 0}, {"records": 1})
    assert await keys() == ["day-40"]
    assert await verify_ledger() == []


async def test_purge_works_in_batches_and_frees_the_keys(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    member = await enroll(api)
    for n in range(7):
        await grant_points(api, member["id"], 1, key=f"old-{n}")
    clock.advance(40 * DAY)
    await grant_points(api, member["id"], 1, key="new")

    purged = await purge_idempotency_records(
        clock.now(), SilentProgress(), retention_days=30, batch_size=2
    )

    assert purged == {"records": 7}
    assert await keys() == ["new"]
    # A purged key is no longer a replay: the same request is a new adjustment.
    await grant_points(api, member["id"], 1, key="old-0")
    await grant_points(api, member["id"], 1, key="new")
    assert await points_of(api, member["id"]) == (9, 0)
    assert await verify_ledger() == []


async def test_a_run_as_of_a_later_time_frees_no_key_still_live_by_the_real_clock(
    api: Api, clock: ManualClock, settings: Settings
) -> None:
    """`--as-of` moves the jobs' time, not the time the keys were given: a client may still
    retry with a key that is younger than the retention by the real clock."""
    real_now = datetime.now(UTC)
    clock.set(real_now - 40 * DAY)
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 100, key="old")
    clock.set(real_now)
    await grant_points(api, member["id"], 100, key="live")

    run = laurel(settings, "jobs", "run", "purge-idempotency", "--as-of", "2099-01-01T00:00:00Z")

    assert run.returncode == 0, run.stderr
    assert "purge-idempotency: records 1 " in run.stdout
    assert await keys() == ["live"]
    # The retried request is still a replay: no second 100 points.
    await grant_points(api, member["id"], 100, key="live")
    assert await points_of(api, member["id"]) == (200, 0)
    assert await verify_ledger() == []
