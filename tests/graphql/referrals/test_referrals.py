"""Referrals: codes and links, every state, every fraud rule, rewards that follow the ledger."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from app import clock
from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.jobs.maturing import mature_due_points
from app.jobs.referrals import settle_referral_rewards
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    member_status,
    program_key,
    record_order,
)
from tests.graphql.helpers import codes, rows, snapshot, top_level_codes

SETTINGS = """
mutation($input: UpdateReferralSettingsInput!) {
  updateReferralSettings(input: $input) {
    settings {
      enabled urlTemplate referrerLimit referrerLimitPeriod ipWeeklyThreshold attachWindowDays
      referrer { points trigger minimumOrderMinor maxOrders }
      friend { points trigger minimumOrderMinor maxOrders }
    }
    userErrors { field message code }
  }
}"""

REFERRAL_FIELDS = """
  id state rejectionReason holdReason source friendCustomerId friendEmail reviewNote
  signedUpAt qualifiedAt rewardedAt heldAt rejectedAt
  referrer { customerId } friend { customerId points { available pending } }
  rewards { side points status orderId }
"""

ENROLL = f"""
mutation($input: EnrollMemberInput!) {{
  enrollMember(input: $input) {{
    member {{ id customerId points {{ available pending }} }}
    referral {{ {REFERRAL_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

RECORD = f"""
mutation($input: RecordReferralInput!) {{
  recordReferral(input: $input) {{
    referral {{ {REFERRAL_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

APPROVE = f"""
mutation($input: ReviewReferralInput!) {{
  approveReferral(input: $input) {{
    referral {{ {REFERRAL_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

REJECT = f"""
mutation($input: ReviewReferralInput!) {{
  rejectReferral(input: $input) {{
    referral {{ {REFERRAL_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""

NODE = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Referral {{ {REFERRAL_FIELDS} }} }} }}"""

CODE = """
query($id: ID!) {
  member(id: $id) {
    referralCode referralLink
    referrals(first: 10) { edges { node { state friendCustomerId } } pageInfo { hasNextPage } }
    referredBy { state referrer { customerId } }
  }
}"""

LIST = """
query($slug: String!, $state: ReferralState) {
  referrals(programSlug: $slug, state: $state, first: 10) {
    edges { node { state rejectionReason friendCustomerId } }
    pageInfo { hasNextPage endCursor }
  }
}"""

STATS = """
query($slug: String!, $from: DateTime!, $to: DateTime!) {
  referralStats(programSlug: $slug, from: $from, to: $to) {
    invitations signUps qualified conversionRate pointsPaid pointsPending pointsCancelled
    heldByReason { reason count }
    rejectedByReason { reason count }
    topAdvocates { member { customerId } qualifiedReferrals pointsEarned }
  }
}"""

REFUND = """
mutation($input: RefundOrderInput!) {
  refundOrder(input: $input) { order { status } pointsReversed userErrors { code } }
}"""

TEMPLATE = "https://shop.test/invite/{code}"


def now_iso(days: float = 0) -> str:
    return (utc_now() + timedelta(days=days)).isoformat()


async def configure(api: Api, slug: str = "shop", **overrides: Any) -> dict[str, Any]:
    """Referrer: 500 points for the friend's first order of 20.00 or more; friend: 100 points
    for signing up."""
    values: dict[str, Any] = {
        "programSlug": slug,
        "enabled": True,
        "urlTemplate": TEMPLATE,
        "referrer": {"points": 500, "trigger": "FIRST_ORDER", "minimumOrderMinor": 2000},
        "friend": {"points": 100, "trigger": "SIGNUP"},
        **overrides,
    }
    data = await api.data(SETTINGS, {"input": values})
    payload: dict[str, Any] = data["updateReferralSettings"]
    return payload


async def setup(api: Api, pending_days: int = 0, **overrides: Any) -> tuple[dict[str, Any], str]:
    """A program with referrals on and a referrer; returns the referrer and their code."""
    await create_program(api, pendingDays=pending_days)
    configured = await configure(api, **overrides)
    assert configured["userErrors"] == []
    referrer = await enroll(api, customer_id="alice", email="alice@example.org")
    return referrer, await code_of(api, referrer["id"])


async def code_of(api: Api, member_id: str) -> str:
    data = await api.data(CODE, {"id": member_id})
    code: str = data["member"]["referralCode"]
    return code


async def enroll_with(api: Api, customer_id: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(
        ENROLL, {"input": {"programSlug": "shop", "customerId": customer_id, **fields}}
    )
    payload: dict[str, Any] = data["enrollMember"]
    return payload


async def record_referral(api: Api, code: str, key: str, **fields: Any) -> dict[str, Any]:
    values = {"programSlug": "shop", "referralCode": code, "idempotencyKey": key, **fields}
    data = await api.data(RECORD, {"input": values})
    payload: dict[str, Any] = data["recordReferral"]
    return payload


async def referral(api: Api, referral_id: str) -> dict[str, Any]:
    data = await api.data(NODE, {"id": referral_id})
    node: dict[str, Any] = data["node"]
    return node


async def review(api: Api, document: str, referral_id: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(document, {"input": {"id": referral_id, **fields}})
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def points(api: Api, member_id: str) -> dict[str, Any]:
    status = await member_status(api, member_id)
    return {"available": status["points"]["available"], "pending": status["points"]["pending"]}


async def event_types(prefix: str = "referral.") -> list[str]:
    found = await rows("SELECT type FROM outbox_events ORDER BY id")
    return [row["type"] for row in found if row["type"].startswith(prefix)]


# --- codes and links --------------------------------------------------------------------------


async def test_every_member_has_a_stable_unique_code_and_a_link(api: Api) -> None:
    referrer, code = await setup(api)
    other = await enroll(api, customer_id="bob")

    again = await api.data(CODE, {"id": referrer["id"]})
    other_code = await code_of(api, other["id"])

    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", code)
    assert again["member"]["referralCode"] == code
    assert again["member"]["referralLink"] == f"https://shop.test/invite/{code}"
    assert other_code != code
    stored = await rows("SELECT COUNT(*) AS n FROM referral_codes")
    assert int(stored[0]["n"]) == 2


async def test_members_of_a_program_without_referrals_have_no_code(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    data = await api.data(CODE, {"id": member["id"]})

    assert (data["member"]["referralCode"], data["member"]["referralLink"]) == (None, None)


async def test_a_typed_code_is_forgiven_case_and_dashes(api: Api) -> None:
    _, code = await setup(api)

    joined = await enroll_with(api, "friend", referralCode=f" {code[:4].lower()}-{code[4:]} ")

    assert joined["userErrors"] == []
    assert joined["referral"]["state"] == "SIGNED_UP"


# --- the life of a referral -------------------------------------------------------------------


async def test_signup_then_qualifying_order_then_reward_matures_after_the_return_window(
    api: Api,
) -> None:
    referrer, code = await setup(api, pending_days=14)

    joined = await enroll_with(api, "friend", referralCode=code, email="friend@example.org")
    small = await record_order(
        api, customer_id="friend", order_id="f-1", unit_price_minor=500, placedAt=now_iso()
    )
    after_small = await referral(api, joined["referral"]["id"])
    await record_order(
        api, customer_id="friend", order_id="f-2", unit_price_minor=1500, placedAt=now_iso()
    )
    qualified = await referral(api, joined["referral"]["id"])
    pending = await points(api, referrer["id"])
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=13))):
        early = await mature_due_points(clock.current().now())
        early_settled = await settle_referral_rewards(clock.current().now())
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=15))):
        matured = await mature_due_points(clock.current().now())
        settled = await settle_referral_rewards(clock.current().now())
        rerun = await settle_referral_rewards(clock.current().now())
    rewarded = await referral(api, joined["referral"]["id"])

    assert joined["userErrors"] == []
    assert joined["member"]["points"] == {"available": 100, "pending": 0}
    assert joined["referral"]["state"] == "SIGNED_UP"
    assert joined["referral"]["source"] == "ENROLMENT"
    assert joined["referral"]["rewards"] == [
        {"side": "FRIEND", "points": 100, "status": "PAID", "orderId": None}
    ]
    assert small["order"]["pointsEarned"] == 10
    assert after_small["state"] == "SIGNED_UP"
    assert qualified["state"] == "QUALIFIED"
    assert qualified["qualifiedAt"] is not None
    assert [r["status"] for r in qualified["rewards"]] == ["PAID", "PENDING"]
    assert pending == {"available": 0, "pending": 500}
    assert (early, early_settled) == (0, {"rewards": 0})
    assert matured == 3  # the friend's two orders and the referrer's reward
    assert (settled, rerun) == ({"rewards": 1}, {"rewards": 0})
    assert rewarded["state"] == "REWARDED"
    assert rewarded["rewards"][1]["status"] == "PAID"
    assert await points(api, referrer["id"]) == {"available": 500, "pending": 0}
    assert await event_types() == [
        "referral.created",
        "referral.signed_up",
        "referral.qualified",
        "referral.rewarded",
    ]
    assert await verify_ledger() == []


async def test_the_referral_job_settles_a_reward_even_before_maturing_runs(api: Api) -> None:
    referrer, code = await setup(api, pending_days=14)
    joined = await enroll_with(api, "friend", referralCode=code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())

    with clock.using(clock.ManualClock(utc_now() + timedelta(days=15))):
        settled = await settle_referral_rewards(clock.current().now())
        matured_after = await mature_due_points(clock.current().now())

    assert settled == {"rewards": 1}
    assert matured_after == 1  # only the friend's order was left
    assert (await referral(api, joined["referral"]["id"]))["state"] == "REWARDED"
    assert await points(api, referrer["id"]) == {"available": 500, "pending": 0}
    assert await verify_ledger() == []


async def test_a_refund_of_the_qualifying_order_cancels_the_pending_reward(api: Api) -> None:
    referrer, code = await setup(api, pending_days=14)
    joined = await enroll_with(api, "friend", referralCode=code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())

    refunded = await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r1"}}
    )
    after = await referral(api, joined["referral"]["id"])
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=15))):
        await mature_due_points(clock.current().now())
        settled = await settle_referral_rewards(clock.current().now())

    assert refunded["refundOrder"]["order"]["status"] == "REFUNDED"
    assert after["state"] == "REJECTED"
    assert after["rejectionReason"] == "QUALIFYING_ORDER_REFUNDED"
    assert [r["status"] for r in after["rewards"]] == ["PAID", "CANCELLED"]
    assert settled == {"rewards": 0}
    assert await points(api, referrer["id"]) == {"available": 0, "pending": 0}
    assert await verify_ledger() == []


async def test_a_partial_refund_or_a_refund_after_the_window_keeps_the_reward(api: Api) -> None:
    referrer, code = await setup(api, pending_days=14)
    await enroll_with(api, "friend", referralCode=code)
    await record_order(api, customer_id="friend", unit_price_minor=1500, placedAt=now_iso())
    partial = await api.data(
        REFUND,
        {
            "input": {
                "programSlug": "shop",
                "orderId": "order-1",
                "idempotencyKey": "r1",
                "lines": [{"lineIndex": 0, "quantity": 1}],
            }
        },
    )
    kept_pending = await points(api, referrer["id"])
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=15))):
        await mature_due_points(clock.current().now())
        await api.data(
            REFUND,
            {"input": {"programSlug": "shop", "orderId": "order-1", "idempotencyKey": "r2"}},
        )

    assert partial["refundOrder"]["order"]["status"] == "PARTIALLY_REFUNDED"
    assert kept_pending == {"available": 0, "pending": 500}
    assert await points(api, referrer["id"]) == {"available": 500, "pending": 0}
    listed = await api.data(LIST, {"slug": "shop", "state": "REWARDED"})
    assert len(listed["referrals"]["edges"]) == 1
    assert await verify_ledger() == []


async def test_a_signup_trigger_rewards_both_sides_at_once(api: Api) -> None:
    referrer, code = await setup(api, referrer={"points": 300, "trigger": "SIGNUP"})

    joined = await enroll_with(api, "friend", referralCode=code)

    assert joined["referral"]["state"] == "REWARDED"
    assert joined["referral"]["qualifiedAt"] is not None
    assert joined["member"]["points"]["available"] == 100
    assert await points(api, referrer["id"]) == {"available": 300, "pending": 0}
    assert await verify_ledger() == []


async def test_each_order_rewards_up_to_the_limit(api: Api) -> None:
    referrer, code = await setup(
        api,
        referrer={"points": 50, "trigger": "EACH_ORDER", "maxOrders": 2},
        friend={"points": 20, "trigger": "FIRST_ORDER", "minimumOrderMinor": 1000},
    )
    joined = await enroll_with(api, "friend", referralCode=code)

    for n in range(3):
        await record_order(api, customer_id="friend", order_id=f"o-{n}")

    after = await referral(api, joined["referral"]["id"])
    assert joined["member"]["points"]["available"] == 0
    assert after["state"] == "REWARDED"
    assert sorted((r["side"], r["points"]) for r in after["rewards"]) == [
        ("FRIEND", 20),
        ("REFERRER", 50),
        ("REFERRER", 50),
    ]
    assert await points(api, referrer["id"]) == {"available": 100, "pending": 0}
    assert await verify_ledger() == []


async def test_an_invitation_becomes_a_sign_up_when_the_friend_enrols(api: Api) -> None:
    referrer, code = await setup(api)

    invited = await record_referral(api, code, "inv-1", friendEmail="Jo.Friend+shop@gmail.com")
    replay = await record_referral(api, code, "inv-1", friendEmail="Jo.Friend+shop@gmail.com")
    joined = await enroll_with(api, "jo", email="jofriend@googlemail.com")
    after = await referral(api, invited["referral"]["id"])
    status = await api.data(CODE, {"id": joined["member"]["id"]})
    made = await api.data(CODE, {"id": referrer["id"]})

    assert invited["referral"]["state"] == "INVITED"
    assert invited["referral"]["friend"] is None
    assert replay["referral"]["id"] == invited["referral"]["id"]
    assert joined["member"]["points"]["available"] == 100
    assert after["state"] == "SIGNED_UP"
    assert after["friend"]["customerId"] == "jo"
    assert status["member"]["referredBy"] == {
        "state": "SIGNED_UP",
        "referrer": {"customerId": "alice"},
    }
    assert made["member"]["referrals"]["edges"] == [
        {"node": {"state": "SIGNED_UP", "friendCustomerId": None}}
    ]
    assert await verify_ledger() == []


async def test_a_recent_member_without_orders_can_be_attached(api: Api) -> None:
    _, code = await setup(api)
    friend = await enroll(api, customer_id="friend")

    attached = await record_referral(api, code, "a1", friendCustomerId="friend")

    assert attached["referral"]["state"] == "SIGNED_UP"
    assert attached["referral"]["source"] == "RECORDED"
    assert await points(api, friend["id"]) == {"available": 100, "pending": 0}


# --- fraud rules ------------------------------------------------------------------------------


async def test_self_referral_by_customer_id_is_rejected(api: Api) -> None:
    referrer, code = await setup(api)

    refused = await record_referral(api, code, "s1", friendCustomerId="alice")

    assert refused["userErrors"] == []
    assert refused["referral"]["state"] == "REJECTED"
    assert refused["referral"]["rejectionReason"] == "SELF_REFERRAL"
    assert await points(api, referrer["id"]) == {"available": 0, "pending": 0}


async def test_self_referral_by_normalised_email_is_rejected_and_the_member_still_enrols(
    api: Api,
) -> None:
    await create_program(api)
    await configure(api)
    referrer = await enroll(api, customer_id="jane", email="janedoe@gmail.com")
    code = await code_of(api, referrer["id"])

    joined = await enroll_with(
        api, "jane-2", email="Jane.Doe+promo@GoogleMail.com", referralCode=code
    )

    assert joined["userErrors"] == []
    assert joined["member"]["points"]["available"] == 0
    assert joined["referral"]["state"] == "REJECTED"
    assert joined["referral"]["rejectionReason"] == "SELF_REFERRAL"


async def test_a_friend_who_already_had_orders_is_rejected(api: Api) -> None:
    _, code = await setup(api)
    await enroll(api, customer_id="buyer")
    await record_order(api, customer_id="buyer")

    refused = await record_referral(api, code, "h1", friendCustomerId="buyer")

    assert refused["referral"]["rejectionReason"] == "FRIEND_HAD_ORDERS"


async def test_a_friend_who_was_a_member_before_the_window_is_rejected(api: Api) -> None:
    _, code = await setup(api)
    await enroll(api, customer_id="old-timer", email="old@example.org")

    with clock.using(clock.ManualClock(utc_now() + timedelta(days=8))):
        by_id = await record_referral(api, code, "m1", friendCustomerId="old-timer")
        by_email = await record_referral(api, code, "m2", friendEmail="OLD@example.org")

    assert by_id["referral"]["rejectionReason"] == "FRIEND_ALREADY_MEMBER"
    assert by_email["referral"]["rejectionReason"] == "FRIEND_ALREADY_MEMBER"


async def test_a_second_referral_of_the_same_friend_is_rejected(api: Api) -> None:
    _, code = await setup(api)
    bob = await enroll(api, customer_id="bob")
    bob_code = await code_of(api, bob["id"])

    first = await record_referral(api, code, "d1", friendCustomerId="newbie")
    second = await record_referral(api, bob_code, "d2", friendCustomerId="newbie")
    joined = await enroll_with(api, "newbie", referralCode=bob_code)

    assert first["referral"]["state"] == "INVITED"
    assert second["referral"]["rejectionReason"] == "ALREADY_REFERRED"
    assert joined["referral"]["referrer"]["customerId"] == "alice"
    assert joined["referral"]["state"] == "SIGNED_UP"
    rejected = await api.data(LIST, {"slug": "shop", "state": "REJECTED"})
    assert [e["node"]["rejectionReason"] for e in rejected["referrals"]["edges"]] == [
        "ALREADY_REFERRED",
        "ALREADY_REFERRED",
    ]
    assert (await points(api, joined["member"]["id"]))["available"] == 100


async def test_a_chain_that_loops_back_is_rejected(api: Api) -> None:
    alice, alice_code = await setup(api)
    bob = await enroll(api, customer_id="bob")
    carol = await enroll(api, customer_id="carol")
    bob_code = await code_of(api, bob["id"])
    carol_code = await code_of(api, carol["id"])

    a_b = await record_referral(api, alice_code, "l1", friendCustomerId="bob")
    b_c = await record_referral(api, bob_code, "l2", friendCustomerId="carol")
    c_a = await record_referral(api, carol_code, "l3", friendCustomerId="alice")

    assert [a_b["referral"]["state"], b_c["referral"]["state"]] == ["SIGNED_UP", "SIGNED_UP"]
    assert c_a["referral"]["rejectionReason"] == "REFERRAL_LOOP"
    assert await points(api, alice["id"]) == {"available": 0, "pending": 0}


async def test_beyond_the_referrer_limit_referrals_are_held_and_approval_pays_what_they_earned(
    api: Api,
) -> None:
    referrer, code = await setup(api, referrerLimit=1, referrerLimitPeriod="MONTH")
    first = await enroll_with(api, "f1", referralCode=code)

    held = await enroll_with(api, "f2", referralCode=code)
    await record_order(api, customer_id="f2", unit_price_minor=1500)
    while_held = await points(api, referrer["id"])
    approved = await review(api, APPROVE, held["referral"]["id"], idempotencyKey="ap-1", note="ok")
    replay = await review(api, APPROVE, held["referral"]["id"], idempotencyKey="ap-1", note="ok")
    again = await review(api, APPROVE, held["referral"]["id"], idempotencyKey="ap-2")

    assert first["referral"]["state"] == "SIGNED_UP"
    assert held["referral"]["state"] == "HELD"
    assert held["referral"]["holdReason"] == "REFERRER_LIMIT"
    assert held["member"]["points"]["available"] == 0
    assert while_held == {"available": 0, "pending": 0}
    assert approved["userErrors"] == []
    assert approved["referral"]["state"] == "REWARDED"
    assert approved["referral"]["reviewNote"] == "ok"
    assert approved["referral"]["friend"]["points"]["available"] == 100 + 30
    assert replay["referral"]["state"] == "REWARDED"
    assert codes(again["userErrors"]) == ["REFERRAL_NOT_HELD"]
    assert await points(api, referrer["id"]) == {"available": 500, "pending": 0}
    assert await verify_ledger() == []


async def test_a_shared_signal_holds_the_referral_and_a_rejection_pays_nothing(api: Api) -> None:
    await create_program(api)
    await configure(api)
    referrer = await enroll_with(api, "alice", signals={"deviceId": "dev-1"})
    code = await code_of(api, referrer["member"]["id"])

    held = await enroll_with(api, "friend", referralCode=code, signals={"deviceId": " DEV-1 "})
    rejected = await review(api, REJECT, held["referral"]["id"], note="same phone")

    assert held["referral"]["state"] == "HELD"
    assert held["referral"]["holdReason"] == "SHARED_SIGNAL"
    assert rejected["referral"]["state"] == "REJECTED"
    assert rejected["referral"]["rejectionReason"] == "REJECTED_BY_ADMIN"
    assert rejected["referral"]["friend"]["points"]["available"] == 0
    stored = await rows("SELECT kind, value_hash FROM member_signals ORDER BY id")
    assert [row["kind"] for row in stored] == ["DEVICE_ID", "DEVICE_ID"]
    assert stored[0]["value_hash"] == stored[1]["value_hash"]
    assert re.fullmatch("[0-9a-f]{64}", stored[0]["value_hash"])
    assert await verify_ledger() == []


async def test_a_shared_signal_sent_with_record_referral_holds_it(api: Api) -> None:
    _, code = await setup(api)

    held = await record_referral(
        api,
        code,
        "sig-1",
        friendEmail="pal@example.org",
        friendSignals={"paymentFingerprint": "card-42"},
        referrerSignals={"paymentFingerprint": "card-42"},
    )

    joined = await enroll_with(api, "pal", email="pal@example.org")
    still_held = await referral(api, held["referral"]["id"])
    approved = await review(api, APPROVE, held["referral"]["id"], idempotencyKey="ok-1")

    assert (held["referral"]["state"], held["referral"]["holdReason"]) == (
        "HELD",
        "SHARED_SIGNAL",
    )
    assert joined["member"]["points"]["available"] == 0
    assert (still_held["state"], still_held["friend"]["customerId"]) == ("HELD", "pal")
    assert approved["referral"]["state"] == "SIGNED_UP"
    assert approved["referral"]["friend"]["points"]["available"] == 100
    assert await event_types() == [
        "referral.created",
        "referral.held",
        "referral.approved",
    ]
    assert await verify_ledger() == []


async def test_the_code_of_the_inviter_at_enrolment_is_the_same_referral(api: Api) -> None:
    referrer, code = await setup(api, referrer={"points": 300, "trigger": "SIGNUP"})
    invited = await record_referral(api, code, "inv", friendCustomerId="friend")

    joined = await enroll_with(api, "friend", referralCode=code)

    assert joined["referral"]["id"] == invited["referral"]["id"]
    assert joined["referral"]["state"] == "REWARDED"
    assert joined["member"]["points"]["available"] == 100
    assert await points(api, referrer["id"]) == {"available": 300, "pending": 0}
    stored = await rows("SELECT COUNT(*) AS n FROM referrals")
    assert int(stored[0]["n"]) == 1


async def test_many_referrals_from_one_ip_in_a_week_are_held(api: Api) -> None:
    _, code = await setup(api, ipWeeklyThreshold=2)
    ip = {"ipAddress": "203.0.113.9"}

    states = [
        (await enroll_with(api, f"f{n}", referralCode=code, signals=ip))["referral"]
        for n in range(3)
    ]
    with clock.using(clock.ManualClock(utc_now() + timedelta(days=8))):
        later = await enroll_with(api, "f-later", referralCode=code, signals=ip)

    assert [(s["state"], s["holdReason"]) for s in states] == [
        ("SIGNED_UP", None),
        ("SIGNED_UP", None),
        ("HELD", "IP_VELOCITY"),
    ]
    assert later["referral"]["state"] == "SIGNED_UP"


# --- concurrency ------------------------------------------------------------------------------


async def test_two_members_referring_one_friend_at_once_one_wins(api: Api) -> None:
    _, alice_code = await setup(api)
    others = [await enroll(api, customer_id=f"ref-{n}") for n in range(5)]
    all_codes = [alice_code, *[await code_of(api, member["id"]) for member in others]]
    friend = await enroll(api, customer_id="friend")

    responses = await asyncio.gather(
        *(
            api.post(
                RECORD,
                {
                    "input": {
                        "programSlug": "shop",
                        "referralCode": code,
                        "idempotencyKey": f"race-{n}",
                        "friendCustomerId": "friend",
                    }
                },
            )
            for n, code in enumerate(all_codes)
        )
    )

    assert {response.status_code for response in responses} == {200}
    referrals = [response.json()["data"]["recordReferral"]["referral"] for response in responses]
    states = sorted((r["state"], r["rejectionReason"]) for r in referrals)
    assert states == [("REJECTED", "ALREADY_REFERRED")] * 5 + [("SIGNED_UP", None)]
    assert await points(api, friend["id"]) == {"available": 100, "pending": 0}
    assert await verify_ledger() == []


async def test_two_invitations_of_one_new_friend_at_once_one_wins(api: Api) -> None:
    _, alice_code = await setup(api)
    bob = await enroll(api, customer_id="bob")
    bob_code = await code_of(api, bob["id"])

    results = await asyncio.gather(
        record_referral(api, alice_code, "i1", friendEmail="new@example.org"),
        record_referral(api, bob_code, "i2", friendEmail="NEW@example.org"),
    )

    assert sorted(r["referral"]["state"] for r in results) == ["INVITED", "REJECTED"]


# --- bad input --------------------------------------------------------------------------------


async def test_unknown_foreign_malformed_and_disabled_codes_refuse_the_enrolment(api: Api) -> None:
    _, code = await setup(api)
    await create_program(api, slug="other")
    await configure(api, slug="other")
    foreign = await enroll(api, program_slug="other", customer_id="stranger")
    foreign_code = await code_of(api, foreign["id"])
    unknown = "ZZZZ9999" if code != "ZZZZ9999" else "YYYY9999"
    before = await snapshot()

    results = {
        "unknown": await enroll_with(api, "x1", referralCode=unknown),
        "foreign": await enroll_with(api, "x2", referralCode=foreign_code),
        "malformed": await enroll_with(api, "x3", referralCode="not a code!"),
        "recorded": await record_referral(api, unknown, "k1", friendCustomerId="x4"),
    }
    wrote_nothing = await snapshot() == before
    await configure(api, enabled=False)
    disabled = await enroll_with(api, "x5", referralCode=code)
    await configure(api, enabled=True)
    await rows("UPDATE programs SET active = FALSE WHERE slug = 'shop' RETURNING id")
    inactive = await record_referral(api, code, "k2", friendCustomerId="x6")

    assert {name: codes(r["userErrors"]) for name, r in results.items()} == {
        "unknown": ["REFERRAL_CODE_NOT_FOUND"],
        "foreign": ["REFERRAL_CODE_NOT_FOUND"],
        "malformed": ["INVALID_VALUE"],
        "recorded": ["REFERRAL_CODE_NOT_FOUND"],
    }
    assert results["unknown"]["userErrors"][0]["field"] == ["input", "referralCode"]
    assert results["unknown"]["member"] is None
    assert wrote_nothing
    assert codes(disabled["userErrors"]) == ["REFERRALS_DISABLED"]
    assert codes(inactive["userErrors"]) == ["REFERRALS_DISABLED"]


async def test_record_referral_input_is_checked_before_anything_is_written(api: Api) -> None:
    _, code = await setup(api)
    other_key = await _other_program_key(api)
    before = await snapshot()

    nobody = await record_referral(api, code, "b1")
    bad = await record_referral(
        api, code, " ", friendEmail="nope", friendSignals={"deviceId": "x" * 501}
    )
    foreign_program = await api.data(
        RECORD,
        {
            "input": {
                "programSlug": "shop",
                "referralCode": code,
                "idempotencyKey": "b2",
                "friendCustomerId": "z",
            }
        },
        key=other_key,
    )

    assert codes(nobody["userErrors"]) == ["REQUIRED"]
    assert sorted(codes(bad["userErrors"])) == ["INVALID_VALUE", "REQUIRED", "TOO_LONG"]
    assert codes(foreign_program["recordReferral"]["userErrors"]) == ["PROGRAM_NOT_FOUND"]
    assert await snapshot() == before


async def _other_program_key(api: Api) -> str:
    await create_program(api, slug="elsewhere")
    return await program_key("elsewhere")


async def test_settings_are_validated(api: Api) -> None:
    await create_program(api)

    refused = await configure(
        api,
        urlTemplate="https://shop.test/no-placeholder",
        referrer={"points": -1, "trigger": "FIRST_ORDER", "maxOrders": 3},
        friend={"points": 10, "trigger": "SIGNUP", "minimumOrderMinor": 100},
        ipWeeklyThreshold=-2,
    )

    assert sorted((".".join(e["field"]), e["code"]) for e in refused["userErrors"]) == [
        ("input.friend.minimumOrderMinor", "INVALID_VALUE"),
        ("input.ipWeeklyThreshold", "INVALID_VALUE"),
        ("input.referrer.maxOrders", "INVALID_VALUE"),
        ("input.referrer.points", "INVALID_POINTS"),
        ("input.urlTemplate", "INVALID_VALUE"),
    ]


# --- access and numbers -----------------------------------------------------------------------


async def test_keys_see_what_they_may(api: Api) -> None:
    _, code = await setup(api)
    joined = await enroll_with(api, "friend", referralCode=code)
    secret = await program_key("shop")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    by_store = await api.data(LIST, {"slug": "shop"}, key=secret)
    by_storefront = await api.gql(LIST, {"slug": "shop"}, key=publishable)
    node_by_storefront = await api.gql(NODE, {"id": joined["referral"]["id"]}, key=publishable)
    approve_by_store = await api.data(
        APPROVE, {"input": {"id": joined["referral"]["id"], "idempotencyKey": "k"}}, key=secret
    )
    stats_by_store = await api.gql(
        STATS, {"slug": "shop", "from": now_iso(-1), "to": now_iso(1)}, key=secret
    )

    assert [e["node"]["friendCustomerId"] for e in by_store["referrals"]["edges"]] == ["friend"]
    assert top_level_codes(by_storefront) == ["FORBIDDEN"]
    assert top_level_codes(node_by_storefront) == ["FORBIDDEN"]
    assert codes(approve_by_store["approveReferral"]["userErrors"]) == ["FORBIDDEN"]
    assert top_level_codes(stats_by_store) == ["FORBIDDEN"]


async def test_numbers_per_program_and_period(api: Api) -> None:
    referrer, code = await setup(api, pending_days=14, referrerLimit=2)
    bob = await enroll(api, customer_id="bob")
    bob_code = await code_of(api, bob["id"])
    await enroll_with(api, "f1", referralCode=code)
    await enroll_with(api, "f2", referralCode=code)
    await enroll_with(api, "f3", referralCode=code)  # held: alice's third this month
    await record_referral(api, bob_code, "n1", friendEmail="later@example.org")  # invited
    await record_referral(api, bob_code, "n2", friendCustomerId="bob")  # self-referral
    await record_order(api, customer_id="f1", unit_price_minor=1500, placedAt=now_iso())
    await record_order(
        api, customer_id="f2", order_id="o-2", unit_price_minor=1500, placedAt=now_iso()
    )
    await api.data(
        REFUND, {"input": {"programSlug": "shop", "orderId": "o-2", "idempotencyKey": "r"}}
    )

    data = await api.data(STATS, {"slug": "shop", "from": now_iso(-1), "to": now_iso(1)})
    empty = await api.data(STATS, {"slug": "shop", "from": now_iso(-9), "to": now_iso(-8)})

    stats = data["referralStats"]
    assert stats["invitations"] == 4
    assert stats["signUps"] == 3
    assert stats["qualified"] == 2
    assert stats["conversionRate"] == 0.5
    assert (stats["pointsPaid"], stats["pointsPending"], stats["pointsCancelled"]) == (
        200,
        500,
        500,
    )
    assert stats["heldByReason"] == [{"reason": "REFERRER_LIMIT", "count": 1}]
    assert stats["rejectedByReason"] == [
        {"reason": "QUALIFYING_ORDER_REFUNDED", "count": 1},
        {"reason": "SELF_REFERRAL", "count": 1},
    ]
    assert stats["topAdvocates"] == [
        {"member": {"customerId": "alice"}, "qualifiedReferrals": 2, "pointsEarned": 500}
    ]
    assert empty["referralStats"]["invitations"] == 0
    assert empty["referralStats"]["conversionRate"] == 0.0
    assert referrer["customerId"] == "alice"
    assert await verify_ledger() == []
