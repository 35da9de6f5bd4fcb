"""backtestProgram, startBacktest with backtestJob, and memberWhatIf over HTTP: the shape the
console reads, refused input as errors with codes, admin keys only. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.domain.ids import encode_id
from app.jobs.backtests import run_queued_backtests
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, program_key, record_order

BACKTEST = """
query($input: BacktestProgramInput!) {
  backtestProgram(input: $input) {
    from to orders members recordedPointsIssued redemptionRate
    current { pointsIssued expectedRedemptions pointsExpired liabilityPoints pointsPerOrder
              membersPerTier { name members } }
    proposed { pointsIssued liabilityPoints pointsPerOrder }
  }
}"""
WHAT_IF = """
query($id: ID!, $orders: [WhatIfOrderInput!]!) {
  memberWhatIf(memberId: $id, orders: $orders) { points steps { points tier balanceAfter } }
}"""


def period(**proposal: Any) -> dict[str, Any]:
    return {
        "input": {
            "programSlug": "shop",
            "from": "2025-06-01T00:00:00Z",
            "to": "2027-06-01T00:00:00Z",
            "proposal": proposal,
        }
    }


async def test_a_backtest_answers_both_runs_side_by_side(api: Api) -> None:
    await create_program(api)
    await enroll(api, customer_id="cust-1")
    for n in range(3):
        placed = datetime(2026, 1, 1 + n, tzinfo=UTC).isoformat()
        result = await record_order(api, order_id=f"o{n}", customer_id="cust-1", placedAt=placed)
        assert result["userErrors"] == []
    recorded = 3 * result["order"]["pointsEarned"]

    data = await api.data(
        BACKTEST,
        period(
            pointsPerCurrencyUnit=2,
            rules=[{"name": "Double", "kind": "MULTIPLIER", "multiplier": "2"}],
        ),
    )
    answer = data["backtestProgram"]
    assert (answer["orders"], answer["members"]) == (3, 1)
    assert answer["recordedPointsIssued"] == recorded
    assert answer["redemptionRate"] == 0.0
    assert answer["current"] == {
        "pointsIssued": recorded,
        "expectedRedemptions": 0,
        "pointsExpired": 0,
        "liabilityPoints": recorded,
        "pointsPerOrder": recorded / 3,
        "membersPerTier": [],
    }
    assert answer["proposed"] == {
        "pointsIssued": 4 * recorded,
        "liabilityPoints": 4 * recorded,
        "pointsPerOrder": 4 * recorded / 3,
    }


async def test_refused_backtests_and_what_ifs_say_why_and_need_an_admin_key(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, customer_id="cust-1")
    backwards = period()
    backwards["input"]["to"] = "2019-01-01T00:00:00Z"
    refused = await api.post(BACKTEST, backwards)
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["INVALID_VALUE"]
    bad_rule = await api.post(
        BACKTEST, period(rules=[{"name": "x", "kind": "MULTIPLIER", "multiplier": "0.5"}])
    )
    assert [e["extensions"]["code"] for e in bad_rule.json()["errors"]] == ["INVALID_VALUE"]
    none = await api.post(WHAT_IF, {"id": member["id"], "orders": []})
    assert [e["extensions"]["code"] for e in none.json()["errors"]] == ["INVALID_VALUE"]
    secret = await program_key("shop", KeyKind.SECRET)
    forbidden = await api.post(BACKTEST, period(), key=secret)
    assert [e["extensions"]["code"] for e in forbidden.json()["errors"]] == ["FORBIDDEN"]


START = """
mutation($input: BacktestProgramInput!) {
  startBacktest(input: $input) {
    backtestJob { id status progress ordersTotal ordersDone result { orders } }
    userErrors { field code }
  }
}"""
JOB = """
query($id: ID!) {
  backtestJob(id: $id) {
    status progress ordersTotal ordersDone failure programSlug
    result { orders recordedPointsIssued current { pointsIssued } proposed { pointsIssued } }
  }
}"""


async def test_a_started_backtest_runs_as_a_job_whose_result_is_the_synchronous_one(
    api: Api,
) -> None:
    await create_program(api)
    await enroll(api, customer_id="cust-1")
    for n in range(3):
        placed = datetime(2026, 1, 1 + n, tzinfo=UTC).isoformat()
        await record_order(api, order_id=f"o{n}", customer_id="cust-1", placedAt=placed)
    variables = period(pointsPerCurrencyUnit=2, expiryDays=30)
    started = (await api.data(START, variables))["startBacktest"]
    assert started["userErrors"] == []
    assert {k: v for k, v in started["backtestJob"].items() if k != "id"} == {
        "status": "QUEUED",
        "progress": 0.0,
        "ordersTotal": 0,
        "ordersDone": 0,
        "result": None,
    }

    assert await run_queued_backtests(utc_now()) == {"backtests": 1}

    job = (await api.data(JOB, {"id": started["backtestJob"]["id"]}))["backtestJob"]
    direct = (await api.data(BACKTEST, variables))["backtestProgram"]
    assert job["status"] == "DONE" and job["failure"] is None
    assert (job["progress"], job["ordersTotal"], job["ordersDone"]) == (1.0, 3, 3)
    assert job["programSlug"] == "shop"
    assert job["result"] == {
        "orders": 3,
        "recordedPointsIssued": direct["recordedPointsIssued"],
        "current": {"pointsIssued": direct["current"]["pointsIssued"]},
        "proposed": {"pointsIssued": direct["proposed"]["pointsIssued"]},
    }
    assert direct["proposed"]["pointsIssued"] == 2 * direct["current"]["pointsIssued"]


async def test_a_refused_start_is_a_user_error_and_writes_no_job(api: Api) -> None:
    await create_program(api)
    backwards = period()
    backwards["input"]["to"] = "2019-01-01T00:00:00Z"
    refused = (await api.data(START, backwards))["startBacktest"]
    assert refused == {
        "backtestJob": None,
        "userErrors": [{"field": ["to"], "code": "INVALID_VALUE"}],
    }
    bad = (await api.data(START, period(expiryDays=-1)))["startBacktest"]
    assert bad["userErrors"] == [
        {"field": ["input", "proposal", "expiryDays"], "code": "INVALID_VALUE"}
    ]
    not_a_rule = (await api.data(START, period(ruleChanges=[{"ruleId": "x", "points": 5}])))[
        "startBacktest"
    ]
    assert not_a_rule["userErrors"] == [
        {"field": ["input", "proposal", "ruleChanges", "0", "ruleId"], "code": "INVALID_ID"}
    ]
    no_such_rule = (
        await api.data(
            START,
            period(ruleChanges=[{"ruleId": encode_id("EarningRule", 999), "multiplier": "3"}]),
        )
    )["startBacktest"]
    assert no_such_rule["userErrors"] == [
        {"field": ["input", "proposal", "ruleChanges", "0", "ruleId"], "code": "INVALID_VALUE"}
    ]
    unknown = period()
    unknown["input"]["programSlug"] = "nope"
    missing = (await api.data(START, unknown))["startBacktest"]
    assert [e["code"] for e in missing["userErrors"]] == ["PROGRAM_NOT_FOUND"]
    secret = await program_key("shop", KeyKind.SECRET)
    forbidden = (await api.post(START, period(), key=secret)).json()["data"]["startBacktest"]
    assert forbidden["backtestJob"] is None
    assert [e["code"] for e in forbidden["userErrors"]] == ["FORBIDDEN"]
    assert await run_queued_backtests(utc_now()) == {"backtests": 0}
