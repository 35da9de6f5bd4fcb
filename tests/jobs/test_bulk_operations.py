"""Bulk operations through the API and the job runner, on both databases: each kind, retries
that do nothing twice, a segment's members, row errors with their lines, a dry run that writes
nothing, cancelling, staff roles, and an operation whose runner died resumed exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.db import connection, utc_now
from app.domain.ids import encode_id
from app.domain.imports import FileFormat, ImportKind
from app.domain.roles import StaffRole
from app.jobs.bulk import run_claimed, run_queued_bulk_operations
from app.services.access.api_keys import create_api_key, set_rate_limit
from app.services.audit.service import COMMAND_LINE_KEY_ID
from app.services.bulk import repository
from app.services.core.leases import LEASE_SECONDS, LeaseLostError
from app.services.imports import jobs as import_jobs
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    create_reward,
    enroll,
    grant_points,
    record_order,
)
from tests.graphql.helpers import pk_of, rows, snapshot
from tests.graphql.rewards.factories import UPLOAD, make_reward
from tests.jobs.helpers import count, points_of

FIELDS = """
bulkOperation {
  id kind status dryRun segmentKey rowsTotal rowsDone progress applied skipped failed points
  cancelRequested failure errors { line field code }
}
userErrors { field code }"""
ADJUST = (
    f"mutation($input: BulkAdjustPointsInput!) {{ bulkAdjustPoints(input: $input) {{ {FIELDS} }} }}"
)
TIER = f"mutation($input: BulkAssignTierInput!) {{ bulkAssignTier(input: $input) {{ {FIELDS} }} }}"
ENROL = (
    "mutation($input: BulkEnrollMembersInput!)"
    f" {{ bulkEnrollMembers(input: $input) {{ {FIELDS} }} }}"
)
REWARD = (
    f"mutation($input: BulkIssueRewardInput!) {{ bulkIssueReward(input: $input) {{ {FIELDS} }} }}"
)
CANCEL = f"mutation($id: ID!) {{ cancelBulkOperation(input: {{ id: $id }}) {{ {FIELDS} }} }}"
OPERATION = """
query($id: ID!) {
  bulkOperation(id: $id) {
    status rowsTotal rowsDone progress applied skipped failed points cancelRequested
    errors { line field code }
  }
}"""
CONFIGURE_TIERS = """
mutation($input: ConfigureTiersInput!) {
  configureTiers(input: $input) { userErrors { field code } }
}"""
TIER_OF = "query($id: ID!) { member(id: $id) { tierStatus { tier { name } } } }"
CREATE_SEGMENT = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id } userErrors { field code } }
}"""
PROFILE = """
mutation($input: UpdateMemberProfileInput!) {
  updateMemberProfile(input: $input) { userErrors { field code } }
}"""


async def queue(api: Api, document: str, key: str | None = None, **fields: Any) -> dict[str, Any]:
    answer = await api.post(document, {"input": {"programSlug": "shop", **fields}}, key=key)
    body = answer.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


async def report(api: Api, operation_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(OPERATION, {"id": operation_id}))["bulkOperation"]
    return found


async def members(api: Api, *customer_ids: str) -> list[str]:
    return [(await enroll(api, customer_id=customer_id))["id"] for customer_id in customer_ids]


async def adjustments_of(member_id: str) -> int:
    return await count(
        "SELECT COUNT(*) AS n FROM ledger_transactions WHERE member_id = ? AND kind = 'ADJUST'",
        (pk_of(member_id),),
    )


async def silver_and_gold(api: Api) -> None:
    """Tiers on money spent: Silver from 100.00, Gold from 500.00."""
    configured = await api.data(
        CONFIGURE_TIERS,
        {
            "input": {
                "programSlug": "shop",
                "metric": "MONEY_SPENT",
                "period": "CALENDAR_YEAR",
                "downgrade": "PERIOD_END",
                "tiers": [
                    {"name": "Silver", "threshold": 10_000},
                    {"name": "Gold", "threshold": 50_000},
                ],
            }
        },
    )
    assert configured["configureTiers"]["userErrors"] == []


