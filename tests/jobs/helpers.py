"""Helpers of the job tests: program settings, earning and spending at the clock's time, and
raw looks at lots, transactions and outbox events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tortoise.connection import connections

from app import clock as app_clock
from app.clock import ManualClock
from app.config import Settings
from app.db import as_optional_datetime, fetch_all, fetch_one
from app.jobs.runner import JobName, JobResult, run_job
from tests.graphql.conftest import Api, api_client
from tests.graphql.factories import REDEEM, record_order
from tests.graphql.helpers import pk_of

# A Monday at noon, years after the real present: nothing here depends on the system clock.
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """The process's clock for this test, standing at T0 until the test moves it."""
    with app_clock.using(ManualClock(T0)) as installed:
        assert isinstance(installed, ManualClock)
        yield installed


@pytest.fixture
async def api(db: None, settings: Settings, clock: ManualClock) -> AsyncIterator[Api]:
    """The API client of a test whose services and jobs run on the manual `clock`."""
    async with api_client(settings) as client:
        yield client


UPDATE_SETTINGS = """
mutation($input: UpdateProgramSettingsInput!) {
  updateProgramSettings(input: $input) {
    program {
      slug timeZone
      expiry { policy lifetime lifetimeUnit roundTo inactivityMonths since warningDays }
    }
    userErrors { field message code }
  }
}"""

NEXT_EXPIRIES = """
query($id: ID!, $first: Int!) {
  member(id: $id) {
    points { available pending }
    nextExpiries(first: $first) { points expiresAt expiresOn }
  }
}"""

EVENTS = """
query($slug: String!, $type: String) {
  events(programSlug: $slug, type: $type, first: 100) {
    edges { node { type memberId payload createdAt } }
  }
}"""

CREATE_ACTION_RULE = """
mutation($input: CreateActionRuleInput!) {
  createActionRule(input: $input) {
    rule { id action points frequency }
    userErrors { field message code }
  }
}"""


async def update_settings(api: Api, slug: str = "shop", **fields: Any) -> dict[str, Any]:
    data = await api.data(UPDATE_SETTINGS, {"input": {"programSlug": slug, **fields}})
    payload: dict[str, Any] = data["updateProgramSettings"]
    assert payload["userErrors"] == [], payload["userErrors"]
    program: dict[str, Any] = payload["program"]
    return program


async def set_expiry(
    api: Api,
    policy: str,
    *,
    lifetime: int = 0,
    unit: str = "MONTHS",
    round_to: str = "NONE",
    inactivity_months: int = 0,
    slug: str = "shop",
    **fields: Any,
) -> dict[str, Any]:
    expiry = {
        "policy": policy,
        "lifetime": lifetime,
        "lifetimeUnit": unit,
        "roundTo": round_to,
        "inactivityMonths": inactivity_months,
    }
    return await update_settings(api, slug, expiry=expiry, **fields)


async def earn(
    api: Api,
    clock: ManualClock,
    points: int,
    order_id: str,
    customer_id: str = "cust-1",
    slug: str = "shop",
) -> None:
    """An order placed now that earns `points` (programs here earn 1 point per EUR)."""
    result = await record_order(
        api,
        order_id=order_id,
        customer_id=customer_id,
        program_slug=slug,
        unit_price_minor=points * 100,
        quantity=1,
        placedAt=clock.now().isoformat(),
    )
    assert result["userErrors"] == [], result["userErrors"]
    assert result["order"]["pointsEarned"] == points


async def redeem(api: Api, member_id: str, reward_id: str, key: str) -> dict[str, Any]:
    data = await api.data(
        REDEEM, {"input": {"memberId": member_id, "rewardId": reward_id, "idempotencyKey": key}}
    )
    payload: dict[str, Any] = data["redeemReward"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


@dataclass(frozen=True)
class Expiry:
    points: int
    expires_at: datetime
    expires_on: date


async def next_expiries(api: Api, member_id: str, first: int = 10) -> list[Expiry]:
    data = await api.data(NEXT_EXPIRIES, {"id": member_id, "first": first})
    return [
        Expiry(
            points=row["points"],
            expires_at=datetime.fromisoformat(row["expiresAt"]),
            expires_on=date.fromisoformat(row["expiresOn"]),
        )
        for row in data["member"]["nextExpiries"]
    ]


async def points_of(api: Api, member_id: str) -> tuple[int, int]:
    """(available, pending) of a member."""
    data = await api.data(NEXT_EXPIRIES, {"id": member_id, "first": 1})
    points = data["member"]["points"]
    return int(points["available"]), int(points["pending"])


async def events_of(api: Api, event_type: str, slug: str = "shop") -> list[dict[str, Any]]:
    data = await api.data(EVENTS, {"slug": slug, "type": event_type})
    return [edge["node"] for edge in data["events"]["edges"]]


async def action_rule(api: Api, action: str, points: int, slug: str = "shop") -> dict[str, Any]:
    rule = {"name": action.title(), "action": action, "points": points, "frequency": "PER_YEAR"}
    data = await api.data(CREATE_ACTION_RULE, {"input": {"programSlug": slug, "rule": rule}})
    payload: dict[str, Any] = data["createActionRule"]
    assert payload["userErrors"] == [], payload["userErrors"]
    created: dict[str, Any] = payload["rule"]
    return created


@dataclass(frozen=True)
class Lot:
    id: int
    member_id: int
    points: int
    remaining: int
    expires_at: datetime | None
    pending_until: datetime | None
    expired_by_id: int | None


async def lots(member_id: str | None = None) -> list[Lot]:
    """Every point lot (of one member, given its global id), oldest first."""
    where, params = ("WHERE member_id = ?", (pk_of(member_id),)) if member_id else ("", ())
    rows = await fetch_all(
        connections.get("default"),
        "SELECT id, member_id, points, remaining, expires_at, pending_until, expired_by_id"
        f" FROM point_lots {where} ORDER BY id",
        params,
    )
    return [
        Lot(
            id=int(row["id"]),
            member_id=int(row["member_id"]),
            points=int(row["points"]),
            remaining=int(row["remaining"]),
            expires_at=as_optional_datetime(row["expires_at"]),
            pending_until=as_optional_datetime(row["pending_until"]),
            expired_by_id=None if row["expired_by_id"] is None else int(row["expired_by_id"]),
        )
        for row in rows
    ]


async def count(statement: str, params: tuple[Any, ...] = ()) -> int:
    row = await fetch_one(connections.get("default"), statement, params)
    assert row is not None
    return int(row["n"])


async def expire_transactions() -> list[dict[str, Any]]:
    """Every EXPIRE ledger transaction: member and points, in order."""
    rows = await fetch_all(
        connections.get("default"),
        "SELECT id, member_id, points FROM ledger_transactions WHERE kind = 'EXPIRE' ORDER BY id",
    )
    return [{key: int(value) for key, value in row.items()} for row in rows]


async def run(name: JobName, clock: ManualClock) -> JobResult:
    """Run a job at the clock's time, as the runner would."""
    result = await run_job(name, clock.now())
    assert result.ran
    return result
