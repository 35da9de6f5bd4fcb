"""backtestProgram: a proposal over real orders writes nothing, agrees with the recorded points
when it changes nothing, and its figures equal importing the same orders into a scratch program
configured as proposed. memberWhatIf: a member's next orders, the tier moving. Both databases."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from app.clock import ManualClock
from app.db import connection, execute, fetch_all, fetch_one
from app.domain.earning import RuleKind
from app.domain.errors import DomainError, ErrorCode
from app.domain.expiry import ExpiryPolicy, LifetimeUnit
from app.domain.imports import FileFormat, ImportKind
from app.domain.tiers import DowngradePolicy, TierMetric, TierPeriod
from app.jobs.imports import run_import
from app.services.backtests import service as backtests
from app.services.backtests.service import Proposal, ProposedTier
from app.services.orders.cart import OrderLineInput
from app.services.orders.earning_rules import RuleInput, create_earning_rule, update_earning_rule
from app.services.programs.service import (
    CreateProgramInput,
    ExpiryInput,
    UpdateProgramSettingsInput,
    create_program,
    update_program_settings,
)
from app.services.tiers import configuration as tier_configuration
from tests.services.backtests.conftest import NOW

START = datetime(2025, 1, 1, tzinfo=UTC)
SNAPSHOT_TABLES = (
    "members",
    "orders",
    "ledger_transactions",
    "ledger_entries",
    "point_lots",
    "outbox_events",
    "idempotency_records",
    "member_tiers",
    "analytics_days",
    "import_jobs",
)


def orders_csv() -> str:
    rows = ["order_id,customer_id,placed_at,currency,sku,category,quantity,unit_price_minor"]
    for n in range(24):
        at = (START + timedelta(days=13 * n, hours=n)).isoformat()
        customer = f"c{n % 3}"
        rows.append(f"o{n},{customer},{at},EUR,SKU-{n % 4},cat,{1 + n % 3},{1999 + 250 * n}")
    return "\n".join(rows) + "\n"


MEMBERS = "customer_id,enrolled_at\nc0,2024-12-01T00:00:00Z\nc1,2024-12-01T00:00:00Z\n" + (
    "c2,2024-12-01T00:00:00Z\n"
)
TIERS = (
    tier_configuration.TierInput(name="Base", threshold=0),
    tier_configuration.TierInput(name="Gold", threshold=900, earn_multiplier="2"),
)


async def shop(slug: str, points_per_unit: int, tiers: bool) -> None:
    await create_program(
        CreateProgramInput(
            slug=slug, name=slug, currency="EUR", points_per_currency_unit=points_per_unit
        )
    )
    if tiers:
        await tier_configuration.configure_tiers(
            tier_configuration.ConfigureTiersInput(
                program_slug=slug,
                metric=TierMetric.POINTS_EARNED,
                period=TierPeriod.LIFETIME,
                downgrade=DowngradePolicy.NEVER,
                tiers=TIERS,
            )
        )
    for kind, text in ((ImportKind.MEMBERS, MEMBERS), (ImportKind.ORDERS, orders_csv())):
        report = await run_import(
            io.BytesIO(text.encode()), program_slug=slug, kind=kind, file_format=FileFormat.CSV
        )
        assert report.errors == []


async def snapshot() -> dict[str, Any]:
    taken = {}
    for table in SNAPSHOT_TABLES:
        rows = await fetch_all(connection(), f"SELECT * FROM {table} ORDER BY id", ())
        taken[table] = [sorted((k, str(v)) for k, v in row.items()) for row in rows]
    return taken


PROPOSAL = Proposal(
    points_per_currency_unit=3,
    tier_metric=TierMetric.POINTS_EARNED,
    tiers=tuple(
        ProposedTier(name=t.name, threshold=t.threshold, earn_multiplier=t.earn_multiplier)
        for t in TIERS
    ),
)


async def test_a_backtest_writes_nothing_and_changes_nothing_when_nothing_is_proposed(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=False)
    before = await snapshot()

    same = await backtests.backtest_program(
        backtests.BacktestInput("shop", START, START + timedelta(days=366)), None
    )
    changed = await backtests.backtest_program(
        backtests.BacktestInput("shop", START, START + timedelta(days=366), PROPOSAL), None
    )

    assert await snapshot() == before
    recorded = await fetch_one(connection(), "SELECT SUM(points_earned) AS n FROM orders", ())
    assert recorded is not None
    assert (same.orders, same.members) == (24, 3)
    assert same.recorded_points_issued == int(recorded["n"])
    assert same.current == same.proposed
    assert same.current.points_issued == same.recorded_points_issued
    assert changed.current == same.current
    assert changed.proposed.points_issued > 3 * same.current.points_issued


async def test_the_proposed_figures_equal_a_replay_into_a_scratch_program_run_that_way(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=False)
    result = await backtests.backtest_program(
        backtests.BacktestInput("shop", START, START + timedelta(days=366), PROPOSAL), None
    )
    await shop("scratch", 3, tiers=True)

    scratch = await fetch_one(
        connection(),
        "SELECT SUM(o.points_earned) AS n FROM orders o JOIN programs p ON p.id = o.program_id"
        " WHERE p.slug = ?",
        ("scratch",),
    )
    tiers = await fetch_all(
        connection(),
        "SELECT t.name, COUNT(*) AS n FROM member_tiers mt JOIN tiers t ON t.id = mt.tier_id"
        " JOIN programs p ON p.id = mt.program_id WHERE p.slug = ? GROUP BY t.name"
        " ORDER BY t.name",
        ("scratch",),
    )
    assert scratch is not None
    assert result.proposed.points_issued == int(scratch["n"])
    assert [(c.name, c.members) for c in result.proposed.members_per_tier] == [
        (row["name"], int(row["n"])) for row in tiers
    ]
    assert result.proposed.points_per_order == int(scratch["n"]) / 24


async def test_the_liability_is_valued_at_the_cost_per_point_once_one_is_configured(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=False)
    period = backtests.BacktestInput("shop", START, START + timedelta(days=366), PROPOSAL)
    unpriced = await backtests.backtest_program(period, None)
    await update_program_settings(
        UpdateProgramSettingsInput(program_slug="shop", cost_per_point_minor="0.35")
    )

    priced = await backtests.backtest_program(period, None)

    assert unpriced.current.liability_minor is None
    assert unpriced.proposed.liability_minor is None
    for figures in (priced.current, priced.proposed):
        # 0.35 of a cent a point, rounded half to even to whole cents.
        exact = Decimal(figures.liability_points) * Decimal("0.35")
        assert figures.liability_minor == int(exact.quantize(Decimal(1), ROUND_HALF_EVEN))
    assert priced.proposed.liability_minor != priced.current.liability_minor


async def test_a_member_what_if_counts_each_order_and_moves_the_tier(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=True)
    member = await fetch_one(
        connection(),
        "SELECT m.id, m.points_available, m.points_pending FROM members m"
        " JOIN programs p ON p.id = m.program_id WHERE p.slug = ? AND m.customer_id = 'c0'",
        ("shop",),
    )
    assert member is not None
    balance = int(member["points_available"]) + int(member["points_pending"])
    line = OrderLineInput(sku="X", quantity=1, unit_price_minor=50_000)
    result = await backtests.member_what_if(
        int(member["id"]),
        [
            backtests.WhatIfOrder(placed_at=NOW + timedelta(days=d), currency="EUR", lines=(line,))
            for d in (60, 30, 90)
        ],
        None,
    )
    # c0 has earned 364 points (Base): 864 after the first order, Gold (900) after the second,
    # whose multiplier counts from the third.
    assert [(s.placed_at, s.points, s.tier) for s in result.steps] == [
        (NOW + timedelta(days=30), 500, "Base"),
        (NOW + timedelta(days=60), 500, "Gold"),
        (NOW + timedelta(days=90), 1000, "Gold"),
    ]
    assert [s.balance_after for s in result.steps] == [
        balance + 500,
        balance + 1000,
        balance + 2000,
    ]
    assert result.points == 2000


async def test_a_member_what_if_takes_off_what_expires_by_each_order(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=False)
    await update_program_settings(
        UpdateProgramSettingsInput(
            program_slug="shop",
            expiry=ExpiryInput(
                policy=ExpiryPolicy.LOT_LIFETIME, lifetime=45, unit=LifetimeUnit.DAYS
            ),
        )
    )
    member = await fetch_one(
        connection(),
        "SELECT m.id, m.points_available, m.points_pending FROM members m"
        " WHERE m.customer_id = 'c0'",
        (),
    )
    assert member is not None
    # What c0 holds now expires 40 days from now (the lots were imported with no expiry).
    await execute(
        connection(),
        "UPDATE point_lots SET expires_at = ? WHERE member_id = ? AND remaining > 0",
        (NOW + timedelta(days=40), int(member["id"])),
    )
    held = await fetch_one(
        connection(),
        "SELECT SUM(remaining) AS n FROM point_lots WHERE member_id = ?",
        (int(member["id"]),),
    )
    assert held is not None and int(held["n"]) > 0
    balance = int(member["points_available"]) + int(member["points_pending"])
    line = OrderLineInput(sku="X", quantity=1, unit_price_minor=50_000)

    result = await backtests.member_what_if(
        int(member["id"]),
        [
            backtests.WhatIfOrder(placed_at=NOW + timedelta(days=d), currency="EUR", lines=(line,))
            for d in (30, 60, 90, 120)
        ],
        None,
    )

    # Each order's 500 points live 45 days: the lot of day 30 is gone by day 90, the lot of
    # day 60 by day 120; what c0 holds now is gone by day 60.
    assert [(s.points, s.points_expired) for s in result.steps] == [
        (500, 0),
        (500, int(held["n"])),
        (500, 500),
        (500, 500),
    ]
    assert [s.balance_after for s in result.steps] == [
        balance + 500,
        balance + 1000 - int(held["n"]),
        balance + 1000 - int(held["n"]),
        balance + 1000 - int(held["n"]),
    ]


async def test_rules_proposed_at_other_rates_equal_the_program_with_those_rates(
    db: None, clock: ManualClock
) -> None:
    await shop("shop", 1, tiers=False)
    doubled = RuleInput(
        name="Double SKU-1",
        kind=RuleKind.MULTIPLIER,
        multiplier="2",
        priority=1,
        include_skus=("SKU-1", "SKU-2"),
        exclude_skus=("SKU-2",),
    )
    bonus = RuleInput(
        name="Big basket", kind=RuleKind.BONUS_PER_ORDER, points=10, minimum_order_minor=5000
    )
    doubled_id = (await create_earning_rule("shop", doubled)).id
    bonus_id = (await create_earning_rule("shop", bonus)).id
    period = backtests.BacktestInput(
        "shop",
        START,
        START + timedelta(days=366),
        Proposal(
            rule_changes=(
                backtests.RuleChange(rule_id=doubled_id, multiplier="3.5"),
                backtests.RuleChange(rule_id=bonus_id, points=25),
            )
        ),
    )
    proposed = await backtests.backtest_program(period, None)
    await update_earning_rule(doubled_id, replace(doubled, multiplier="3.5"))
    await update_earning_rule(bonus_id, replace(bonus, points=25))

    changed = await backtests.backtest_program(replace(period, proposal=Proposal()), None)

    assert proposed.proposed == changed.current
    assert proposed.proposed.points_issued > proposed.current.points_issued
    for change, field in (
        (backtests.RuleChange(rule_id=bonus_id, multiplier="2"), "points"),
        (backtests.RuleChange(rule_id=doubled_id + bonus_id + 1, points=5), "ruleId"),
    ):
        with pytest.raises(DomainError) as refused:
            await backtests.backtest_program(
                replace(period, proposal=Proposal(rule_changes=(change,))), None
            )
        assert refused.value.code is ErrorCode.INVALID_VALUE
        assert refused.value.field == ["input", "proposal", "ruleChanges", "0", field]
