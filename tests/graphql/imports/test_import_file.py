"""importFile: an upload queued as a job, run by the import runner, followed with importJob;
refused input as userErrors; admin keys only. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.jobs.imports import run_queued_imports
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, program_key

IMPORT = """
mutation($input: ImportFileInput!) {
  importFile(input: $input) {
    importJob { id status kind dryRun bytesTotal }
    userErrors { field code }
  }
}"""
JOB = """
query($id: ID!) {
  importJob(id: $id) {
    status progress items imported skipped failed failure finishedAt
    errors { line field code }
  }
}"""
MEMBERS = "customer_id,enrolled_at\nc1,2025-01-01T00:00:00Z\nc2,not a time\nc3,\n"


async def upload(api: Api, content: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(
        IMPORT,
        {
            "input": {
                "programSlug": "shop",
                "kind": "MEMBERS",
                "format": "CSV",
                "content": content,
                **fields,
            }
        },
    )
    payload: dict[str, Any] = data["importFile"]
    return payload


async def test_an_uploaded_file_is_imported_as_a_job_whose_report_can_be_read(
    api: Api,
) -> None:
    await create_program(api)
    queued = await upload(api, MEMBERS)
    assert queued["userErrors"] == []
    job = queued["importJob"]
    assert (job["status"], job["kind"], job["dryRun"]) == ("QUEUED", "MEMBERS", False)
    assert job["bytesTotal"] == len(MEMBERS.encode())

    assert await run_queued_imports(utc_now()) == {"imports": 1}

    report = (await api.data(JOB, {"id": job["id"]}))["importJob"]
    assert report["finishedAt"] is not None
    assert {k: v for k, v in report.items() if k != "finishedAt"} == {
        "status": "DONE",
        "progress": 1.0,
        "items": 3,
        "imported": 2,
        "skipped": 0,
        "failed": 1,
        "failure": None,
        "errors": [{"line": 3, "field": "enrolled_at", "code": "INVALID_VALUE"}],
    }
    # Sent again: nothing twice.
    again = await upload(api, MEMBERS)
    await run_queued_imports(utc_now())
    second = (await api.data(JOB, {"id": again["importJob"]["id"]}))["importJob"]
    assert (second["imported"], second["skipped"], second["failed"]) == (0, 2, 1)
    assert await run_queued_imports(datetime.now(UTC)) == {"imports": 0}


async def test_a_file_the_import_cannot_read_fails_the_job_with_its_reason(api: Api) -> None:
    await create_program(api)
    queued = await upload(api, "customer,name\nc1,One\n")
    await run_queued_imports(utc_now())
    report = (await api.data(JOB, {"id": queued["importJob"]["id"]}))["importJob"]
    assert report["status"] == "FAILED"
    assert report["failure"].startswith("INVALID_VALUE: unknown column(s) customer")


async def test_refused_uploads_are_user_errors_and_only_admins_may_upload(api: Api) -> None:
    await create_program(api)
    assert (await upload(api, "  "))["userErrors"] == [
        {"field": ["input", "content"], "code": "REQUIRED"}
    ]
    assert (await upload(api, MEMBERS, programSlug="nope"))["userErrors"] == [
        {"field": ["input", "programSlug"], "code": "PROGRAM_NOT_FOUND"}
    ]
    secret = await program_key("shop", KeyKind.SECRET)
    answer = await api.post(
        IMPORT,
        {"input": {"programSlug": "shop", "kind": "MEMBERS", "format": "CSV", "content": MEMBERS}},
        key=secret,
    )
    assert answer.json()["data"]["importFile"]["userErrors"][0]["code"] == "FORBIDDEN"