async def staff_key(role: StaffRole, limit: int | None = None) -> str:
    created = await create_api_key(
        KeyKind.ADMIN, None, role.value, role=role, points_adjustment_limit=limit
    )
    await set_rate_limit(created.id, 100_000.0, 100_000)
    return created.secret


async def test_points_adjusted_from_a_file_once_per_member_with_row_errors_by_line(
    api: Api,
) -> None:
    await create_program(api)
    ann, bob = await members(api, "ann", "bob")
    await grant_points(api, bob, 30)
    content = "customer_id,points\nann,50\nbob,-40\nnobody,5\nbob,many\n\nann,7\nbob,-30\n"
    queued = await queue(
        api, ADJUST, content=content, reason="Migration fix", idempotencyKey="fix-1"
    )
    assert queued["userErrors"] == []
    operation = queued["bulkOperation"]
    assert (operation["status"], operation["kind"], operation["rowsTotal"]) == (
        "QUEUED",
        "ADJUST_POINTS",
        6,
    )

    assert await run_queued_bulk_operations(utc_now()) == {"bulk operations": 1}

    done = await report(api, operation["id"])
    assert done == {
        "status": "DONE",
        "rowsTotal": 6,
        "rowsDone": 6,
        "progress": 1.0,
        "applied": 1,
        "skipped": 0,
        "failed": 5,
        "points": 50,
        "cancelRequested": False,
        "errors": [
            {"line": 3, "field": "points", "code": "BALANCE_WOULD_BE_NEGATIVE"},
            {"line": 4, "field": "customer_id", "code": "MEMBER_NOT_FOUND"},
            {"line": 5, "field": "points", "code": "INVALID_VALUE"},
            # A member's first line decides, whether it was applied or refused.
            {"line": 7, "field": "customer_id", "code": "DUPLICATE_MEMBER"},
            {"line": 8, "field": "customer_id", "code": "DUPLICATE_MEMBER"},
        ],
    }
    assert await points_of(api, ann) == (50, 0)
    assert await points_of(api, bob) == (30, 0)
    # One audit entry per member changed, under the key that queued the operation.
    audited = await rows(
        "SELECT operation, target_type FROM audit_log"
        f" WHERE request_id = 'bulk-{pk_of(operation['id'])}'"
    )
    assert [(row["operation"], row["target_type"]) for row in audited] == [
        ("bulkAdjustPoints", "Member")
    ]

    # The request retried: the same operation, nothing done twice.
    again = await queue(
        api, ADJUST, content=content, reason="Migration fix", idempotencyKey="fix-1"
    )
    assert again["bulkOperation"]["id"] == operation["id"]
    assert again["bulkOperation"]["status"] == "DONE"
    assert await run_queued_bulk_operations(utc_now()) == {"bulk operations": 0}
    assert await points_of(api, ann) == (50, 0)
    assert (await adjustments_of(ann), await adjustments_of(bob)) == (1, 1)
    # The same key with other input is refused.
    other = await queue(api, ADJUST, content=content, reason="Other", idempotencyKey="fix-1")
    assert other["userErrors"] == [
        {"field": ["input", "idempotencyKey"], "code": "IDEMPOTENCY_KEY_REUSED"}
    ]


