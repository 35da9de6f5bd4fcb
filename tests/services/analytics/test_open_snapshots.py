"""Lagged snapshots of the open months' figures (app/services/analytics/open_snapshots.py):
with the budget and the minimum of customers at 0 every open count is kept; a read answers
from it while it is young (a write since is not in the answer, which says its time), from it
while one background refresh stores the new figures once it is older than the refresh age,
and counts live again beyond the maximum lag. With the default policy a small program's open
figures are exact right after a write, and nothing is stored."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from app.db import connection, database_client, fetch_all, is_postgres
from app.domain.analytics import DEFAULT_INACTIVE_MONTHS, Granularity, Period
from app.services.analytics import cohorts, open_snapshots, summaries, summary_store
from app.services.analytics.insights import (
    Cohorts,
    CohortsInput,
    Insights,
    InsightsInput,
    program_cohorts,
    program_insights,
)
from app.services.analytics.open_snapshots import SnapshotPolicy
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

SLUG = "snapshots"
# December 2026 is open on the 7th; November is the newest settled month.
OPENED = datetime(2026, 12, 7, 12, tzinfo=UTC)
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
DECEMBER = Period(date(2026, 12, 1), date(2026, 12, 31))
KEEP_EVERY_COUNT = SnapshotPolicy(
    budget_ms=0, min_customers=0, refresh_age_seconds=60, max_lag_seconds=300
)
_orders = itertools.count()


@pytest.fixture
def keep_every_count() -> Iterator[SnapshotPolicy]:
    previous = open_snapshots.configure(KEEP_EVERY_COUNT)
    try:
        yield KEEP_EVERY_COUNT
    finally:
        open_snapshots.configure(previous)


async def _order(customer: str, placed_at: datetime, total: int = 1000) -> None:
    await record_order(
        RecordOrderInput(
            program_slug=SLUG,
            customer_id=customer,
            order_id=f"snapshot-order-{next(_orders)}",
            currency="EUR",
            total_minor=total,
            lines=[OrderLineInput("SKU", 1, total)],
            placed_at=placed_at,
        ),
        None,
    )


def _counting_calls(
    monkeypatch: pytest.MonkeyPatch, name: str, gate: asyncio.Event, module: ModuleType = summaries
) -> list[None]:
    """Replace `module.<name>` by itself, counting its calls (one item each) and holding
    each one while `gate` is not set (so that a refresh cannot end while reads still run)."""
    original = getattr(module, name)
    calls: list[None] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        await gate.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


async def _program(clock: ManualClock) -> int:
    """Members enrolled in 2026 who order now and then, guests, up to the open December."""
    clock.set(datetime(2026, 1, 3, 12, tzinfo=UTC))
    program = await create_program(
        CreateProgramInput(slug=SLUG, name="Shop", currency="EUR", points_per_currency_unit=1)
    )
    for month in range(1, 13):
        clock.set(datetime(2026, month, 3, 12, tzinfo=UTC))
        if month % 3 == 1:
            await enroll_member(EnrollMemberInput(SLUG, f"member-{month}"), None)
        for index in range(1, month + 1, 3):
            await _order(f"member-{index}", clock.now(), total=500 + 10 * month)
        if month % 2 == 0:
            await _order(f"guest-{month}", clock.now(), total=300)
    clock.set(OPENED)
    return program.id


async def _insights() -> Insights:
    found = await program_insights(
        InsightsInput(SLUG, YEAR.start, YEAR.end, Granularity.MONTH), None
    )
    assert found is not None and found.totals.customers is not None
    return found


async def _cohorts() -> Cohorts:
    found = await program_cohorts(CohortsInput(SLUG, date(2026, 1, 1), date(2026, 12, 1)), None)
    assert found is not None
    return found


def _figures(found: Insights) -> tuple[object, ...]:
    """The year's and December's customer figures."""
    december = found.series[-1]
    assert december.period == DECEMBER
    assert found.totals.customers is not None and december.customers is not None
    return (
        found.totals.customers.members,
        found.totals.customers.guests,
        december.customers.members,
        december.customers.guests,
        december.customers.active_members,
    )


async def _exact(program_id: int) -> tuple[object, ...]:
    """The same figures counted from every activity row."""
    counted = await summaries.count_customers(
        connection(), program_id, [YEAR, DECEMBER], DEFAULT_INACTIVE_MONTHS
    )
    year, december = counted[YEAR], counted[DECEMBER]
    return (
        year.members,
        year.guests,
        december.members,
        december.guests,
        december.active_members,
    )


def _cells(found: Cohorts) -> list[tuple[date, int, list[tuple[int, int]]]]:
    return [
        (c.month, c.members, [(m.active_members, m.revenue_minor) for m in c.months])
        for c in found.cohorts
    ]


async def _snapshot_kinds(program_id: int) -> list[str]:
    rows = await fetch_all(
        connection(),
        "SELECT DISTINCT kind FROM analytics_summaries WHERE program_id = ?"
        " AND (kind LIKE ? OR kind LIKE ?)",
        (program_id, "live:%", "cells:%"),
    )
    return sorted(str(row["kind"]) for row in rows)


async def test_reads_answer_from_a_young_snapshot_refresh_it_once_and_count_past_the_lag(
    db: None, keep_every_count: SnapshotPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    refreshes = _counting_calls(monkeypatch, "_refresh_open_spans", gate)
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        counted_at = clock.now()

        # The first read counts the open spans and stores them.
        first = await _insights()
        assert first.open_months_as_of is None
        assert _figures(first) == await _exact(program_id)
        assert await _snapshot_kinds(program_id) == ["live:2026-11"]

        # A young snapshot answers: December's new customer is not in it, and the answer says
        # of when its figures are.
        clock.advance(timedelta(seconds=30))
        await _order("guest-new", clock.now(), total=700)
        second = await _insights()
        assert second.open_months_as_of == counted_at
        assert _figures(second) == _figures(first)
        assert _figures(second) != await _exact(program_id)
        assert open_snapshots.refreshes_under_way() == 0

        # Past the refresh age: still the old figures, and one refresh in the background,
        # however many reads ask at once.
        clock.advance(timedelta(seconds=keep_every_count.refresh_age_seconds))
        refreshed_at = clock.now()
        reads = await asyncio.gather(*(_insights() for _ in range(4)))
        reads.append(await _insights())
        assert all(_figures(read) == _figures(first) for read in reads)
        assert all(read.open_months_as_of == counted_at for read in reads)
        assert open_snapshots.refreshes_under_way() == 1
        gate.set()
        await open_snapshots.wait_for_refreshes()
        assert len(refreshes) == 1
        third = await _insights()
        assert third.open_months_as_of == refreshed_at
        assert _figures(third) == await _exact(program_id)

        # Past the maximum lag the read counts live, exact, and keeps the new count.
        await _order("member-1", clock.now(), total=900)
        clock.advance(timedelta(seconds=keep_every_count.max_lag_seconds))
        fourth = await _insights()
        assert fourth.open_months_as_of is None
        assert _figures(fourth) == await _exact(program_id)
        assert open_snapshots.refreshes_under_way() == 0
        fifth = await _insights()
        assert fifth.open_months_as_of == clock.now()
        assert _figures(fifth) == _figures(fourth)


async def test_open_cohort_cells_lag_like_the_customer_figures(
    db: None, keep_every_count: SnapshotPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    gate.set()
    counts = _counting_calls(monkeypatch, "_count_open_cohorts", gate, cohorts)
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        await _program(clock)
        counted_at = clock.now()
        first = await _cohorts()
        assert first.open_months_as_of is None
        assert len(counts) == 1

        # A December order of a member of the October cohort and a new December member: not
        # in the young snapshot.
        clock.advance(timedelta(seconds=10))
        await _order("member-10", clock.now(), total=4000)
        await enroll_member(EnrollMemberInput(SLUG, "member-late"), None)
        second = await _cohorts()
        assert second.open_months_as_of == counted_at
        assert _cells(second) == _cells(first)
        assert len(counts) == 1

        # Past the refresh age: one refresh, then the new cells.
        clock.advance(timedelta(seconds=keep_every_count.refresh_age_seconds))
        gate.clear()
        reads = await asyncio.gather(_cohorts(), _cohorts(), _cohorts())
        assert all(_cells(read) == _cells(first) for read in reads)
        assert all(read.open_months_as_of == counted_at for read in reads)
        assert open_snapshots.refreshes_under_way() == 1
        gate.set()
        await open_snapshots.wait_for_refreshes()
        assert len(counts) == 2  # the first read's, and one refresh
        third = await _cohorts()
        assert third.open_months_as_of == clock.now()
        assert _cells(third) != _cells(first)

        # Past the maximum lag: counted live, and equal to a count with the snapshots off.
        clock.advance(timedelta(seconds=keep_every_count.max_lag_seconds))
        fourth = await _cohorts()
        assert fourth.open_months_as_of is None
        kept = open_snapshots.configure(SnapshotPolicy(budget_ms=float("inf")))
        try:
            exact = await _cohorts()
        finally:
            open_snapshots.configure(kept)
        assert exact.open_months_as_of is None
        assert _cells(fourth) == _cells(exact) == _cells(third)
        october = next(c for c in fourth.cohorts if c.month == date(2026, 10, 1))
        assert october.months[2].month == date(2026, 12, 1)
        assert october.months[2].revenue_minor >= 4000
        december = next(c for c in fourth.cohorts if c.month == date(2026, 12, 1))
        assert december.members == 1


async def test_the_job_refreshes_the_snapshots_readers_use(
    db: None, keep_every_count: SnapshotPolicy
) -> None:
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        await summaries.summarise(program_id)
        assert await _snapshot_kinds(program_id) == ["cells:2026-11", "live:2026-11"]
        summarised_at = clock.now()
        # The job's snapshots are the ones the year's reads use: nothing counted on the read.
        assert (await _insights()).open_months_as_of == summarised_at
        assert (await _cohorts()).open_months_as_of == summarised_at

        # A later run past the refresh age counts them again at once, not in the background.
        await _order("guest-late", clock.now())
        clock.advance(timedelta(seconds=keep_every_count.refresh_age_seconds))
        await summaries.summarise(program_id)
        assert open_snapshots.refreshes_under_way() == 0
        found = await _insights()
        assert found.open_months_as_of == clock.now()
        assert _figures(found) == await _exact(program_id)
        assert (await _cohorts()).open_months_as_of == clock.now()


async def test_a_failing_refresh_is_logged_and_the_reader_keeps_its_answer(
    db: None,
    keep_every_count: SnapshotPolicy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        await _program(clock)
        first = await _insights()

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(summaries, "_refresh_open_spans", broken)
        clock.advance(timedelta(seconds=keep_every_count.refresh_age_seconds))
        with caplog.at_level(logging.ERROR, logger="laurel.analytics"):
            found = await _insights()
            await open_snapshots.wait_for_refreshes()
        assert _figures(found) == _figures(first)
        assert "refreshing the open months' analytics snapshots failed" in caplog.text


async def test_a_small_program_is_exact_after_a_write_with_the_default_policy(db: None) -> None:
    assert open_snapshots.policy() == SnapshotPolicy()
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        first = await _insights()
        await _order("guest-after", clock.now(), total=250)
        await _order("member-4", clock.now(), total=250)
        found = await _insights()
        assert found.open_months_as_of is None
        assert _figures(found) != _figures(first)
        assert _figures(found) == await _exact(program_id)
        assert (await _cohorts()).open_months_as_of is None
        await summaries.summarise(program_id)
        assert await _snapshot_kinds(program_id) == []


async def test_stopping_cancels_the_refreshes_under_way() -> None:
    started, never = asyncio.Event(), asyncio.Event()
    calls: list[list[str]] = []

    async def slow(keys: list[str]) -> None:
        calls.append(keys)
        started.set()
        await never.wait()

    open_snapshots.refresh_in_background(["a", "b"], slow)
    open_snapshots.refresh_in_background(["b", "a"], slow)
    await started.wait()
    assert open_snapshots.refreshes_under_way() == 1
    await open_snapshots.stop_refreshes()
    await asyncio.sleep(0)
    assert open_snapshots.refreshes_under_way() == 0
    assert calls == [["a", "b"]]


async def test_a_late_write_to_a_settled_month_is_in_the_next_answer(
    db: None, keep_every_count: SnapshotPolicy
) -> None:
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        await _program(clock)
        first = await _insights()
        march = first.series[2]
        assert march.period.start == date(2026, 3, 1) and march.customers is not None
        assert first.totals.customers is not None

        # A guest order dated in the settled March: the year's snapshot read the March
        # summary, so it is counted again rather than answered from.
        await _order("guest-march", datetime(2026, 3, 10, 12, tzinfo=UTC), total=800)
        clock.advance(timedelta(seconds=10))
        second = await _insights()
        late_march = second.series[2].customers
        assert late_march is not None and second.totals.customers is not None
        assert late_march.guests.customers == march.customers.guests.customers + 1
        assert second.totals.customers.guests.customers == (
            first.totals.customers.guests.customers + 1
        )
        # December alone does not read March: its snapshot still answers.
        assert second.open_months_as_of == OPENED


async def test_a_snapshot_stamped_ahead_of_the_clock_is_counted_again(
    db: None, keep_every_count: SnapshotPolicy
) -> None:
    clock = ManualClock(OPENED + timedelta(hours=1))
    with app_clock.using(clock):
        await _program(clock)
        clock.set(OPENED + timedelta(hours=1))
        await _insights()
        await _cohorts()
        # The clock goes back (a job run as of a later time, a host whose clock ran ahead).
        clock.set(OPENED)
        await _order("guest-after", clock.now(), total=250)
        found = await _insights()
        assert found.open_months_as_of is None
        assert (await _cohorts()).open_months_as_of is None


def test_a_snapshot_is_used_only_with_the_marks_it_was_counted_with() -> None:
    snapshot = open_snapshots.Snapshot(
        value={}, milliseconds=5000, customers=10**6, computed_at=OPENED, marks=3
    )
    rules = SnapshotPolicy()
    later = OPENED + timedelta(seconds=1)
    assert open_snapshots.use_of(snapshot, 3, later, rules) is open_snapshots.Use.SNAPSHOT
    assert open_snapshots.use_of(snapshot, 4, later, rules) is open_snapshots.Use.LIVE
    earlier = OPENED - timedelta(seconds=1)
    assert open_snapshots.use_of(snapshot, 3, earlier, rules) is open_snapshots.Use.LIVE


async def test_the_job_counts_the_open_months_without_the_statement_time_limit(
    db: None, keep_every_count: SnapshotPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job also runs in the server's process, whose connections stop a statement after
    the request's time limit: its open counts run in a transaction of their own without it."""
    limits: list[tuple[str, bool]] = []

    def recording(name: str, module: ModuleType = summaries) -> None:
        original = getattr(module, name)

        async def counted(conn: BaseDBAsyncClient, *args: Any, **kwargs: Any) -> Any:
            if is_postgres(conn):
                rows = await fetch_all(conn, "SHOW statement_timeout", ())
                limits.append((str(rows[0]["statement_timeout"]), conn is database_client()))
            else:
                limits.append(("0", False))
            return await original(conn, *args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    recording("_count_open_spans")
    recording("_count_open_cohorts", cohorts)
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        await summaries.summarise(program_id)
    assert len(limits) == 2
    assert limits == [("0", False), ("0", False)]


async def test_an_older_count_does_not_overwrite_a_newer_snapshot(db: None) -> None:
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        kind, month = open_snapshots.live_kind(date(2026, 11, 1)), date(2026, 12, 1)
        newer, older = OPENED, OPENED - timedelta(seconds=30)
        for counted_at, value in ((newer, "newer"), (older, "older")):
            await open_snapshots.write(
                connection(), program_id, kind, 3, [(month, month, 0, value)], 5.0, 7, counted_at
            )
        found = await open_snapshots.read(connection(), program_id, kind, 3, month, month)
        assert found[(month, month)].value == "newer"
        assert found[(month, month)].computed_at == newer


async def test_the_job_leaves_the_spans_being_refreshed_to_their_refresh(
    db: None, keep_every_count: SnapshotPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    _counting_calls(monkeypatch, "_refresh_open_spans", gate)
    original = summaries._count_open_spans
    counted_spans: list[Period] = []

    async def recording(conn: BaseDBAsyncClient, program_id: int, spans: Any, *args: Any) -> Any:
        counted_spans.extend(spans)
        return await original(conn, program_id, spans, *args)

    monkeypatch.setattr(summaries, "_count_open_spans", recording)
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        await _insights()
        clock.advance(timedelta(seconds=keep_every_count.refresh_age_seconds))
        await _insights()
        assert open_snapshots.refreshes_under_way() == 1
        counted_spans.clear()
        await summaries.summarise(program_id)
        assert YEAR not in counted_spans and DECEMBER not in counted_spans
        gate.set()
        await open_snapshots.wait_for_refreshes()


async def test_an_open_count_stores_its_settled_part_after_counting_the_correction(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh's transaction then holds the settled part's rows locked only to its end."""
    steps: list[str] = []
    count, store = summaries._count, summary_store.store_summaries

    async def counting(*args: Any, **kwargs: Any) -> Any:
        steps.append("correction" if kwargs.get("since") else "settled part")
        return await count(*args, **kwargs)

    async def storing(conn: BaseDBAsyncClient, program_id: int, kind: str, *args: Any) -> Any:
        steps.append(f"store {kind.split(':')[0]}")
        return await store(conn, program_id, kind, *args)

    monkeypatch.setattr(summaries, "_count", counting)
    monkeypatch.setattr(summaries, "store_summaries", storing)
    clock = ManualClock(OPENED)
    with app_clock.using(clock):
        program_id = await _program(clock)
        steps.clear()
        await summaries.customer_counts(
            connection(), program_id, [DECEMBER], DEFAULT_INACTIVE_MONTHS
        )
    assert steps == ["settled part", "correction", "store open"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"LAUREL_ANALYTICS_SNAPSHOT_MIN_CUSTOMERS": "-1"}, "MIN_CUSTOMERS must be 0 or more"),
        ({"LAUREL_ANALYTICS_SNAPSHOT_BUDGET_MS": "-5"}, "BUDGET_MS must be 0 or more"),
        (
            {
                "LAUREL_ANALYTICS_SNAPSHOT_REFRESH_SECONDS": "300",
                "LAUREL_ANALYTICS_SNAPSHOT_MAX_LAG_SECONDS": "300",
            },
            "REFRESH_SECONDS must be less than LAUREL_ANALYTICS_SNAPSHOT_MAX_LAG_SECONDS",
        ),
    ],
)
def test_snapshot_settings_out_of_range_are_refused(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=message):
        Settings.from_env()


async def test_a_count_under_the_minimum_of_customers_is_not_kept(db: None) -> None:
    """Budget AND minimum: a count past the budget (0 ms) but under the minimum stores
    nothing."""
    previous = open_snapshots.configure(SnapshotPolicy(budget_ms=0, min_customers=10**9))
    try:
        clock = ManualClock(OPENED)
        with app_clock.using(clock):
            program_id = await _program(clock)
            await _insights()
            await _cohorts()
            await summaries.summarise(program_id)
            assert await _snapshot_kinds(program_id) == []
    finally:
        open_snapshots.configure(previous)


@pytest.fixture(autouse=True)
async def _no_refresh_outlives_a_test() -> AsyncIterator[None]:
    """A refresh a test left under way would count on the next test's database."""
    yield
    await open_snapshots.stop_refreshes()
