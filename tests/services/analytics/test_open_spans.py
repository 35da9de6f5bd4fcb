"""Spans of whole months that reach a month not settled yet (app/services/analytics/
summaries.py, `_open_counts`): their counts are the settled part's summary corrected by the
customers of the unsettled months, and must equal a count of every activity row of the span
(`count_customers`, itself checked against a reference recomputed from the raw rows in
test_insights_properties.py), whatever the span's edges, the threshold, and the writes since
the summary: orders of the open month, late orders, refunds (whole and partial), imports on a
clock of their own, erasure, and a rebuild."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from app import clock as app_clock
from app.clock import ManualClock
from app.db import connection, fetch_all
from app.domain.analytics import Granularity, Period, add_months
from app.services.analytics import rebuild, summaries
from app.services.analytics.insights import InsightsInput, program_insights
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.members.erasure import erase_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.refunds import RefundOrderInput, refund_order
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import CreateProgramInput, create_program

SLUG = "open-spans"
_orders = itertools.count()


def _months(first: date, last: date) -> Period:
    return Period(first, add_months(last, 1) - timedelta(days=1))


# Span edges around December 2026 (open on the 7th) and November (settled then, not on the 1st):
# the open month alone, spans ending in it from one, two, twelve and thirteen months back, a
# span from the open month into the future, one of the future alone, one ending before it.
SPANS = [
    _months(date(2026, 12, 1), date(2026, 12, 1)),
    _months(date(2026, 11, 1), date(2026, 12, 1)),
    _months(date(2026, 10, 1), date(2026, 12, 1)),
    _months(date(2026, 1, 1), date(2026, 12, 1)),
    _months(date(2025, 12, 1), date(2026, 12, 1)),
    _months(date(2026, 12, 1), date(2027, 2, 1)),
    _months(date(2027, 1, 1), date(2027, 1, 1)),
    _months(date(2026, 9, 1), date(2026, 11, 1)),
]


async def _order(customer: str, placed_at: datetime, total: int = 1000) -> str:
    order_id = f"open-order-{next(_orders)}"
    await record_order(
        RecordOrderInput(
            program_slug=SLUG,
            customer_id=customer,
            order_id=order_id,
            currency="EUR",
            total_minor=total,
            lines=[OrderLineInput("SKU", 1, total)],
            placed_at=placed_at,
        ),
        None,
    )
    return order_id


async def _refund(order_id: str, amount_minor: int | None = None) -> None:
    await refund_order(
        RefundOrderInput(
            program_slug=SLUG,
            order_id=order_id,
            idempotency_key=f"refund-{order_id}-{amount_minor}",
            amount_minor=amount_minor,
        ),
        None,
    )


async def _open_summaries(program_id: int) -> list[str]:
    rows = await fetch_all(
        connection(),
        "SELECT DISTINCT kind FROM analytics_summaries WHERE program_id = ? AND kind LIKE ?",
        (program_id, summaries.OPEN_PREFIX + "%"),
    )
    return sorted(str(row["kind"]) for row in rows)


async def _agree(program_id: int) -> int:
    """Every span, with thresholds of one and three months, read twice (the second from the
    settled parts' summaries) equals a count of all its rows; returns the customers counted."""
    seen = 0
    for inactive_months in (1, 3):
        expected = await summaries.count_customers(connection(), program_id, SPANS, inactive_months)
        for _ in range(2):
            found = await summaries.customer_counts(
                connection(), program_id, SPANS, inactive_months
            )
            assert found == expected, inactive_months
        seen += sum(c.members.customers + c.guests.customers for c in expected.values())
    return seen


async def test_spans_reaching_the_open_month_equal_a_count_of_all_their_rows(db: None) -> None:
    clock = ManualClock(datetime(2025, 10, 3, 12, tzinfo=UTC))
    with app_clock.using(clock):
        program = await create_program(
            CreateProgramInput(slug=SLUG, name="Shop", currency="EUR", points_per_currency_unit=1)
        )
        members = ["ada", "bob", "cyd", "dee"]
        for customer in members:
            await enroll_member(EnrollMemberInput(SLUG, customer), None)
        # A history from October 2025 to the open December 2026: members who order every
        # few months, stop or come back; guests once or twice.
        placed: dict[str, list[str]] = {}
        for month in range(15):
            day = add_months(date(2025, 10, 1), month)
            clock.set(datetime(day.year, day.month, 5, 12, tzinfo=UTC))
            for index, customer in enumerate(members):
                if (month + index) % (index + 2) == 0:
                    placed.setdefault(customer, []).append(
                        await _order(customer, clock.now(), total=500 + 100 * index)
                    )
            if month % 4 == 1:
                await _order(f"guest-{month}", clock.now(), total=300)
        clock.set(datetime(2026, 12, 7, 12, tzinfo=UTC))
        assert await _agree(program.id) > 0
        assert await _open_summaries(program.id) == ["open:2026-11"]

        # Writes of the open month: a returning member, a new guest, a member's first order.
        await _order("bob", clock.now())
        await _order("guest-new", clock.now(), total=450)
        await enroll_member(EnrollMemberInput(SLUG, "eve"), None)
        eve_order = await _order("eve", clock.now())
        await _agree(program.id)

        # Late writes to settled months: an order, a whole refund, a partial one, and an
        # import replaying history on a clock of its own.
        await _order("cyd", datetime(2026, 10, 20, tzinfo=UTC))
        await _refund(placed["ada"][-1])
        await _refund(placed["bob"][0], amount_minor=200)
        with app_clock.using_in_context(ManualClock(datetime(2026, 9, 2, tzinfo=UTC))):
            await _order("guest-imported", datetime(2026, 9, 2, tzinfo=UTC))
        await _agree(program.id)
        # A refund in the open month of the open month's order: the customer no longer
        # ordered in December.
        await _refund(eve_order)
        await _agree(program.id)

        # Erasure keeps the member's activity under the same key.
        member_ids = await fetch_all(
            connection(),
            "SELECT id FROM members WHERE program_id = ? AND customer_id = ?",
            (program.id, "dee"),
        )
        await erase_member(int(member_ids[0]["id"]), None)
        await _agree(program.id)

        # The job prepares the open month's settled parts and drops those of an older newest
        # month; a rebuild drops every summary and the figures stay.
        await summaries.summarise(program.id)
        await _agree(program.id)
        assert await rebuild.compare(program) == []
        await rebuild.rebuild(program)
        await _agree(program.id)

        # On December 1st November is not settled: its customers are counted with the open
        # ones, from a settled part that ends in October.
        clock.set(datetime(2026, 12, 1, 12, tzinfo=UTC))
        await _agree(program.id)
        await summaries.summarise(program.id)
        assert await _open_summaries(program.id) == ["open:2026-10"]

        # Through the query: a year by month that reaches the open month.
        clock.set(datetime(2026, 12, 7, 12, tzinfo=UTC))
        insights = await program_insights(
            InsightsInput(SLUG, date(2026, 1, 1), date(2026, 12, 31), Granularity.MONTH), None
        )
        assert insights is not None and insights.totals.customers is not None
        year = await summaries.count_customers(connection(), program.id, [SPANS[3]], 3)
        assert insights.totals.customers.members == year[SPANS[3]].members
        assert insights.totals.customers.guests == year[SPANS[3]].guests
