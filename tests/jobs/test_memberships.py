"""Paid memberships: plans, the subscription events (idempotent), the trial and welcome reward
once, the tier floor and multiplier while active, and the job ending memberships on time."""

from __future__ import annotations

import asyncio
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
from app.services.memberships import service as memberships_service
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, create_reward, enroll, program_key, record_order
from tests.graphql.helpers import codes, snapshot
from tests.graphql.tiers.test_tiers import STATUS, configure
from tests.jobs.helpers import T0, count, run

UPSERT_PLAN = """
mutation($input: UpsertMembershipPlanInput!) {
  upsertMembershipPlan(input: $input) {
    plan {
      id code name feeMinor currency interval trialDays graceDays tierName earnMultiplier perks
      welcomeReward { id }
    }
    userErrors { field message code }
  }
}"""

MEMBERSHIP_FIELDS = """
membership {
  id status startedAt currentPeriodStart currentPeriodEnd cancelAtPeriodEnd endsAt endedAt
  endReason plan { code } welcomeRedemption { code }
}
userErrors { field message code }"""

EVENTS = {
    "start": ("startMembership", "StartMembershipInput"),
    "renew": ("renewMembership", "MembershipEventInput"),
    "cancel": ("cancelMembership", "CancelMembershipInput"),
    "failed": ("membershipPaymentFailed", "MembershipEventInput"),
}

MEMBERSHIPS = """
query($id: ID!) { member(id: $id) { memberships { status endReason endedAt plan { code } } } }"""

VIP = {
    "code": "vip",
    "name": "VIP club",
    "feeMinor": 990,
    "currency": "EUR",
    "interval": "MONTHLY",
    "trialDays": 14,
    "graceDays": 3,
    "tierName": "Gold",
    "earnMultiplier": "2",
    "perks": ["free shipping", "early access"],
}


async def plan(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api.data(UPSERT_PLAN, {"input": {"programSlug": "shop", **VIP, **fields}})
    payload: dict[str, Any] = data["upsertMembershipPlan"]
    return payload


async def event(
    api: Api, kind: str, key: str, customer_id: str = "cust-1", **fields: Any
) -> dict[str, Any]:
    name, input_type = EVENTS[kind]
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {MEMBERSHIP_FIELDS} }} }}"
    variables = {
        "input": {
            "programSlug": "shop",
            "customerId": customer_id,
            "planCode": "vip",
            "idempotencyKey": key,
            **fields,
        }
    }
    data = await api.data(query, variables)
    payload: dict[str, Any] = data[name]
    return payload


async def shop_with_vip(api: Api) -> dict[str, Any]:
    await create_program(api)
    await configure(api)  # Silver at 100.00 EUR, Gold (1.5x, 200 entry points) at 500.00 EUR
    reward = await create_reward(api, cost_points=300, name="Welcome mug")
    created = await plan(api, welcomeRewardId=reward["id"])
    assert created["userErrors"] == []
    member: dict[str, Any] = await enroll(api)
    return member


async def tier_of(api: Api, member_id: str) -> tuple[str | None, list[tuple[Any, Any, str]]]:
    data = await api.data(STATUS, {"id": member_id})
    status = data["member"]["tierStatus"]
    history = [(h["fromTier"], h["toTier"], h["reason"]) for h in status["history"]]
    return (None if status["tier"] is None else status["tier"]["name"]), history


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def test_plans_are_checked_and_changed_by_code(api: Api) -> None:
    await create_program(api)
    await configure(api)
    before = await snapshot()

    unknown_tier = await plan(api, tierName="Platinum")
    bad = await plan(api, currency="XXX", earnMultiplier="0.9", trialDays=-1)
    unchanged = await snapshot()
    created = await plan(api)
    changed = await plan(api, feeMinor=1290, perks=["early access"])

    assert codes(unknown_tier["userErrors"]) == ["TIER_NOT_FOUND"]
    assert sorted(codes(bad["userErrors"])) == [
        "INVALID_VALUE",
        "INVALID_VALUE",
        "UNKNOWN_CURRENCY",
    ]
    assert unchanged == before
    assert created["plan"]["tierName"] == "Gold"
    assert created["plan"]["earnMultiplier"] == "2.00"
    assert created["plan"]["perks"] == ["early access", "free shipping"]
    assert changed["plan"]["id"] == created["plan"]["id"]
    assert (changed["plan"]["feeMinor"], changed["plan"]["perks"]) == (1290, ["early access"])


