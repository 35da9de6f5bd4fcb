"""Tier jobs: period ends on time and once, and recalculation after a configuration change,
with progress, resumable after a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.clock import ManualClock
from app.config import Settings
from app.jobs import tiers as tier_jobs
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from app.services.tiers import service as tiers_service
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, record_order
from tests.graphql.tiers.test_tiers import STATUS, configure
from tests.jobs.helpers import count, events_of, run
from tests.jobs.test_resume import KilledError, dies_after
from tests.test_cli import laurel


class RecordingProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, done: int) -> None:
        self.done += done


async def spend(
    api: Api, clock: ManualClock, order_id: str, total_minor: int, customer: str
) -> None:
    result = await record_order(
        api,
        order_id=order_id,
        customer_id=customer,
        unit_price_minor=total_minor,
        quantity=1,
        placedAt=clock.now().isoformat(),
    )
    assert result["userErrors"] == [], result["userErrors"]


async def tier_of(api: Api, member_id: str) -> tuple[str | None, list[tuple[Any, Any, str]]]:
    data = await api.data(STATUS, {"id": member_id})
    tier_status = data["member"]["tierStatus"]
    tier = None if tier_status["tier"] is None else tier_status["tier"]["name"]
    history = [(h["fromTier"], h["toTier"], h["reason"]) for h in tier_status["history"]]
    return tier, history


async def test_a_tier_is_kept_through_the_next_year_and_lost_at_its_end_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api, timeZone="Europe/Stockholm")
    await configure(api)
    member = await enroll(api)
    await spend(api, clock, "o-1", 60_000, "cust-1")

    clock.set(datetime(2030, 12, 31, 23, 30, tzinfo=UTC))  # 2031 already in Stockholm
    first_end = (await run(JobName.TIERS, clock)).summary
    kept = await tier_of(api, member["id"])
    clock.set(datetime(2031, 12, 31, 22, 59, tzinfo=UTC))  # 23:59 local, still 2031
    early = (await run(JobName.TIERS, clock)).summary
    clock.set(datetime(2031, 12, 31, 23, 0, tzinfo=UTC))  # midnight in Stockholm
    second_end = (await run(JobName.TIERS, clock)).summary
    rerun = (await run(JobName.TIERS, clock)).summary
    dropped = await tier_of(api, member["id"])

    assert first_end == {"members": 1, "changed": 0}
    assert kept == ("Gold", [(None, "Gold", "ORDER")])
    assert early == {"members": 0, "changed": 0}
    assert second_end == {"members": 1, "changed": 1}
    assert rerun == {"members": 0, "changed": 0}
    assert dropped == (None, [("Gold", None, "PERIOD_END"), (None, "Gold", "ORDER")])
    moves = await events_of(api, "tier.changed")
    assert [(m["payload"]["toTier"], m["payload"]["direction"]) for m in moves] == [
        ("Gold", "UP"),
        (None, "DOWN"),
    ]


async def test_one_level_downgrades_step_by_step_at_each_period_end(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api, downgrade="ONE_LEVEL")
    member = await enroll(api)
    await spend(api, clock, "o-1", 60_000, "cust-1")

    tiers = []
    for year in (2031, 2032, 2033):
        clock.set(datetime(year, 1, 1, tzinfo=UTC))
        await run(JobName.TIERS, clock)
        tiers.append((await tier_of(api, member["id"]))[0])

    assert tiers == ["Gold", "Silver", None]


async def test_a_configuration_change_is_pending_until_the_recalculation_moves_everyone(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    members = [await enroll(api, customer_id=f"cust-{n}") for n in range(3)]
    for n, total in enumerate((5_000, 20_000, 60_000)):
        await spend(api, clock, f"o-{n}", total, f"cust-{n}")
    await run(JobName.TIERS_RECALCULATE, clock)

    changed = await configure(
        api,
        [{"name": "Silver", "threshold": 5_000}, {"name": "Gold", "threshold": 20_000}],
    )
    before = [(await tier_of(api, m["id"]))[0] for m in members]
    statuses = [(await api.data(STATUS, {"id": m["id"]}))["member"]["tierStatus"] for m in members]
    progress = RecordingProgress()
    result = await tier_jobs.recalculate_tiers(clock.now(), progress)
    after = [await tier_of(api, m["id"]) for m in members]
    program = await tiers_service.tier_program_of(1)

    assert changed["tierProgram"]["recalculationPending"] is True
    # Before the recalculation reaches them, members are answered by the new configuration
    # (defect: the tier the old one gave, with neededForNext 0 below a value past it).
    assert before == ["Silver", "Gold", "Gold"]
    for status in statuses:
        assert status["neededForNext"] is None or status["neededForNext"] > 0, status
    assert result == {"programs": 1, "members": 3, "changed": 2}
    assert (progress.total, progress.done) == (3, 3)
    assert [tier for tier, _ in after] == ["Silver", "Gold", "Gold"]
    assert after[1][1][0] == ("Silver", "Gold", "RECALCULATION")
    assert program is not None and program.recalculation_pending is False
    assert await verify_ledger() == []


async def test_a_killed_recalculation_resumes_after_the_last_finished_page(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await configure(api)
    for n in range(5):
        await enroll(api, customer_id=f"cust-{n}")
        await spend(api, clock, f"o-{n}", 6_000, f"cust-{n}")
    await configure(api, [{"name": "Silver", "threshold": 5_000}])
    reviewed: list[int] = []
    original = tiers_service.review_member

    async def recording(program_id: int, member_id: int, *args: Any) -> bool:
        reviewed.append(member_id)
        return await original(program_id, member_id, *args)

    monkeypatch.setattr(tiers_service, "review_member", dies_after(3, recording))
    with pytest.raises(KilledError):
        await tier_jobs.recalculate_tiers(clock.now(), batch_size=2)
    monkeypatch.setattr(tiers_service, "review_member", recording)
    progress = RecordingProgress()
    resumed = await tier_jobs.recalculate_tiers(clock.now(), progress, batch_size=2)

    # Pages of 2: the first page was saved, so the run resumes at the third member; the one
    # member of the killed page already done is evaluated again (harmlessly: evaluation is
    # idempotent) and no one is missed or moved twice.
    assert progress.total == 3
    assert resumed == {"programs": 1, "members": 3, "changed": 2}
    assert await count("SELECT COUNT(*) AS n FROM tier_changes WHERE reason = 'RECALCULATION'") == 5
    assert len(reviewed) == 3 + 3


async def test_the_cli_runs_the_recalculation_and_summarises_it(
    api: Api, clock: ManualClock, settings: Settings
) -> None:
    await create_program(api)
    await configure(api)
    for n in range(2):
        await enroll(api, customer_id=f"cust-{n}")
        await spend(api, clock, f"o-{n}", 60_000, f"cust-{n}")

    result = laurel(
        settings,
        "jobs",
        "run",
        "tiers-recalculate",
        "--as-of",
        (clock.now() + timedelta(hours=1)).isoformat(),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tiers-recalculate: programs 1, members 2, changed 0")


async def test_the_server_recalculates_after_a_configuration_change_by_itself(
    api: Api, clock: ManualClock
) -> None:
    """What `laurel serve` runs every LAUREL_TIER_RECALCULATION_SECONDS without a job runner."""
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await spend(api, clock, "o-1", 20_000, "cust-1")
    await run(JobName.TIERS_RECALCULATE, clock)
    nothing_changed = await tier_jobs.recalculate_after_changes()

    await configure(
        api, [{"name": "Silver", "threshold": 5_000}, {"name": "Gold", "threshold": 20_000}]
    )
    done = await tier_jobs.recalculate_after_changes()
    again = await tier_jobs.recalculate_after_changes()
    program = await tiers_service.tier_program_of(1)

    assert nothing_changed is None
    assert done == {"programs": 1, "members": 1, "changed": 1}
    assert again is None
    assert program is not None and program.recalculation_pending is False
    tier, history = await tier_of(api, member["id"])
    assert tier == "Gold"
    assert history[0] == ("Silver", "Gold", "RECALCULATION")
