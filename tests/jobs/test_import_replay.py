"""Property: importing a history equals having run Laurel live through it.

Hypothesis draws a program (pending days, a lot lifetime in days or no expiry, tiers on points
earned over a rolling year with a multiplier and entry points on the top tier, a double-points
campaign with its own window) and up to 14 orders of 3 customers, each some hours to 80 days
after the one before. The same history runs twice, into two programs with the same settings,
in one fresh database per example:

- live: on a ManualClock, at each order's time every job of `laurel jobs run` runs, then the
  order is recorded through `record_order` (what the API's recordOrder calls); at the end the
  jobs run once more;
- imported: once the live run is over, the program is configured and the members file and
  then the orders file go through `run_import`, with the process clock standing at the end.

Then each customer's balances (available, pending, lifetime earned), point lots (points, what
is left, expiry, pending date, creation time), current tier with the time it was reached, and
every order's points are equal between the two programs; the ledger verifies; and no event the
import wrote reaches the webhook fan-out.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import clock as app_clock
from app.clock import ManualClock
from app.db import as_optional_datetime, connection, fetch_all
from app.domain.earning import RuleKind
from app.domain.expiry import ExpiryPolicy, LifetimeUnit
from app.domain.imports import FileFormat, ImportKind
from app.domain.tiers import DowngradePolicy, TierMetric, TierPeriod
from app.jobs.imports import run_import
from app.jobs.runner import ALL_JOBS, run_job
from app.services.ledger.verify import verify_ledger
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import RuleInput, create_earning_rule
from app.services.orders.service import RecordOrderInput, record_order
from app.services.programs.service import (
    CreateProgramInput,
    ExpiryInput,
    UpdateProgramSettingsInput,
    create_program,
    update_program_settings,
)
from app.services.tiers import configuration as tier_configuration
from tests.services.ledger.test_ledger_properties import ExampleDatabases, example_databases

__all__ = ["example_databases"]

EXAMPLES = int(os.environ.get("IMPORT_PROPERTY_EXAMPLES", "12"))
START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
CUSTOMERS = 3


@dataclass(frozen=True)
class PlacedOrder:
    customer: int
    hours_after_previous: int
    price_minor: int
    quantity: int


@dataclass(frozen=True)
class Scenario:
    pending_days: int
    lifetime_days: int | None
    campaign_start_day: int
    campaign_days: int
    orders: tuple[PlacedOrder, ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    orders = draw(
        st.lists(
            st.builds(
                PlacedOrder,
                customer=st.integers(0, CUSTOMERS - 1),
                hours_after_previous=st.integers(0, 80 * 24),
                price_minor=st.integers(100, 40_000),
                quantity=st.integers(1, 3),
            ),
            min_size=1,
            max_size=14,
        )
    )
    return Scenario(
        pending_days=draw(st.sampled_from([0, 7, 30])),
        lifetime_days=draw(st.sampled_from([None, 20, 60, 200])),
        campaign_start_day=draw(st.integers(0, 200)),
        campaign_days=draw(st.integers(1, 60)),
        orders=tuple(orders),
    )


def times(scenario: Scenario) -> list[datetime]:
    moments, at = [], START + timedelta(hours=1)
    for order in scenario.orders:
        at += timedelta(hours=order.hours_after_previous)
        moments.append(at)
    return moments


def end_of(scenario: Scenario) -> datetime:
    return times(scenario)[-1] + timedelta(days=400)


async def configure(slug: str, scenario: Scenario) -> None:
    await create_program(
        CreateProgramInput(slug=slug, name=slug, currency="EUR", points_per_currency_unit=1)
    )
    await update_program_settings(
        UpdateProgramSettingsInput(
            program_slug=slug,
            pending_days=scenario.pending_days,
            expiry=(
                ExpiryInput(policy=ExpiryPolicy.NONE)
                if scenario.lifetime_days is None
                else ExpiryInput(
                    policy=ExpiryPolicy.LOT_LIFETIME,
                    lifetime=scenario.lifetime_days,
                    unit=LifetimeUnit.DAYS,
                )
            ),
        )
    )
    await tier_configuration.configure_tiers(
        tier_configuration.ConfigureTiersInput(
            program_slug=slug,
            metric=TierMetric.POINTS_EARNED,
            period=TierPeriod.ROLLING_12_MONTHS,
            downgrade=DowngradePolicy.PERIOD_END,
            tiers=(
                tier_configuration.TierInput(name="Bronze", threshold=0),
                tier_configuration.TierInput(name="Silver", threshold=300),
                tier_configuration.TierInput(
                    name="Gold", threshold=900, earn_multiplier="1.5", entry_points=50
                ),
            ),
        )
    )
    campaign_start = START + timedelta(days=scenario.campaign_start_day)
    await create_earning_rule(
        slug,
        RuleInput(
            name="Double points",
            kind=RuleKind.MULTIPLIER,
            multiplier="2",
            starts_at=campaign_start,
            ends_at=campaign_start + timedelta(days=scenario.campaign_days),
        ),
    )


def order_input(slug: str, scenario: Scenario, index: int, at: datetime) -> RecordOrderInput:
    order = scenario.orders[index]
    return RecordOrderInput(
        program_slug=slug,
        customer_id=f"cust-{order.customer}",
        order_id=f"order-{index}",
        currency="EUR",
        total_minor=order.price_minor * order.quantity,
        lines=[
            OrderLineInput(sku="SKU-1", quantity=order.quantity, unit_price_minor=order.price_minor)
        ],
        placed_at=at,
    )


async def run_all_jobs(now: datetime) -> None:
    for name in ALL_JOBS:
        await run_job(name, now)


async def run_live(scenario: Scenario, clock: ManualClock) -> None:
    clock.set(START)
    for customer in range(CUSTOMERS):
        await enroll_member(EnrollMemberInput("live", f"cust-{customer}"), None)
    for index, at in enumerate(times(scenario)):
        clock.set(at)
        await run_all_jobs(at)
        await record_order(order_input("live", scenario, index, at), None)
    clock.set(end_of(scenario))
    await run_all_jobs(clock.now())


def members_file() -> bytes:
    rows = ["customer_id,enrolled_at"]
    rows += [f"cust-{customer},{START.isoformat()}" for customer in range(CUSTOMERS)]
    return ("\n".join(rows) + "\n").encode()


def orders_file(scenario: Scenario) -> bytes:
    rows = ["order_id,customer_id,placed_at,currency,sku,quantity,unit_price_minor"]
    for index, at in enumerate(times(scenario)):
        order = scenario.orders[index]
        rows.append(
            f"order-{index},cust-{order.customer},{at.isoformat()},EUR,SKU-1,"
            f"{order.quantity},{order.price_minor}"
        )
    return ("\n".join(rows) + "\n").encode()


async def run_imported(scenario: Scenario) -> None:
    for kind, content in (
        (ImportKind.MEMBERS, members_file()),
        (ImportKind.ORDERS, orders_file(scenario)),
    ):
        report = await run_import(
            io.BytesIO(content), program_slug="imported", kind=kind, file_format=FileFormat.CSV
        )
        assert report.errors == []
        assert report.imported == (
            CUSTOMERS if kind is ImportKind.MEMBERS else len(times(scenario))
        )


def _moment(value: Any) -> datetime | None:
    return as_optional_datetime(value)


async def state(slug: str) -> dict[str, Any]:
    conn = connection()
    members = await fetch_all(
        conn,
        "SELECT m.customer_id, m.points_available, m.points_pending, m.lifetime_earned"
        " FROM members m JOIN programs p ON p.id = m.program_id WHERE p.slug = ?"
        " ORDER BY m.customer_id",
        (slug,),
    )
    lots = await fetch_all(
        conn,
        "SELECT m.customer_id, l.points, l.remaining, l.expires_at, l.pending_until, l.created_at"
        " FROM point_lots l JOIN members m ON m.id = l.member_id"
        " JOIN programs p ON p.id = m.program_id WHERE p.slug = ?",
        (slug,),
    )
    tiers = await fetch_all(
        conn,
        "SELECT m.customer_id, t.name, mt.since FROM member_tiers mt"
        " JOIN members m ON m.id = mt.member_id JOIN tiers t ON t.id = mt.tier_id"
        " JOIN programs p ON p.id = m.program_id WHERE p.slug = ? ORDER BY m.customer_id",
        (slug,),
    )
    orders = await fetch_all(
        conn,
        "SELECT o.order_id, o.points_earned FROM orders o JOIN programs p ON p.id = o.program_id"
        " WHERE p.slug = ? ORDER BY o.order_id",
        (slug,),
    )
    return {
        "members": [dict(row) for row in members],
        "lots": sorted(
            (
                row["customer_id"],
                int(row["points"]),
                int(row["remaining"]),
                _moment(row["expires_at"]),
                _moment(row["pending_until"]),
                _moment(row["created_at"]),
            )
            for row in lots
        ),
        "tiers": [(row["customer_id"], row["name"], _moment(row["since"])) for row in tiers],
        "orders": [(row["order_id"], int(row["points_earned"])) for row in orders],
    }


# An order matures, a lot expires, and the top tier (with its multiplier and entry points) is
# reached and lost again with the rolling year.
ALL_AT_ONCE = Scenario(
    pending_days=7,
    lifetime_days=60,
    campaign_start_day=20,
    campaign_days=30,
    orders=(
        PlacedOrder(0, 0, 40_000, 3),
        PlacedOrder(0, 30 * 24, 2_000, 1),
        PlacedOrder(1, 24, 5_000, 2),
        PlacedOrder(0, 75 * 24, 10_000, 1),
        PlacedOrder(0, 80 * 24, 10_000, 1),
    ),
)


@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
@example(scenario=ALL_AT_ONCE)
async def test_an_imported_history_equals_the_same_history_run_live(
    example_databases: ExampleDatabases,
    scenario: Scenario,
) -> None:
    clock = ManualClock(START)
    async with example_databases.fresh():
        with app_clock.using(clock):
            await configure("live", scenario)
            await run_live(scenario, clock)
            # Configured the way a store adopting Laurel does: program first, then the import.
            await configure("imported", scenario)
            await run_imported(scenario)

            live, imported = await state("live"), await state("imported")
            assert imported == live
            assert await verify_ledger() == []
            replayed = await fetch_all(
                connection(),
                "SELECT e.replayed, COUNT(*) AS n FROM outbox_events e"
                " JOIN programs p ON p.id = e.program_id WHERE p.slug = ? AND e.member_id"
                " IS NOT NULL GROUP BY e.replayed",
                ("imported",),
            )
            assert {bool(row["replayed"]): int(row["n"]) for row in replayed}.keys() == {True}
