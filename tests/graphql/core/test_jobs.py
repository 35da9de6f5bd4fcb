"""Every background job in the API has one shape: imports, bulk operations and backtests are a
`Job` (progress, failure, createdAt, finishedAt), read through `node` as through their own
query, and only by admin keys. Both databases."""

from __future__ import annotations

from typing import Any

from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.jobs.backtests import run_queued_backtests
from app.jobs.bulk import run_queued_bulk_operations
from app.jobs.imports import run_queued_imports
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, program_key

IMPORT = """
mutation($input: ImportFileInput!) {
  importFile(input: $input) { importJob { id } userErrors { code } }
}"""
ENROL = """
mutation($input: BulkEnrollMembersInput!) {
  bulkEnrollMembers(input: $input) { bulkOperation { id } userErrors { code } }
}"""
BACKTEST = """
mutation($input: BacktestProgramInput!) {
  startBacktest(input: $input) { backtestJob { id } userErrors { code } }
}"""
NODE = """
query($id: ID!) {
  node(id: $id) { __typename ... on Job { id progress failure createdAt finishedAt } }
}"""


async def queued_jobs(api: Api) -> list[str]:
    """An import, a bulk operation and a backtest, queued; their ids."""
    started = [
        (
            IMPORT,
            {
                "programSlug": "shop",
                "kind": "MEMBERS",
                "format": "CSV",
                "content": "customer_id\nc1\n",
            },
        ),
        (ENROL, {"programSlug": "shop", "content": "customer_id\nc2\n", "marketingConsent": False}),
        (
            BACKTEST,
            {"programSlug": "shop", "from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        ),
    ]
    ids = []
    for document, fields in started:
        payload: dict[str, Any] = next(iter((await api.data(document, {"input": fields})).values()))
        assert payload["userErrors"] == []
        job = next(value for name, value in payload.items() if name != "userErrors")
        ids.append(job["id"])
    return ids


async def test_imports_bulk_operations_and_backtests_are_jobs_read_through_node(api: Api) -> None:
    await create_program(api)
    ids = await queued_jobs(api)

    queued = [(await api.data(NODE, {"id": job_id}))["node"] for job_id in ids]
    assert [job["__typename"] for job in queued] == ["ImportJob", "BulkOperation", "BacktestJob"]
    assert [(job["id"], job["failure"], job["finishedAt"]) for job in queued] == [
        (job_id, None, None) for job_id in ids
    ]
    assert all(job["createdAt"] is not None for job in queued)
    # A bulk operation's file counted when queued is not started; an import's bytes neither.
    assert [job["progress"] for job in queued] == [0.0, 0.0, 0.0]

    await run_queued_imports(utc_now())
    await run_queued_bulk_operations(utc_now())
    await run_queued_backtests(utc_now())
    done = [(await api.data(NODE, {"id": job_id}))["node"] for job_id in ids]
    assert [(job["progress"], job["failure"]) for job in done] == [(1.0, None)] * 3
    assert all(job["finishedAt"] is not None for job in done)


async def test_a_jobs_node_is_for_admin_keys_only(api: Api) -> None:
    await create_program(api)
    ids = await queued_jobs(api)
    secret = await program_key("shop", KeyKind.SECRET)
    for job_id in ids:
        body = (await api.post(NODE, {"id": job_id}, key=secret)).json()
        assert body["data"] == {"node": None}
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
