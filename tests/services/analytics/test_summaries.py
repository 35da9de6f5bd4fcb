"""Closed-period summaries (app/services/analytics/summaries.py): a settled month's customer
figures and cohort cells are stored once and read back; a late write marks its month, so the
next read counts it again; a write of the current month marks nothing; the job recomputes only
what is stale; a rebuild drops the summaries and keeps the marks."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from app import clock as app_clock
from app.clock import ManualClock
from app.db import as_date, connection, fetch_all
from app.domain.analytics import LATE_WRITES, Granularity
from app.jobs.runner import JobName, run_job
from app.services.analytics import rebuild, summaries
from app.services.analytics.insights import (
    CohortsInput,
    InsightsInput,
    program_cohorts,
    program_insights,
)
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

JANUARY = date(2026, 1, 1), date(2026, 1, 31)
_orders = itertools.count()


async def _order(slug: str, customer: str, placed_at: datetime, total: int = 1000) -> None:
    await record_order(
        RecordOrderInput(
            program_slug=slug,
            customer_id=customer,
            order_id=f"order-{next(_orders)}",
            currency="EUR",
            total_minor=total,
            lines=[OrderLineInput("SKU", 1, total)],
            placed_at=placed_at,
        ),
        None,
    )


async def _january_customers(slug: str) -> tuple[int, int, int]:
    """(members who ordered, guests who ordered, guests' revenue) of January 2026."""
    insights = await program_insights(InsightsInput(slug, *JANUARY, Granularity.MONTH), None)
    assert insights is not None and insights.totals.customers is not None
    customers = insights.totals.customers
    return customers.members.customers, customers.guests.customers, customers.guests.revenue_minor


async def _summaries(program_id: int, kind: str) -> list[tuple[date | None, date | None, int]]:
    rows = await fetch_all(
        connection(),
        "SELECT first_month, last_month, marks FROM analytics_summaries"
        " WHERE program_id = ? AND kind = ? ORDER BY first_month, last_month",
        (program_id, kind),
    )
    return [(as_date(r["first_month"]), as_date(r["last_month"]), int(r["marks"])) for r in rows]


async def _marks(program_id: int) -> int:
    rows = await fetch_all(
        connection(),
        "SELECT SUM(value) AS value FROM analytics_days WHERE program_id = ? AND metric = ?",
        (program_id, LATE_WRITES),
    )
    return int(rows[0]["value"] or 0)


async def test_a_settled_month_is_summarised_once_and_a_late_write_makes_it_count_again(
    db: None,
) -> None:
    clock = ManualClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    with app_clock.using(clock):
        program = await create_program(
            CreateProgramInput(
                slug="summaries", name="Shop", currency="EUR", points_per_currency_unit=1
            )
        )
        await enroll_member(EnrollMemberInput("summaries", "alice"), None)
        await _order("summaries", "alice", clock.now())
        await _order("summaries", "guest-1", clock.now(), total=700)
        # Writes of the current month mark nothing: the write path pays no extra row.
        assert await _marks(program.id) == 0

        # January is not settled yet: counted, not stored.
        assert await _january_customers("summaries") == (1, 1, 700)
        assert await _summaries(program.id, summaries.CUSTOMERS) == []

        clock.set(datetime(2026, 3, 10, 12, tzinfo=UTC))
        assert await _january_customers("summaries") == (1, 1, 700)
        stored = await _summaries(program.id, summaries.CUSTOMERS)
        assert (date(2026, 1, 1), date(2026, 1, 1), 0) in stored
        table = await program_cohorts(CohortsInput("summaries", *JANUARY, months=2), None)
        assert table is not None
        assert [(m.month, m.active_members) for m in table.cohorts[0].months] == [
            (date(2026, 1, 1), 1),
            (date(2026, 2, 1), 0),
        ]
        assert [(c[0], c[1]) for c in await _summaries(program.id, summaries.COHORT)] == [
            (date(2026, 1, 1), date(2026, 1, 1)),
            (date(2026, 1, 1), date(2026, 2, 1)),
        ]

        # Late writes: a guest order and alice's order placed in settled months.
        await _order("summaries", "guest-2", datetime(2026, 1, 20, 12, tzinfo=UTC), total=300)
        await _order("summaries", "alice", datetime(2026, 2, 5, 12, tzinfo=UTC))
        assert await _marks(program.id) == 2
        assert await _january_customers("summaries") == (1, 2, 1000)
        table = await program_cohorts(CohortsInput("summaries", *JANUARY, months=2), None)
        assert table is not None
        assert [(m.month, m.active_members) for m in table.cohorts[0].months] == [
            (date(2026, 1, 1), 1),
            (date(2026, 2, 1), 1),
        ]
        assert await rebuild.compare(program) == []

        # An import replays history on a clock of its own task: its writes are late all the
        # same (the process's clock decides).
        with app_clock.using_in_context(ManualClock(datetime(2026, 1, 22, tzinfo=UTC))):
            await _order("summaries", "guest-imported", datetime(2026, 1, 22, tzinfo=UTC))
        assert await _marks(program.id) == 3
        assert await _january_customers("summaries") == (1, 3, 2000)

        # The job: nothing stale now, so its second run counts nothing.
        await summaries.summarise(program.id)
        again = await summaries.summarise(program.id)
        assert (again.spans, again.cohorts) == (0, 0)
        await _order("summaries", "guest-3", datetime(2026, 1, 25, 12, tzinfo=UTC))
        stale = await summaries.summarise(program.id)
        assert stale.spans > 0 and stale.cohorts > 0
        assert await _january_customers("summaries") == (1, 4, 3000)

        # A rebuild drops the summaries, keeps the marks, and the figures stay.
        await rebuild.rebuild(program)
        assert await _summaries(program.id, summaries.CUSTOMERS) == []
        assert await _marks(program.id) == 4
        assert await _january_customers("summaries") == (1, 4, 3000)
        assert await rebuild.compare(program) == []


async def test_the_jobs_run_summarises_every_program_and_a_second_run_counts_nothing(
    db: None,
) -> None:
    clock = ManualClock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    with app_clock.using(clock):
        programs = [
            await create_program(
                CreateProgramInput(slug=slug, name=slug, currency="EUR", points_per_currency_unit=1)
            )
            for slug in ("north", "south")
        ]
        for program in programs:
            await enroll_member(EnrollMemberInput(program.slug, "alice"), None)
            await _order(program.slug, "alice", datetime(2026, 1, 12, tzinfo=UTC))
            await _order(program.slug, "guest", datetime(2026, 1, 14, tzinfo=UTC))
        clock.set(datetime(2026, 3, 5, tzinfo=UTC))

        first = await run_job(JobName.ANALYTICS_SUMMARIES, clock.now())
        again = await run_job(JobName.ANALYTICS_SUMMARIES, clock.now())

        assert first.ran and first.summary["programs"] == 2
        assert first.summary["spans"] > 0 and first.summary["cohorts"] > 0
        assert again.summary == {"programs": 2, "spans": 0, "cohorts": 0}
        for program in programs:
            stored = await _summaries(program.id, summaries.CUSTOMERS)
            # January settled: stored by the job, not by a reader.
            assert (date(2026, 1, 1), date(2026, 1, 1), 0) in stored
            assert await _january_customers(program.slug) == (1, 1, 1000)
