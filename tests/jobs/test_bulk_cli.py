"""`laurel bulk` as a separate process: what it prints, its exit status, a second run that
does nothing twice, and a run killed outright (SIGKILL) that the next runner resumes exactly
once the dead run's lease has passed. Both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from app.config import Settings
from app.db import utc_now
from app.domain.ids import encode_id
from app.jobs.bulk import run_queued_bulk_operations
from app.services.audit.service import COMMAND_LINE_KEY_ID
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program
from tests.graphql.helpers import rows
from tests.test_cli import api, laurel

__all__ = ["api"]

# Members of the killed run: enough that it is still going when it is killed.
KILLED_RUN_MEMBERS = 300


async def test_enrol_then_adjust_from_files_and_a_second_run_changes_nothing(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await create_program(api)
    mailing_list = tmp_path / "list.csv"
    mailing_list.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\nnot an id\n")
    enrolled = laurel(
        settings,
        "bulk",
        "enroll",
        str(mailing_list),
        "--program",
        "shop",
        "--marketing-consent",
        "--consent-note",
        "Shop newsletter, double opt-in",
    )
    assert enrolled.returncode == 1, enrolled.stderr
    lines = enrolled.stdout.splitlines()
    assert lines[0] == "line 4\t-\tMALFORMED_RECORD\t1 fields where the header names 2"
    assert lines[1].endswith("DONE: 3 of 3 records; applied 2, skipped 0, rejected 1")

    credits = tmp_path / "credits.csv"
    credits.write_text("customer_id,points\nann@example.org,40\nbob@example.org,15\n")
    arguments = ("bulk", "adjust-points", str(credits), "--program", "shop", "--reason", "Welcome")
    first = laurel(settings, *arguments)
    second = laurel(settings, *arguments)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith(
        "DONE: 2 of 2 records; applied 2, skipped 0, rejected 0; points 55"
    )
    # The same command again is the same operation, already done.
    assert second.stdout == first.stdout
    balances = await rows("SELECT customer_id, points_available FROM members ORDER BY customer_id")
    assert [(r["customer_id"], int(r["points_available"])) for r in balances] == [
        ("ann@example.org", 40),
        ("bob@example.org", 15),
    ]
    number = first.stdout.split()[2]
    assert laurel(settings, "bulk", "status", number).stdout == first.stdout
    assert laurel(settings, "bulk", "cancel", number).returncode == 2

    # Without a key, each member changed is audited with the command line as its actor, and an
    # enrolment's entry names the member it made.
    member_ids = {
        str(r["customer_id"]): encode_id("Member", int(r["id"]))
        for r in await rows("SELECT id, customer_id FROM members")
    }
    ann, bob = member_ids["ann@example.org"], member_ids["bob@example.org"]
    audited = await rows(
        "SELECT api_key_id, operation, target_type, target_id FROM audit_log"
        " WHERE operation LIKE 'bulk%' ORDER BY id"
    )
    assert [
        (int(r["api_key_id"]), r["operation"], r["target_type"], r["target_id"]) for r in audited
    ] == [
        (COMMAND_LINE_KEY_ID, "bulkEnrollMembers", "Member", ann),
        (COMMAND_LINE_KEY_ID, "bulkEnrollMembers", "Member", bob),
        (COMMAND_LINE_KEY_ID, "bulkAdjustPoints", "Member", ann),
        (COMMAND_LINE_KEY_ID, "bulkAdjustPoints", "Member", bob),
    ]
    log = await api.data(
        '{ auditLog(first: 10, operation: "bulkAdjustPoints")'
        " { edges { node { actor targetId } } } }"
    )
    assert [edge["node"] for edge in log["auditLog"]["edges"]] == [
        {"actor": "COMMAND_LINE", "targetId": bob},
        {"actor": "COMMAND_LINE", "targetId": ann},
    ]


async def _position(operation_kind: str) -> int | None:
    found = await rows(
        f"SELECT position FROM bulk_operations WHERE kind = '{operation_kind}' ORDER BY id"
    )
    return None if not found else int(found[-1]["position"])


async def test_a_run_killed_outright_is_resumed_once_its_lease_passes_and_does_nothing_twice(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await create_program(api)
    people = [f"c{index:04}" for index in range(KILLED_RUN_MEMBERS)]
    (tmp_path / "people.csv").write_text("customer_id\n" + "\n".join(people) + "\n")
    enrolled = laurel(settings, "bulk", "enroll", str(tmp_path / "people.csv"), "--program", "shop")
    assert enrolled.returncode == 0, enrolled.stderr

    lease_seconds = 3
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LAUREL_JOB_LEASE_SECONDS": str(lease_seconds),
    }
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "bulk",
        "adjust-points",
        str(tmp_path / "people.csv"),
        "--program",
        "shop",
        "--points",
        "7",
        "--reason",
        "Killed run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while (position := await _position("adjust_points")) is None or position < 5:
            assert run.returncode is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run made no progress"
            await asyncio.sleep(0.05)
        run.send_signal(signal.SIGKILL)
    finally:
        await asyncio.wait_for(run.wait(), 60)
    killed_at = await _position("adjust_points")
    assert killed_at is not None and 5 <= killed_at < KILLED_RUN_MEMBERS
    state = await rows("SELECT status FROM bulk_operations WHERE kind = 'adjust_points'")
    assert [r["status"] for r in state] == ["RUNNING"]

    # The next runner takes it once the dead run's lease has passed: poll, never a fixed wait.
    deadline = time.monotonic() + 60
    while (await run_queued_bulk_operations(utc_now())) == {"bulk operations": 0}:
        assert time.monotonic() < deadline, "the dead run's lease never passed"
        await asyncio.sleep(0.2)

    done = await rows(
        "SELECT status, position, applied, failed, points, claims FROM bulk_operations"
        " WHERE kind = 'adjust_points'"
    )
    assert [
        (r["status"], int(r["position"]), int(r["applied"]), int(r["failed"]), int(r["points"]))
        for r in done
    ] == [("DONE", KILLED_RUN_MEMBERS, KILLED_RUN_MEMBERS, 0, 7 * KILLED_RUN_MEMBERS)]
    assert int(done[0]["claims"]) == 2
    per_member = await rows(
        "SELECT member_id, COUNT(*) AS n FROM ledger_transactions WHERE kind = 'ADJUST'"
        " GROUP BY member_id"
    )
    assert len(per_member) == KILLED_RUN_MEMBERS
    assert {int(r["n"]) for r in per_member} == {1}
    assert laurel(settings, "verify-ledger").returncode == 0
