"""`laurel jobs run`: every job, or one, as of a given time, with a summary line per job."""

from __future__ import annotations

import re

import pytest

from app.clock import ManualClock
from app.config import Settings
from app.db import connection, fetch_all
from app.jobs.runner import ALL_JOBS
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll
from tests.jobs.helpers import count, earn, points_of, set_expiry
from tests.test_cli import laurel

SUMMARY = re.compile(r"^(?P<job>[a-z-]+): (?P<counts>.*) \(\d+\.\d\d s\)$")


def summaries(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    matches = [SUMMARY.match(line) for line in lines]
    assert all(matches), lines
    return {m["job"]: m["counts"] for m in matches if m}


async def test_jobs_run_as_of_a_time_runs_every_job_and_summarises_each(
    api: Api, clock: ManualClock, settings: Settings
) -> None:
    await create_program(api, pendingDays=7)
    await set_expiry(api, "LOT_LIFETIME", lifetime=30, unit="DAYS", expiryWarningDays=40)
    member = await enroll(api)
    await earn(api, clock, 10, "order-1")  # pending until 14 January 2030

    # Matured by a run days late, it still counts from the end of its pending period:
    # 14 January 12:00 UTC, so it expires 30 days later, 13 February 12:00 UTC.

    warned = laurel(settings, "jobs", "run", "--as-of", "2030-01-20T00:00:00+01:00")
    early = laurel(settings, "jobs", "run", "expire", "--as-of", "2030-02-13T11:59:59Z")
    expired = laurel(settings, "jobs", "run", "--as-of", "2030-02-13T13:00:00+01:00")
    again = laurel(settings, "jobs", "run", "expire", "--as-of", "2030-02-13T12:00:00Z")

    assert warned.returncode == 0, warned.stderr
    lines = summaries(warned.stdout)
    # One line per job, in the runner's order (other issues add jobs of their own).
    assert list(lines) == [name.value for name in ALL_JOBS]
    assert lines["mature"] == "lots 1"
    assert lines["expire"] == "members 0, points 0"
    assert lines["expiry-warnings"] == "warnings 1"
    assert lines["celebrations"] == "birthdays 0, anniversaries 0, refused 0, announced 0"
    assert lines["purge-idempotency"] == "records 0"
    assert summaries(early.stdout) == {"expire": "members 0, points 0"}
    assert expired.returncode == 0, expired.stderr
    assert summaries(expired.stdout)["expire"] == "members 1, points 10"
    assert summaries(expired.stdout)["mature"] == "lots 0"
    assert summaries(again.stdout) == {"expire": "members 0, points 0"}
    assert await points_of(api, member["id"]) == (0, 0)
    assert await count("SELECT COUNT(*) AS n FROM expiry_warnings") == 1
    assert await verify_ledger() == []


async def test_jobs_run_refuses_an_unknown_job_or_a_bad_time(api: Api, settings: Settings) -> None:
    unknown = laurel(settings, "jobs", "run", "expiry")
    not_a_time = laurel(settings, "jobs", "run", "expire", "--as-of", "next tuesday")

    assert unknown.returncode == 2
    assert "'expiry' is not a job" in unknown.stderr
    assert "expiry-warnings" in unknown.stderr
    assert unknown.stdout == ""
    assert not_a_time.returncode == 2
    assert "is not an ISO 8601 date and time" in not_a_time.stderr


async def test_a_run_as_of_a_time_keeps_no_analytics_snapshots(
    api: Api, clock: ManualClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every open count would be kept on the real clock.
    monkeypatch.setenv("LAUREL_ANALYTICS_SNAPSHOT_BUDGET_MS", "0")
    monkeypatch.setenv("LAUREL_ANALYTICS_SNAPSHOT_MIN_CUSTOMERS", "0")
    await create_program(api)
    result = laurel(
        settings, "jobs", "run", "analytics-summaries", "--as-of", clock.now().isoformat()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = await fetch_all(
        connection(),
        "SELECT kind FROM analytics_summaries WHERE kind LIKE ? OR kind LIKE ?",
        ("live:%", "cells:%"),
    )
    assert rows == []
    assert await fetch_all(connection(), "SELECT kind FROM analytics_summaries", ()) != []