async def test_a_segment_target_changes_the_segments_members_only(api: Api) -> None:
    await create_program(api)
    ann, bob, cid = await members(api, "ann", "bob", "cid")
    for member in (ann, cid):
        tagged = await api.data(PROFILE, {"input": {"memberId": member, "tags": ["vip"]}})
        assert tagged["updateMemberProfile"]["userErrors"] == []
    created = await api.data(
        CREATE_SEGMENT,
        {
            "input": {
                "programSlug": "shop",
                "key": "vip",
                "name": "VIP",
                "condition": {"field": "TAG", "operator": "IN", "value": ["vip"]},
            }
        },
    )
    assert created["createSegment"]["userErrors"] == []

    queued = await queue(
        api, ADJUST, segmentKey="vip", points=25, reason="VIP thanks", description="Thank you"
    )
    assert queued["userErrors"] == []
    assert queued["bulkOperation"]["segmentKey"] == "vip"
    assert queued["bulkOperation"]["rowsTotal"] == 2
    await run_queued_bulk_operations(utc_now())

    assert [await points_of(api, m) for m in (ann, bob, cid)] == [(25, 0), (0, 0), (25, 0)]
    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["status"], done["applied"], done["points"]) == ("DONE", 2, 50)
    # A segment's adjustment needs its points; an unknown segment is refused.
    assert (await queue(api, ADJUST, segmentKey="vip", reason="x"))["userErrors"] == [
        {"field": ["input", "points"], "code": "REQUIRED"}
    ]
    assert (await queue(api, ADJUST, segmentKey="nope", points=1, reason="x"))["userErrors"] == [
        {"field": ["input", "segmentKey"], "code": "SEGMENT_NOT_FOUND"}
    ]


async def test_a_tier_is_assigned_to_every_member_of_the_file(api: Api) -> None:
    await create_program(api)
    ann, bob = await members(api, "ann", "bob")
    await silver_and_gold(api)
    refused = await queue(api, TIER, content="customer_id\nann\n", tierName="Platinum", reason="x")
    assert refused["userErrors"] == [{"field": ["input", "tierName"], "code": "TIER_NOT_FOUND"}]

    queued = await queue(
        api, TIER, content="customer_id\nann\nbob\n", tierName="Gold", reason="Partners"
    )
    await run_queued_bulk_operations(utc_now())

    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["status"], done["applied"], done["failed"]) == ("DONE", 2, 0)
    for member in (ann, bob):
        status = (await api.data(TIER_OF, {"id": member}))["member"]["tierStatus"]
        assert status["tier"]["name"] == "Gold"


async def test_a_mailing_list_is_enrolled_with_its_consent_and_members_are_skipped(
    api: Api,
) -> None:
    await create_program(api)
    await members(api, "ann")
    assert (await queue(api, ENROL, content="email\na@x.org\n", marketingConsent=True))[
        "userErrors"
    ] == [{"field": ["input", "consentNote"], "code": "REQUIRED"}]

    content = (
        "customer_id,email,name\nann,,\n,Zoe@Example.org,Zoe\nbea,bea@example.org,Bea\n,,Nobody\n"
    )
    queued = await queue(
        api,
        ENROL,
        content=content,
        marketingConsent=True,
        consentNote="Newsletter sign-up form, double opt-in",
    )
    assert queued["userErrors"] == []
    await run_queued_bulk_operations(utc_now())

    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["applied"], done["skipped"], done["failed"]) == (2, 1, 1)
    assert done["errors"] == [{"line": 5, "field": "customer_id", "code": "REQUIRED"}]
    enrolled = await rows(
        "SELECT customer_id, email, marketing_consent, marketing_consent_at FROM members"
        " WHERE customer_id <> 'ann' ORDER BY customer_id"
    )
    assert [(r["customer_id"], r["email"], bool(r["marketing_consent"])) for r in enrolled] == [
        ("bea", "bea@example.org", True),
        ("zoe@example.org", "Zoe@Example.org", True),
    ]
    assert all(r["marketing_consent_at"] is not None for r in enrolled)
    # Each member enrolled has an audit entry naming it, under the key that queued the list.
    audited = await rows(
        "SELECT api_key_id, target_type, target_id FROM audit_log"
        " WHERE operation = 'bulkEnrollMembers' AND request_id LIKE 'bulk-%' ORDER BY id"
    )
    made = await rows(
        "SELECT id FROM members WHERE customer_id IN ('zoe@example.org', 'bea') ORDER BY id"
    )
    assert [(r["target_type"], r["target_id"]) for r in audited] == [
        ("Member", encode_id("Member", int(r["id"]))) for r in made
    ]
    assert all(int(r["api_key_id"]) != COMMAND_LINE_KEY_ID for r in audited)
    # A member already enrolled keeps the consent they had.
    kept = await rows("SELECT marketing_consent FROM members WHERE customer_id = 'ann'")
    assert [bool(row["marketing_consent"]) for row in kept] == [False]