async def test_first_upserts_of_one_plan_at_once_all_succeed_into_one_plan(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    await configure(api)
    # All twenty pass their checks before any of them writes.
    everyone_checked = asyncio.Barrier(20)
    real_require_program = memberships_service.require_program  # type: ignore[attr-defined]

    async def require_program_together(*args: Any, **kwargs: Any) -> Any:
        program = await real_require_program(*args, **kwargs)
        await everyone_checked.wait()
        return program

    monkeypatch.setattr(memberships_service, "require_program", require_program_together)

    async with asyncio.timeout(60):  # a request failing before the barrier holds the others
        answers = await asyncio.gather(*(plan(api, feeMinor=1000 + n) for n in range(20)))

    assert [answer["userErrors"] for answer in answers] == [[]] * 20
    assert len({answer["plan"]["id"] for answer in answers}) == 1
    assert await count("SELECT COUNT(*) AS n FROM membership_plans WHERE code = 'vip'") == 1
    fees = {answer["plan"]["feeMinor"] for answer in answers}
    assert fees <= set(range(1000, 1020))


async def test_a_trial_gives_the_tier_floor_the_multiplier_and_the_welcome_reward_at_once(
    api: Api, clock: ManualClock
) -> None:
    member = await shop_with_vip(api)

    started = await event(api, "start", "start-1")
    replayed = await event(api, "start", "start-1")
    reused = await event(api, "start", "start-1", skipTrial=True)
    tier = await tier_of(api, member["id"])
    earned = await record_order(
        api, unit_price_minor=10_000, quantity=1, placedAt=clock.now().isoformat()
    )

    membership = started["membership"]
    assert started["userErrors"] == []
    assert membership["status"] == "TRIALING"
    assert membership["currentPeriodEnd"] == iso(T0 + timedelta(days=14))
    assert membership["endsAt"] == iso(T0 + timedelta(days=14))
    assert membership["welcomeRedemption"]["code"]
    assert replayed["membership"] == membership
    assert codes(reused["userErrors"]) == ["IDEMPOTENCY_KEY_REUSED"]
    # Gold by the membership's floor: entering it gives its entry points like any entry.
    assert tier == ("Gold", [(None, "Gold", "MEMBERSHIP")])
    assert (
        await count("SELECT COUNT(*) AS n FROM ledger_transactions WHERE kind = 'TIER_REWARD'") == 1
    )
    # The plan's 2x beats Gold's 1.5x; they do not compound.
    assert earned["order"]["pointsEarned"] == 200
    assert await count("SELECT COUNT(*) AS n FROM memberships") == 1
    assert await verify_ledger() == []


async def test_one_live_membership_per_plan_and_one_trial_and_welcome_per_member_ever(
    api: Api, clock: ManualClock
) -> None:
    await shop_with_vip(api)
    await event(api, "start", "start-1")

    twice = await event(api, "start", "start-2")
    cancelled = await event(api, "cancel", "cancel-1", mode="NOW")
    again = await event(api, "start", "start-3")

    assert codes(twice["userErrors"]) == ["MEMBERSHIP_ALREADY_ACTIVE"]
    assert cancelled["membership"]["status"] == "ENDED"
    assert cancelled["membership"]["endReason"] == "CANCELLED"
    assert again["membership"]["status"] == "ACTIVE"
    assert again["membership"]["currentPeriodEnd"] == iso(datetime(2030, 2, 7, 12, tzinfo=UTC))
    assert again["membership"]["endsAt"] == iso(datetime(2030, 2, 10, 12, tzinfo=UTC))
    assert again["membership"]["welcomeRedemption"] is None
    assert await count("SELECT COUNT(*) AS n FROM redemptions") == 1


async def test_events_for_a_member_without_a_live_membership_are_refused(
    api: Api, clock: ManualClock
) -> None:
    await shop_with_vip(api)
    before = await snapshot()

    renew = await event(api, "renew", "renew-1")
    failed = await event(api, "failed", "failed-1")
    unknown_plan = await event(api, "start", "start-x", planCode="gold-club")
    stranger = await event(api, "start", "start-y", customer_id="nobody")

    assert codes(renew["userErrors"]) == ["MEMBERSHIP_NOT_FOUND"]
    assert codes(failed["userErrors"]) == ["MEMBERSHIP_NOT_FOUND"]
    assert codes(unknown_plan["userErrors"]) == ["MEMBERSHIP_PLAN_NOT_FOUND"]
    assert codes(stranger["userErrors"]) == ["MEMBER_NOT_FOUND"]
    assert await snapshot() == before


async def test_renewals_extend_from_the_trial_end_and_a_failed_payment_ends_after_the_grace(
    api: Api, clock: ManualClock
) -> None:
    member = await shop_with_vip(api)
    await event(api, "start", "start-1")
    clock.advance(timedelta(days=10))

    renewed = await event(api, "renew", "renew-1")
    clock.set(datetime(2030, 2, 21, 12, tzinfo=UTC))  # the paid month ends on 21 February
    failed = await event(api, "failed", "failed-1")
    clock.set(datetime(2030, 2, 24, 11, 59, tzinfo=UTC))
    early = (await run(JobName.MEMBERSHIPS, clock)).summary
    still_gold = await tier_of(api, member["id"])
    clock.set(datetime(2030, 2, 25, 9, tzinfo=UTC))
    on_time = (await run(JobName.MEMBERSHIPS, clock)).summary
    rerun = (await run(JobName.MEMBERSHIPS, clock)).summary
    after = await tier_of(api, member["id"])
    memberships = (await api.data(MEMBERSHIPS, {"id": member["id"]}))["member"]["memberships"]

    assert renewed["membership"]["status"] == "ACTIVE"
    assert renewed["membership"]["currentPeriodStart"] == iso(T0 + timedelta(days=14))
    assert renewed["membership"]["currentPeriodEnd"] == iso(datetime(2030, 2, 21, 12, tzinfo=UTC))
    assert failed["membership"]["status"] == "PAST_DUE"
    assert failed["membership"]["endsAt"] == iso(datetime(2030, 2, 24, 12, tzinfo=UTC))
    assert early == {"memberships": 0}
    assert still_gold[0] == "Gold"
    assert on_time == {"memberships": 1}
    assert rerun == {"memberships": 0}
    assert memberships == [
        {
            "status": "ENDED",
            "endReason": "PAYMENT_FAILED",
            "endedAt": iso(datetime(2030, 2, 24, 12, tzinfo=UTC)),
            "plan": {"code": "vip"},
        }
    ]
    assert after == (None, [("Gold", None, "MEMBERSHIP"), (None, "Gold", "MEMBERSHIP")])


async def test_a_cancellation_at_period_end_keeps_benefits_until_then_and_earned_tiers_stay(
    api: Api, clock: ManualClock
) -> None:
    member = await shop_with_vip(api)
    await event(api, "start", "start-1", skipTrial=True)
    await record_order(api, unit_price_minor=15_000, quantity=1, placedAt=clock.now().isoformat())

    cancelled = await event(api, "cancel", "cancel-1")
    clock.set(datetime(2030, 2, 7, 12, tzinfo=UTC))
    ended = (await run(JobName.MEMBERSHIPS, clock)).summary
    after = await tier_of(api, member["id"])

    assert cancelled["membership"]["cancelAtPeriodEnd"] is True
    assert cancelled["membership"]["endsAt"] == iso(datetime(2030, 2, 7, 12, tzinfo=UTC))
    assert ended == {"memberships": 1}
    # 150.00 EUR spent this year (300 points at 2x) keeps Silver once Gold's floor is gone.
    assert after[0] == "Silver"
    assert after[1][0] == ("Gold", "Silver", "MEMBERSHIP")


async def test_parallel_starts_make_one_membership(api: Api, clock: ManualClock) -> None:
    await shop_with_vip(api)

    results = await asyncio.gather(*(event(api, "start", f"start-{n}") for n in range(12)))

    errors = sorted(code for r in results for code in codes(r["userErrors"]))
    assert errors == ["MEMBERSHIP_ALREADY_ACTIVE"] * 11
    assert await count("SELECT COUNT(*) AS n FROM memberships") == 1
    assert await count("SELECT COUNT(*) AS n FROM redemptions") == 1
    assert await verify_ledger() == []


async def test_the_database_refuses_a_second_live_membership_of_a_plan(
    api: Api, clock: ManualClock
) -> None:
    await shop_with_vip(api)
    await event(api, "start", "start-1")
    now = clock.now()

    with pytest.raises(IntegrityError):
        async with in_transaction() as conn:
            await execute(
                conn,
                "INSERT INTO memberships (program_id, member_id, plan_id, status, started_at,"
                " current_period_start, current_period_end, cancel_at_period_end, ends_at,"
                " created_at, updated_at) SELECT program_id, member_id, plan_id, 'ACTIVE', ?, ?,"
                " ?, ?, ?, ?, ? FROM memberships",
                (now, now, now, False, now, now, now),
            )
    # An ended one does not count: the member may hold the plan again.
    async with in_transaction() as conn:
        await execute(conn, "UPDATE memberships SET ended_at = ?", (now,))
        await execute(
            conn,
            "INSERT INTO memberships (program_id, member_id, plan_id, status, started_at,"
            " current_period_start, current_period_end, cancel_at_period_end, ends_at,"
            " created_at, updated_at) SELECT program_id, member_id, plan_id, 'ACTIVE', ?, ?,"
            " ?, ?, ?, ?, ? FROM memberships",
            (now, now, now, False, now, now, now),
        )
    assert await count("SELECT COUNT(*) AS n FROM memberships") == 2


async def test_memberships_and_plans_are_nodes_of_their_program_only(
    api: Api, clock: ManualClock
) -> None:
    await shop_with_vip(api)
    await create_program(api, "other")
    started = await event(api, "start", "start-1")
    other_key = await program_key("other")
    query = """
    query($id: ID!) {
      node(id: $id) { id ... on Membership { status plan { id code } } }
    }"""

    as_admin = await api.data(query, {"id": started["membership"]["id"]})
    as_other = await api.data(query, {"id": started["membership"]["id"]}, key=other_key)
    plan_id = as_admin["node"]["plan"]["id"]
    plan_node = await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": plan_id})

    assert as_admin["node"]["status"] == "TRIALING"
    assert as_admin["node"]["plan"]["code"] == "vip"
    assert as_other["node"] is None
    assert plan_node["node"] == {"id": plan_id}


async def test_a_publishable_key_cannot_report_subscription_events(
    api: Api, clock: ManualClock
) -> None:
    await shop_with_vip(api)
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    before = await snapshot()
    name, input_type = EVENTS["start"]
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {MEMBERSHIP_FIELDS} }} }}"

    data = await api.data(
        query,
        {
            "input": {
                "programSlug": "shop",
                "customerId": "cust-1",
                "planCode": "vip",
                "idempotencyKey": "k",
            }
        },
        key=publishable,
    )

    assert codes(data["startMembership"]["userErrors"]) == ["FORBIDDEN"]
    assert await snapshot() == before
