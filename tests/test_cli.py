"""The `laurel` command line, run as a separate process against the test database."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.connection import connections

from app.auth.api_keys import hash_secret
from app.config import Settings
from app.db import execute, fetch_one, utc_now
from app.domain.analytics import add_months, is_settled, month_of
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import create_program, enroll, grant_points, record_order


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client


def laurel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_verify_ledger_passes_on_a_consistent_ledger(api: Api, settings: Settings) -> None:
    await create_program(api)
    member = await enroll(api)
    await record_order(api)
    await grant_points(api, member["id"], 40)

    result = laurel(settings, "verify-ledger")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger verified" in result.stdout


async def test_verify_ledger_names_every_member_whose_cache_disagrees(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await enroll(api, customer_id="cust-ok")
    await enroll(api, customer_id="cust-bad")
    await record_order(api, customer_id="cust-bad")
    conn = connections.get("default")
    await execute(
        conn, "UPDATE members SET points_available = 999 WHERE customer_id = ?", ("cust-bad",)
    )

    result = laurel(settings, "verify-ledger")

    assert result.returncode == 1
    assert "(cust-bad): available is 999, the entries say 25" in result.stdout
    assert "(cust-bad): available point lots hold 25" not in result.stdout
    assert "cust-ok" not in result.stdout
    assert "FAILED: 1 problem(s)" in result.stderr
    assert len(await verify_ledger()) == 1


async def test_create_api_key_prints_a_key_stored_only_as_its_hash(
    api: Api, settings: Settings
) -> None:
    await create_program(api, slug="shop")

    result = laurel(
        settings, "create-api-key", "--kind", "secret", "--program", "shop", "--name", "backend"
    )

    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("laurel_sk_")
    row = await fetch_one(
        connections.get("default"),
        "SELECT COUNT(*) AS n FROM api_keys WHERE key_hash = ? AND name = ?",
        (hash_secret(secret), "backend"),
    )
    assert row is not None and int(row["n"]) == 1
    data = await api.data("{ programs { slug } }", key=secret)
    assert data == {"programs": [{"slug": "shop"}]}


async def test_create_api_key_for_an_unknown_program_fails_with_a_message(
    api: Api, settings: Settings
) -> None:
    result = laurel(
        settings, "create-api-key", "--kind", "secret", "--program", "nope", "--name", "x"
    )

    assert result.returncode == 2
    assert "PROGRAM_NOT_FOUND" in result.stderr


async def test_seed_demo_loads_once_and_leaves_a_verified_ledger(
    db: None, settings: Settings
) -> None:
    first = laurel(settings, "seed-demo")
    second = laurel(settings, "seed-demo")

    assert first.returncode == 0, first.stderr
    assert "admin key: laurel_admin_" in first.stdout
    assert second.returncode == 1
    assert "already holds data" in second.stderr
    assert await verify_ledger() == []
    row = await fetch_one(connections.get("default"), "SELECT COUNT(*) AS n FROM members")
    assert row is not None and int(row["n"]) == 3


async def test_a_revoked_key_is_listed_as_revoked_and_refused(db: None, settings: Settings) -> None:
    created = laurel(settings, "create-api-key", "--kind", "admin", "--name", "ops")
    secret = created.stdout.strip()
    listed = laurel(settings, "list-api-keys")
    key_id = next(line.split("\t")[0] for line in listed.stdout.splitlines() if "\tops\t" in line)

    revoked = laurel(settings, "revoke-api-key", key_id)
    again = laurel(settings, "revoke-api-key", key_id)
    after = laurel(settings, "list-api-keys")

    assert revoked.returncode == 0, revoked.stderr
    assert again.returncode == 2
    assert "INVALID_ID" in again.stderr
    assert secret not in listed.stdout
    assert f"{secret[:17]}...\tactive" in listed.stdout
    ops_line = next(line for line in after.stdout.splitlines() if "\tops\t" in line)
    assert ops_line.endswith(f"revoked {utc_now():%Y-%m-%d}")
    row = await fetch_one(
        connections.get("default"),
        "SELECT COUNT(*) AS n FROM api_keys WHERE key_hash = ? AND revoked_at IS NOT NULL",
        (hash_secret(secret),),
    )
    assert row is not None and int(row["n"]) == 1


async def test_a_staff_key_is_created_with_its_role_and_limit(db: None, settings: Settings) -> None:
    created = laurel(
        settings,
        "create-api-key",
        "--kind",
        "admin",
        "--name",
        "helpdesk",
        "--role",
        "support",
        "--points-limit",
        "250",
    )
    refused = laurel(
        settings,
        "create-api-key",
        "--kind",
        "admin",
        "--name",
        "m",
        "--role",
        "marketing",
        "--points-limit",
        "5",
    )
    listed = laurel(settings, "list-api-keys")

    assert created.returncode == 0, created.stderr
    assert refused.returncode == 2
    assert "belongs to a support key" in refused.stderr
    line = next(line for line in listed.stdout.splitlines() if "\thelpdesk\t" in line)
    assert line.split("\t")[1:3] == ["admin", "support"]
    row = await fetch_one(
        connections.get("default"),
        "SELECT role, points_adjustment_limit FROM api_keys WHERE key_hash = ?",
        (hash_secret(created.stdout.strip()),),
    )
    assert row is not None and (row["role"], row["points_adjustment_limit"]) == ("support", 250)


async def test_jobs_run_matures_due_points_as_of_a_given_time(api: Api, settings: Settings) -> None:
    await create_program(api, pendingDays=7)
    member = await enroll(api)
    yesterday = (utc_now() - timedelta(days=1)).isoformat()
    await record_order(api, placedAt=yesterday)
    in_a_week = (utc_now() + timedelta(days=7)).isoformat()

    early = laurel(settings, "jobs", "run", "mature")
    due = laurel(settings, "jobs", "run", "mature", "--as-of", in_a_week)
    naive = laurel(settings, "jobs", "run", "--as-of", "2026-01-01T00:00:00")

    assert early.stdout.startswith("mature: lots 0 (")
    assert due.stdout.startswith("mature: lots 1 (")
    assert naive.returncode == 2
    assert "needs a time zone" in naive.stderr
    status = await api.data(
        "query($id: ID!) { member(id: $id) { points { available pending } } }",
        {"id": member["id"]},
    )
    assert status["member"]["points"] == {"available": 25, "pending": 0}


async def test_analytics_rebuild_check_finds_a_tampered_rollup_and_rebuild_mends_it(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api)
    await execute(
        connections.get("default"),
        "UPDATE analytics_days SET value = value + 1 WHERE metric IN ('orders', 'customer_orders')",
    )
    member_id = await fetch_one(connections.get("default"), "SELECT id FROM members")
    assert member_id is not None

    checked = laurel(settings, "analytics", "rebuild", "--check")
    rebuilt = laurel(settings, "analytics", "rebuild", "--program", "shop")
    checked_again = laurel(settings, "analytics", "rebuild", "--check")

    assert checked.returncode == 1
    assert checked.stdout == (
        "shop\t2026-11-01\tcustomer_orders\tm:{id}\tkept 2\trecomputed 1\n"
        "shop\t2026-11-20\torders\tMEMBER:\tkept 2\trecomputed 1\n"
    ).format(id=member_id["id"])
    assert "analytics rollups differ: 2 row(s)" in checked.stderr
    assert rebuilt.returncode == 0, rebuilt.stderr
    # orders, revenue, the enrolment and the order's ledger transaction; the member's orders,
    # revenue, earning and enrolment of the month
    assert rebuilt.stdout == "shop: 8 rollup rows rebuilt\n"
    assert checked_again.returncode == 0, checked_again.stdout + checked_again.stderr
    assert "analytics rollups agree" in checked_again.stdout


async def test_analytics_summarise_counts_the_last_twelve_months_once(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api)

    first = laurel(settings, "analytics", "summarise")
    second = laurel(settings, "analytics", "summarise", "--program", "shop")

    assert first.returncode == 0, first.stderr
    # Each of the last twelve settled months, and the twelve together; their cohorts' cells
    # (12 + 11 + ... + 1).
    assert first.stdout == "shop: 13 customer span(s) and 78 cohort cell(s) counted\n"
    settled = await fetch_one(
        connections.get("default"),
        "SELECT COUNT(*) AS n FROM analytics_summaries WHERE kind NOT LIKE 'open:%'",
    )
    assert settled is not None and int(settled["n"]) == 13 + 78
    # And the settled parts of the spans reaching the open months (one, or two in a month's
    # first days, before the month before settles): each open month alone and the twelve
    # months to today's.
    # The command ran on the wall clock, not on a clock a test may have set.
    today = datetime.now(UTC).date()
    open_months = 1 if is_settled(add_months(month_of(today), -1), today) else 2
    open_parts = await fetch_one(
        connections.get("default"),
        "SELECT COUNT(*) AS n FROM analytics_summaries WHERE kind LIKE 'open:%'",
    )
    assert open_parts is not None and int(open_parts["n"]) == open_months + 1
    # Nothing stale: the second run counts nothing.
    assert second.stdout == "shop: 0 customer span(s) and 0 cohort cell(s) counted\n"


async def test_export_insights_writes_a_csv_series_and_its_totals(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await create_program(api)
    await enroll(api)
    await record_order(api)
    await record_order(api, order_id="guest-1", customer_id="guest", unit_price_minor=500)
    target = tmp_path / "insights.csv"

    monthly = laurel(
        settings,
        *("export", "insights", "--program", "shop", "--from", "2026-10-01"),
        *("--to", "2026-11-30", "--output", str(target)),
    )
    daily = laurel(
        settings,
        *("export", "insights", "--program", "shop", "--from", "2026-11-20", "--to"),
        *("2026-11-21", "--granularity", "day", "--channel", "web"),
    )

    assert monthly.returncode == 0, monthly.stderr
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert [(r["period"], r["start"], r["end"]) for r in rows] == [
        ("period", "2026-10-01", "2026-10-31"),
        ("period", "2026-11-01", "2026-11-30"),
        ("totals", "2026-10-01", "2026-11-30"),
    ]
    november = rows[1]
    assert (november["member_orders"], november["guest_orders"]) == ("1", "1")
    assert (november["member_revenue_minor"], november["guest_revenue_minor"]) == ("2500", "1000")
    # The member enrolled today (the test's real clock), after November.
    assert (november["adoption_rate"], november["enrolments"]) == ("0.5", "0")
    assert rows[0]["member_orders"] == "0"
    assert daily.returncode == 0, daily.stderr
    day_rows = list(csv.DictReader(daily.stdout.splitlines()))
    assert [r["start"] for r in day_rows] == ["2026-11-20", "2026-11-21", "2026-11-20"]
    # A channel: no points, enrolments or customer figures; days have no customer figures.
    assert (day_rows[0]["points_earned"], day_rows[0]["enrolments"]) == ("", "")
    assert day_rows[0]["adoption_rate"] == ""


async def test_export_members_streams_each_member_with_their_kpis(
    api: Api, settings: Settings
) -> None:
    await create_program(api)
    first = await enroll(api, customer_id="cust-1")
    await enroll(api, customer_id="cust-2")
    await record_order(api, customer_id="cust-1")
    await record_order(api, order_id="order-2", customer_id="cust-1", unit_price_minor=500)

    result = laurel(settings, "export", "members", "--program", "shop")

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert (rows[0]["member_id"], rows[0]["customer_id"]) == (first["id"], "cust-1")
    assert [r["customer_id"] for r in rows] == ["cust-1", "cust-2"]
    assert (rows[0]["orders"], rows[0]["revenue_minor"]) == ("2", "3500")
    assert rows[0]["average_order_value_minor"] == "1750.0"
    assert (rows[1]["orders"], rows[1]["revenue_minor"], rows[1]["first_order_at"]) == (
        "0",
        "0",
        "",
    )
    assert int(rows[0]["points_available"]) + int(rows[0]["points_pending"]) == 35


async def test_export_refuses_bad_arguments_with_a_message(api: Api, settings: Settings) -> None:
    await create_program(api)
    base = ("export", "insights", "--program", "shop", "--from", "2026-11-01")

    cases = [
        (laurel(settings, *base, "--to", "2026-11-30", "--granularity", "YEAR"), "DAY, WEEK"),
        (laurel(settings, *base, "--to", "30/11/2026"), "is not a day"),
        (laurel(settings, *base, "--to", "2026-10-01"), "INVALID_VALUE"),
        (laurel(settings, *base, "--to", "2026-11-30", "--channel", "FAX"), "choose one of"),
        (laurel(settings, *base, "--to", "2026-11-30", "--inactive-months", "0"), "INVALID_VALUE"),
        (laurel(settings, "export", "members", "--program", "nope"), "no program 'nope'"),
        (laurel(settings, "export", "insights", "--program", "shop"), "--from"),
    ]

    for result, message in cases:
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr, result.stderr
        assert result.stdout == ""