async def test_a_reward_is_issued_to_each_member_while_stock_lasts(api: Api) -> None:
    await create_program(api)
    ann, _ = await members(api, "ann", "bob")
    reward = await create_reward(api, cost_points=100, stock=1)
    queued = await queue(
        api, REWARD, content="customer_id\nann\nbob\n", rewardId=reward["id"], reason="Launch gift"
    )
    assert queued["userErrors"] == []
    await run_queued_bulk_operations(utc_now())

    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["applied"], done["failed"]) == (1, 1)
    assert done["errors"] == [{"line": 3, "field": None, "code": "REWARD_OUT_OF_STOCK"}]
    given = await rows("SELECT member_id, source FROM redemptions")
    assert [(int(r["member_id"]), r["source"]) for r in given] == [(pk_of(ann), "GIFT")]
    # The points pass through: the member's balance does not change.
    assert await points_of(api, ann) == (0, 0)


async def test_a_dry_run_counts_what_would_happen_and_writes_nothing(api: Api) -> None:
    await create_program(api)
    await members(api, "ann", "bob")
    before = await snapshot()
    queued = await queue(
        api,
        ADJUST,
        content="customer_id,points\nann,10\nbob,-5\nnobody,3\n",
        reason="Try",
        dryRun=True,
    )
    await run_queued_bulk_operations(utc_now())
    enrol = await queue(
        api, ENROL, content="customer_id\nann\nnew\n", marketingConsent=False, dryRun=True
    )
    await run_queued_bulk_operations(utc_now())

    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["status"], done["applied"], done["failed"], done["points"]) == ("DONE", 1, 2, 10)
    assert [e["code"] for e in done["errors"]] == ["BALANCE_WOULD_BE_NEGATIVE", "MEMBER_NOT_FOUND"]
    enrolled = await report(api, enrol["bulkOperation"]["id"])
    assert (enrolled["applied"], enrolled["skipped"]) == (1, 1)
    assert await snapshot() == before


async def test_a_json_lines_file_is_applied_with_row_errors_by_line(api: Api) -> None:
    await create_program(api)
    ann, bob = await members(api, "ann", "bob")
    content = (
        '{"customer_id": "ann", "points": 30}\n'
        "\n"
        '{"customer_id": "bob", "points": "x"}\n'
        '{"customer_id": "bob"}\n'
        "{oops\n"
    )
    queued = await queue(api, ADJUST, content=content, points=5, reason="Lines")
    assert queued["userErrors"] == []
    assert queued["bulkOperation"]["rowsTotal"] == 4
    await run_queued_bulk_operations(utc_now())

    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["status"], done["applied"], done["failed"], done["points"]) == ("DONE", 2, 2, 35)
    assert done["errors"] == [
        {"line": 3, "field": "points", "code": "INVALID_VALUE"},
        {"line": 5, "field": None, "code": "MALFORMED_RECORD"},
    ]
    assert [await points_of(api, ann), await points_of(api, bob)] == [(30, 0), (5, 0)]


