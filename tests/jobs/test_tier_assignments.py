"""Manual tier assignment: a floor set by an admin, locked until a date or held as the downgrade
policy holds a reached tier; members earn their way above it; the tiers job ends it on time and
once; clearing it; refusals that write nothing; replays; parallel assignments."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.auth.api_keys import KeyKind
from app.clock import ManualClock
from app.db import execute
from app.jobs.runner import JobName
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, everything, program_key
from tests.graphql.helpers import codes, rows
from tests.graphql.tiers.test_tiers import configure, refund
from tests.jobs.helpers import T0, count, run
from tests.jobs.test_tiers import spend

STATUS = """
query($id: ID!) {
  member(id: $id) {
    tierStatus {
      tier { name } holdsUntil
      assignment { tierName assignedAt lockedUntil holdsUntil reason }
      history { fromTier toTier reason note }
    }
  }
}"""

ASSIGN = """
mutation($input: AssignMemberTierInput!) {
  assignMemberTier(input: $input) {
    assignment { tierName assignedAt lockedUntil holdsUntil reason }
    tierStatus { tier { name } }
    userErrors { field message code }
  }
}"""

CLEAR = """
mutation($input: ClearMemberTierAssignmentInput!) {
  clearMemberTierAssignment(input: $input) {
    assignment { tierName holdsUntil }
    tierStatus { tier { name } assignment { tierName } }
    userErrors { field message code }
  }
}"""

LOCK_END = datetime(2030, 3, 1, tzinfo=UTC)


async def assign(
    api: Api,
    member_id: str,
    tier_name: str,
    key: str,
    *,
    locked_until: datetime | None = None,
    reason: str = "VIP apology",
    api_key: str | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "memberId": member_id,
        "tierName": tier_name,
        "reason": reason,
        "idempotencyKey": key,
    }
    if locked_until is not None:
        values["lockedUntil"] = locked_until.isoformat()
    data = await api.data(ASSIGN, {"input": values}, key=api_key)
    payload: dict[str, Any] = data["assignMemberTier"]
    return payload


async def clear(api: Api, member_id: str, key: str, reason: str = "set by mistake") -> Any:
    data = await api.data(
        CLEAR, {"input": {"memberId": member_id, "reason": reason, "idempotencyKey": key}}
    )
    return data["clearMemberTierAssignment"]


async def status(api: Api, member_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await api.data(STATUS, {"id": member_id}))["member"]["tierStatus"]
    return result


def changes(tier_status: dict[str, Any]) -> list[tuple[Any, Any, str, Any]]:
    return [(h["fromTier"], h["toTier"], h["reason"], h["note"]) for h in tier_status["history"]]


async def test_a_locked_assignment_holds_through_a_refund_and_ends_at_its_date_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await spend(api, clock, "o-1", 20_000, "cust-1")

    assigned = await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)
    await refund(api, "o-1", "refund-1")
    after_refund = await status(api, member["id"])
    clock.set(LOCK_END - timedelta(seconds=1))
    before_end = (await run(JobName.TIERS, clock)).summary
    clock.set(LOCK_END)
    at_end = (await run(JobName.TIERS, clock)).summary
    rerun = (await run(JobName.TIERS, clock)).summary
    ended = await status(api, member["id"])

    assert assigned["userErrors"] == []
    assert assigned["assignment"] == {
        "tierName": "Gold",
        "assignedAt": T0.isoformat(),
        "lockedUntil": LOCK_END.isoformat(),
        "holdsUntil": LOCK_END.isoformat(),
        "reason": "VIP apology",
    }
    assert assigned["tierStatus"]["tier"] == {"name": "Gold"}
    # The refund takes Silver's qualification away; the lock keeps the member in Gold.
    assert after_refund["tier"] == {"name": "Gold"}
    assert after_refund["holdsUntil"] == LOCK_END.isoformat()
    assert after_refund["assignment"]["tierName"] == "Gold"
    assert before_end == {"members": 0, "changed": 0}
    assert at_end == {"members": 1, "changed": 1}
    assert rerun == {"members": 0, "changed": 0}
    assert ended["tier"] is None and ended["assignment"] is None
    assert changes(ended) == [
        ("Gold", None, "ASSIGNMENT_ENDED", None),
        ("Silver", "Gold", "MANUAL", "VIP apology"),
        (None, "Silver", "ORDER", None),
    ]
    events = await rows("SELECT type, payload FROM outbox_events ORDER BY id")
    tier_events = [e for e in events if str(e["type"]).startswith("tier.")]
    assert [e["type"] for e in tier_events] == [
        "tier.changed",
        "tier.changed",
        "tier.assigned",
        "tier.changed",
    ]
    # Gold's entry reward is given on the first entry, manual or not; once.
    assert await count("SELECT COUNT(*) AS n FROM tier_entry_grants") == 1
    assert await verify_ledger() == []


async def test_a_member_earns_their_way_above_an_assignment(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await assign(api, member["id"], "Silver", "a-1", locked_until=LOCK_END)

    clock.advance(timedelta(days=1))
    await spend(api, clock, "o-1", 60_000, "cust-1")
    above = await status(api, member["id"])
    clock.set(LOCK_END)
    at_end = (await run(JobName.TIERS, clock)).summary
    after = await status(api, member["id"])

    assert above["tier"] == {"name": "Gold"}
    assert above["assignment"]["tierName"] == "Silver"
    assert at_end["changed"] == 0
    assert after["tier"] == {"name": "Gold"} and after["assignment"] is None
    assert [h[:3] for h in changes(after)] == [
        ("Silver", "Gold", "ORDER"),
        (None, "Silver", "MANUAL"),
    ]


async def test_an_unlocked_assignment_is_held_as_a_tier_reached_that_day(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)

    assigned = await assign(api, member["id"], "Gold", "a-1")
    clock.set(datetime(2031, 12, 31, 23, 59, tzinfo=UTC))
    await run(JobName.TIERS, clock)
    kept = await status(api, member["id"])
    clock.set(datetime(2032, 1, 1, tzinfo=UTC))
    await run(JobName.TIERS, clock)
    ended = await status(api, member["id"])

    # PERIOD_END keeps a tier reached in 2030 through 2031: so is an unlocked assignment.
    assert assigned["assignment"]["lockedUntil"] is None
    assert assigned["assignment"]["holdsUntil"] == "2032-01-01T00:00:00+00:00"
    assert kept["tier"] == {"name": "Gold"}
    assert ended["tier"] is None
    assert changes(ended)[0][:3] == ("Gold", None, "ASSIGNMENT_ENDED")


async def test_clearing_an_assignment_moves_the_member_at_once(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await spend(api, clock, "o-1", 20_000, "cust-1")
    await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)

    cleared = await clear(api, member["id"], "c-1")
    again = await clear(api, member["id"], "c-2")
    after = await status(api, member["id"])

    assert cleared["userErrors"] == []
    assert cleared["assignment"]["holdsUntil"] == T0.isoformat()
    assert cleared["tierStatus"] == {"tier": {"name": "Silver"}, "assignment": None}
    assert codes(again["userErrors"]) == ["TIER_ASSIGNMENT_NOT_FOUND"]
    assert changes(after)[:2] == [
        ("Gold", "Silver", "MANUAL", "set by mistake"),
        ("Silver", "Gold", "MANUAL", "VIP apology"),
    ]
    assert (
        await count(
            "SELECT COUNT(*) AS n FROM outbox_events WHERE type = 'tier.assignment_cleared'"
        )
        == 1
    )


async def test_refused_assignments_write_nothing(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await create_program(api, "rival")
    await configure(api)
    member = await enroll(api)
    untiered = await enroll(api, "rival", "cust-r")
    await spend(api, clock, "o-1", 60_000, "cust-1")
    secret = await program_key("shop", KeyKind.SECRET)
    before = await everything()

    unknown = await assign(api, member["id"], "Platinum", "k-1")
    past = await assign(api, member["id"], "Gold", "k-2", locked_until=T0 - timedelta(days=1))
    below = await assign(api, member["id"], "Silver", "k-3")
    no_tiers = await assign(api, untiered["id"], "Gold", "k-4")
    no_reason = await assign(api, member["id"], "Gold", "k-5", reason=" ")
    not_admin = await assign(api, member["id"], "Gold", "k-6", api_key=secret)
    no_assignment = await clear(api, member["id"], "k-7")
    naive = await assign(api, member["id"], "Gold", "k-8", locked_until=datetime(2030, 3, 1))

    assert codes(unknown["userErrors"]) == ["TIER_NOT_FOUND"]
    assert unknown["userErrors"][0]["field"] == ["input", "tierName"]
    assert codes(past["userErrors"]) == ["INVALID_VALUE"]
    assert past["userErrors"][0]["field"] == ["input", "lockedUntil"]
    assert codes(below["userErrors"]) == ["TIER_BELOW_EARNED"]
    assert codes(no_tiers["userErrors"]) == ["TIER_NOT_FOUND"]
    assert codes(no_reason["userErrors"]) == ["REQUIRED"]
    assert codes(not_admin["userErrors"]) == ["FORBIDDEN"]
    assert codes(no_assignment["userErrors"]) == ["TIER_ASSIGNMENT_NOT_FOUND"]
    assert codes(naive["userErrors"]) == ["INVALID_VALUE"]
    assert naive["userErrors"][0]["field"] == ["input", "lockedUntil"]
    after = await everything()
    # Every admin request is audited, refused or not (one per request but the secret key's).
    assert after["all_counts"].pop("audit_log") == before["all_counts"].pop("audit_log") + 7
    assert after == before


async def test_an_assignment_replays_by_its_key_and_refuses_the_key_with_other_input(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)

    first = await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)
    clock.advance(timedelta(minutes=5))
    replay = await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)
    reused = await assign(api, member["id"], "Silver", "a-1", locked_until=LOCK_END)

    assert replay == first
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    assert await count("SELECT COUNT(*) AS n FROM tier_assignments") == 1
    assert await count("SELECT COUNT(*) AS n FROM tier_changes") == 1


async def test_a_replay_answers_what_was_done_after_the_lock_date_has_passed(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    first = await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)

    clock.set(LOCK_END + timedelta(days=1))
    replay = await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END)

    assert first["userErrors"] == []
    assert replay["userErrors"] == []
    assert replay["assignment"]["assignedAt"] == first["assignment"]["assignedAt"]
    assert len(await rows("SELECT id FROM tier_assignments")) == 1


async def test_retiring_a_tier_ends_its_assignments_for_good(api: Api, clock: ManualClock) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    assert (await assign(api, member["id"], "Gold", "a-1", locked_until=LOCK_END))[
        "userErrors"
    ] == []

    retired = await configure(api, [{"name": "Silver", "threshold": 10_000}])
    back = await configure(api)
    await run(JobName.TIERS_RECALCULATE, clock)
    tier_status = await status(api, member["id"])

    assert retired["userErrors"] == [] and back["userErrors"] == []
    cleared = await rows("SELECT cleared_at, clear_reason FROM tier_assignments")
    assert [row["clear_reason"] for row in cleared] == ["the tier was retired"]
    assert tier_status["assignment"] is None
    assert tier_status["tier"] is None


async def test_parallel_assignments_leave_exactly_one_in_force(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)

    results = await asyncio.gather(
        *(assign(api, member["id"], "Gold" if n % 2 else "Silver", f"p-{n}") for n in range(8))
    )

    assert [r["userErrors"] for r in results] == [[]] * 8
    assert await count("SELECT COUNT(*) AS n FROM tier_assignments") == 8
    live = await rows("SELECT tier_id FROM tier_assignments WHERE cleared_at IS NULL")
    assert len(live) == 1
    final = await status(api, member["id"])
    assert final["assignment"] is not None
    assert final["tier"] == {"name": final["assignment"]["tierName"]}
    history = changes(final)
    assert all(reason == "MANUAL" for _, _, reason, _ in history)
    for newer, older in itertools.pairwise(history):
        assert newer[0] == older[1]


async def test_the_database_refuses_a_second_live_assignment_of_a_member(
    api: Api, clock: ManualClock
) -> None:
    await create_program(api)
    await configure(api)
    member = await enroll(api)
    await assign(api, member["id"], "Gold", "a-1")
    copy = (
        "INSERT INTO tier_assignments (program_id, member_id, tier_id, locked_until, reason,"
        " assigned_at) SELECT program_id, member_id, tier_id, locked_until, reason, assigned_at"
        " FROM tier_assignments"
    )

    with pytest.raises(IntegrityError):
        async with in_transaction() as conn:
            await execute(conn, copy)
    # A cleared one does not count.
    async with in_transaction() as conn:
        await execute(conn, "UPDATE tier_assignments SET cleared_at = ?", (clock.now(),))
        await execute(conn, copy)
    assert await count("SELECT COUNT(*) AS n FROM tier_assignments") == 2