async def test_a_dry_run_refuses_each_row_as_the_real_run_then_does(api: Api) -> None:
    await create_program(api)
    ann, _, _ = await members(api, "ann", "bob", "cid")
    await grant_points(api, ann, 50)
    await silver_and_gold(api)
    # Bob earned Gold: assigning him Silver is below what he holds.
    recorded = await record_order(
        api,
        customer_id="bob",
        order_id="o-bob",
        unit_price_minor=30_000,
        quantity=2,
        placedAt=(utc_now() - timedelta(minutes=5)).isoformat(),
    )
    assert recorded["userErrors"] == []
    reward = await create_reward(api, cost_points=100, stock=2)
    # Two codes for three members: the third gift finds the pool empty, in the dry run too,
    # though the dry run only reads what its earlier records would have taken.
    pooled = await make_reward(api, codeSource="POOL", name="Pooled")
    uploaded = await api.data(
        UPLOAD, {"input": {"rewardId": pooled["id"], "codes": ["POOL-0001", "POOL-0002"]}}
    )
    assert uploaded["uploadRewardCodes"]["userErrors"] == []
    cases: list[tuple[str, dict[str, Any], list[str] | None]] = [
        (
            ADJUST,
            {"content": "customer_id,points\nann,-40\nbob,-5000\nnobody,3\ncid,7\n", "reason": "x"},
            ["BALANCE_WOULD_BE_NEGATIVE", "MEMBER_NOT_FOUND"],
        ),
        (
            TIER,
            {"content": "customer_id\nann\nbob\n", "tierName": "Silver", "reason": "Partners"},
            ["TIER_BELOW_EARNED"],
        ),
        (
            REWARD,
            {"content": "customer_id\nann\nbob\ncid\n", "rewardId": reward["id"], "reason": "Gift"},
            ["REWARD_OUT_OF_STOCK"],
        ),
        (
            REWARD,
            {"content": "customer_id\nann\nbob\ncid\n", "rewardId": pooled["id"], "reason": "Gift"},
            ["REWARD_POOL_EMPTY"],
        ),
        (
            ENROL,
            {
                "content": "customer_id,email\nann,\nnew,not-an-email\nnewer,n@example.org\n",
                "marketingConsent": False,
            },
            None,
        ),
    ]
    for document, fields, expected in cases:
        before = await snapshot()
        dry = await queue(api, document, dryRun=True, **fields)
        assert dry["userErrors"] == []
        await run_queued_bulk_operations(utc_now())
        assert await snapshot() == before
        real = await queue(api, document, **fields)
        await run_queued_bulk_operations(utc_now())
        rehearsed = await report(api, dry["bulkOperation"]["id"])
        done = await report(api, real["bulkOperation"]["id"])
        counts = ("status", "applied", "skipped", "failed", "points", "errors")
        assert {k: rehearsed[k] for k in counts} == {k: done[k] for k in counts}, document
        assert done["failed"] >= 1, document
        if expected is not None:
            assert [error["code"] for error in done["errors"]] == expected


async def test_cancel_stops_a_queued_or_running_operation_and_keeps_what_was_done(
    api: Api,
) -> None:
    await create_program(api)
    ann, bob, cid = await members(api, "ann", "bob", "cid")
    content = "customer_id\nann\nbob\ncid\n"
    waiting = await queue(api, ADJUST, content=content, points=5, reason="One")
    cancelled = (await api.data(CANCEL, {"id": waiting["bulkOperation"]["id"]}))[
        "cancelBulkOperation"
    ]
    assert cancelled["bulkOperation"]["status"] == "CANCELLED"
    assert await run_queued_bulk_operations(utc_now()) == {"bulk operations": 0}

    running = await queue(api, ADJUST, content=content, points=5, reason="Two")
    claimed = await repository.claim()
    assert claimed is not None and claimed.operation.id == pk_of(running["bulkOperation"]["id"])

    async def cancel_after_first(position: int) -> None:
        if position == 1:
            answer = await api.data(CANCEL, {"id": running["bulkOperation"]["id"]})
            assert answer["cancelBulkOperation"]["bulkOperation"]["cancelRequested"] is True

    finished = await run_claimed(claimed, after_record=cancel_after_first)
    assert (finished.status.value, finished.applied, finished.position) == ("CANCELLED", 1, 1)
    assert [await points_of(api, m) for m in (ann, bob, cid)] == [(5, 0), (0, 0), (0, 0)]
    again = (await api.data(CANCEL, {"id": running["bulkOperation"]["id"]}))["cancelBulkOperation"]
    assert again["userErrors"] == [{"field": ["input", "id"], "code": "BULK_OPERATION_FINISHED"}]


async def test_roles_that_may_not_adjust_points_are_refused_and_support_keeps_its_limit(
    api: Api,
) -> None:
    await create_program(api)
    ann, bob = await members(api, "ann", "bob")
    content = "customer_id,points\nann,50\nbob,500\n"
    for role in (StaffRole.MARKETING, StaffRole.READ_ONLY):
        refused = await queue(api, ADJUST, key=await staff_key(role), content=content, reason="x")
        assert refused == {
            "bulkOperation": None,
            "userErrors": [{"field": None, "code": "FORBIDDEN"}],
        }
    support = await staff_key(StaffRole.SUPPORT, limit=100)
    over = await queue(api, ADJUST, key=support, segmentKey="any", points=500, reason="x")
    assert over["userErrors"] == [{"field": ["input", "points"], "code": "POINTS_LIMIT_EXCEEDED"}]

    queued = await queue(api, ADJUST, key=support, content=content, reason="Goodwill")
    assert queued["userErrors"] == []
    await run_queued_bulk_operations(utc_now())
    done = await report(api, queued["bulkOperation"]["id"])
    assert (done["applied"], done["failed"]) == (1, 1)
    assert done["errors"] == [{"line": 3, "field": "points", "code": "POINTS_LIMIT_EXCEEDED"}]
    assert [await points_of(api, m) for m in (ann, bob)] == [(50, 0), (0, 0)]
    assert await count("SELECT COUNT(*) AS n FROM bulk_operations") == 1


class RunnerKilledError(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even the runner's own error handling."""


async def test_an_operation_whose_runner_died_is_resumed_once_its_lease_has_passed(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    people = await members(api, "ann", "bob", "cid", "dan")
    queued = await queue(
        api, ADJUST, content="customer_id\nann\nbob\ncid\ndan\n", points=10, reason="Resume"
    )
    operation_id = queued["bulkOperation"]["id"]
    first = await repository.claim()
    assert first is not None

    async def die_after_two(position: int) -> None:
        if position == 2:
            raise RunnerKilledError

    with pytest.raises(RunnerKilledError):
        await run_claimed(first, after_record=die_after_two)
    state = await report(api, operation_id)
    assert (state["status"], state["rowsDone"], state["applied"]) == ("RUNNING", 2, 2)

    # While the dead runner's lease holds, nobody takes the operation.
    clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
    assert await run_queued_bulk_operations(utc_now()) == {"bulk operations": 0}
    clock.advance(timedelta(seconds=2))
    assert await run_queued_bulk_operations(utc_now()) == {"bulk operations": 1}

    done = await report(api, operation_id)
    assert (done["status"], done["rowsDone"], done["applied"], done["points"]) == (
        "DONE",
        4,
        4,
        40,
    )
    assert [await adjustments_of(m) for m in people] == [1, 1, 1, 1]
    assert [await points_of(api, m) for m in people] == [(10, 0)] * 4
    # The dead runner's claim is void: it can neither renew nor move the operation.
    assert await first.lease.renew() is False
    with pytest.raises(LeaseLostError):
        await repository.advance(
            connection(),
            first.lease,
            4,
            repository.Step(applied=1),
        )


async def test_an_import_whose_runner_died_is_taken_again_after_its_lease(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await import_jobs.queue_import(
        import_jobs.QueueImportInput(
            program_slug="shop",
            kind=ImportKind.MEMBERS,
            file_format=FileFormat.CSV,
            content="customer_id\nann\nbob\n",
        ),
        None,
    )
    dead = await import_jobs.claim_queued_import()
    assert dead is not None and dead.lease.claims == 1
    assert await import_jobs.claim_queued_import() is None
    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    resumed = await import_jobs.claim_queued_import()
    assert resumed is not None and (resumed.job.id, resumed.lease.claims) == (dead.job.id, 2)
    assert await dead.lease.renew() is False
    assert await resumed.lease.renew() is True
