"""Codes the checkout can trust: validate, mark used (idempotent per order), cancel (points and
stock back, or a gift taken back), pools of uploaded codes, expiry under both policies, the
rate limit on code checks, and the charity report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app import clock
from app.auth import rate_limit
from app.auth.api_keys import KeyKind
from app.auth.code_checks import CODE_CHECK_LIMIT
from app.db import utc_now
from app.domain.ledger import TransactionKind
from app.domain.rewards import RewardUnavailable
from app.graphql.core.ids import decode_id
from app.jobs.progress import SilentProgress
from app.jobs.redemption_codes import expire_codes
from app.jobs.runner import JobName, run_job
from app.services.ledger.verify import verify_ledger
from app.services.rewards.gifts import GivenReward, GiveReward, give_reward, revoke_given_reward
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    grant_points,
    member_token,
    post_as,
    program_key,
)
from tests.graphql.helpers import codes, global_id, rows
from tests.graphql.rewards.factories import (
    CANCEL,
    MARK_USED,
    SETTINGS,
    UPLOAD,
    VALIDATE,
    cancel,
    catalogue_state,
    make_reward,
    mark_used,
    points_of,
    redeem,
    redeemed,
)

CHARITY = """
query($slug: String!, $from: DateTime!, $to: DateTime!) {
  charityDonations(programSlug: $slug, from: $from, to: $to) {
    charityName currency totalMinor donations
  }
}"""


async def validate(api: Api, code: str, *, slug: str = "shop", key: str | None = None) -> Any:
    return await api.gql(VALIDATE, {"slug": slug, "code": code}, key=key)


async def member_with_points(api: Api, points: int = 1000, customer: str = "cust-1") -> str:
    member = await enroll(api, customer_id=customer)
    await grant_points(api, member["id"], points)
    member_id: str = member["id"]
    return member_id


async def test_the_checkout_learns_what_a_code_is_worth_and_for_whom(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    reward = await make_reward(api, codeValidDays=30)
    issued = await redeemed(api, member_id, reward["id"])

    body = await validate(api, "  " + issued["code"].lower() + " ")

    check = body["data"]["validateRedemptionCode"]
    assert (check["code"], check["usable"], check["reason"]) == (issued["code"], True, None)
    redemption = check["redemption"]
    assert (redemption["valueMinor"], redemption["currency"], redemption["status"]) == (
        500,
        "EUR",
        "ISSUED",
    )
    assert redemption["member"]["customerId"] == "cust-1"
    assert redemption["reward"]["kind"] == "FIXED_DISCOUNT"
    assert redemption["source"] == "PURCHASE"
    assert redemption["expiresAt"] is not None


async def test_a_code_of_another_program_looks_exactly_like_an_unknown_code(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    member = await enroll(api, program_slug="other", customer_id="o-1")
    await grant_points(api, member["id"], 500)
    foreign = await redeemed(api, member["id"], (await make_reward(api, programSlug="other"))["id"])
    shop_key = await program_key("shop")
    before = await catalogue_state()

    foreign_check = await validate(api, foreign["code"], key=shop_key)
    unknown_check = await validate(api, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", key=shop_key)
    foreign_use = await mark_used(api, foreign["code"], "order-1", key=shop_key)
    unknown_use = await mark_used(api, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "order-1", key=shop_key)

    assert foreign_check["data"]["validateRedemptionCode"] == {
        "code": foreign["code"],
        "usable": False,
        "reason": "REDEMPTION_CODE_NOT_FOUND",
        "redemption": None,
    }
    assert unknown_check["data"]["validateRedemptionCode"]["reason"] == (
        "REDEMPTION_CODE_NOT_FOUND"
    )
    assert foreign_use["userErrors"] == unknown_use["userErrors"]
    assert codes(foreign_use["userErrors"]) == ["REDEMPTION_CODE_NOT_FOUND"]
    assert await catalogue_state() == before


async def test_marking_used_is_idempotent_per_order_and_final(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    issued = await redeemed(api, member_id, (await make_reward(api))["id"])

    first = await mark_used(api, issued["code"], "order-7")
    again = await mark_used(api, issued["code"], "order-7")
    other = await mark_used(api, issued["code"], "order-8")
    check = await validate(api, issued["code"])
    cancelled = await cancel(api, issued["id"])

    assert first["userErrors"] == [] and first["alreadyUsed"] is False
    assert first["redemption"]["status"] == "USED"
    assert first["redemption"]["orderId"] == "order-7"
    assert again["userErrors"] == [] and again["alreadyUsed"] is True
    assert again["redemption"]["usedAt"] == first["redemption"]["usedAt"]
    assert [(e["code"], e["field"]) for e in other["userErrors"]] == [
        ("REDEMPTION_ALREADY_USED", ["input", "code"])
    ]
    assert check["data"]["validateRedemptionCode"]["usable"] is False
    assert check["data"]["validateRedemptionCode"]["reason"] == "REDEMPTION_ALREADY_USED"
    assert codes(cancelled["userErrors"]) == ["REDEMPTION_ALREADY_USED"]


async def test_cancelling_returns_the_points_and_the_stock_once(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api, 300)
    reward = await make_reward(api, stock=2)
    issued = await redeemed(api, member_id, reward["id"])

    first = await cancel(api, issued["id"])
    state = await catalogue_state()
    again = await cancel(api, issued["id"])
    use = await mark_used(api, issued["code"], "order-1")

    assert first["userErrors"] == [] and first["redemption"]["status"] == "CANCELLED"
    assert again["userErrors"] == [] and again["redemption"] == first["redemption"]
    assert await catalogue_state() == state
    assert codes(use["userErrors"]) == ["REDEMPTION_CANCELLED"]
    points = await points_of(api, member_id)
    assert (points["available"], points["lifetimeRedeemed"]) == (300, 0)
    assert state["rewards"] == [
        {"id": decode_id(reward["id"], "Reward"), "stock": 2, "active": True}
    ]
    kinds = await rows("SELECT kind, points FROM ledger_transactions ORDER BY id")
    assert [(k["kind"], int(k["points"])) for k in kinds][-2:] == [
        ("REDEEM", -100),
        ("REDEMPTION_CANCELLED", 100),
    ]
    assert await verify_ledger() == []


async def test_an_unknown_or_foreign_redemption_cannot_be_cancelled(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    member_id = await member_with_points(api)
    issued = await redeemed(api, member_id, (await make_reward(api))["id"])
    other_key = await program_key("other")
    before = await catalogue_state()

    foreign = await cancel(api, issued["id"], key=other_key)
    unknown = await cancel(api, global_id("Redemption", 999_999))

    assert codes(foreign["userErrors"]) == ["REDEMPTION_NOT_FOUND"]
    assert codes(unknown["userErrors"]) == ["REDEMPTION_NOT_FOUND"]
    assert await catalogue_state() == before


async def _gift(api: Api, member_id: str, reward_id: str) -> GivenReward:
    async with in_transaction() as conn:
        given = await give_reward(
            conn,
            GiveReward(
                program_id=1,
                member_id=decode_id(member_id, "Member"),
                reward_id=decode_id(reward_id, "Reward"),
                kind=TransactionKind.REFERRAL,
                reason="Welcome gift",
                event_details={},
            ),
            utc_now(),
        )
    assert isinstance(given, GivenReward)
    return given


async def test_cancelling_a_given_reward_hands_out_no_points(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api, 50)
    reward = await make_reward(api, costPoints=400, stock=1)
    given = await _gift(api, member_id, reward["id"])
    gifted = await points_of(api, member_id)

    cancelled = await cancel(api, global_id("Redemption", given.redemption_id))
    async with in_transaction() as conn:
        second = await revoke_given_reward(conn, given.redemption_id, utc_now())

    # The test's points came by adjustment, which counts as neither earned nor redeemed.
    assert (gifted["available"], gifted["lifetimeEarned"], gifted["lifetimeRedeemed"]) == (
        50,
        400,
        400,
    )
    assert cancelled["userErrors"] == []
    assert (cancelled["redemption"]["status"], cancelled["redemption"]["source"]) == (
        "CANCELLED",
        "GIFT",
    )
    assert second is False
    points = await points_of(api, member_id)
    assert (points["available"], points["pending"]) == (50, 0)
    assert (points["lifetimeEarned"], points["lifetimeRedeemed"]) == (0, 0)
    stock = await rows("SELECT stock FROM rewards")
    assert int(stock[0]["stock"]) == 1
    assert await verify_ledger() == []


async def test_a_pool_reward_hands_out_uploaded_codes_and_reports_duplicates(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    reward = await make_reward(api, codeSource="POOL")
    generated = await make_reward(api, name="Generated")

    upload = await api.data(
        UPLOAD,
        {
            "input": {
                "rewardId": reward["id"],
                "codes": ["summer-0001", "SUMMER-0002", "Summer-0001"],
            }
        },
    )
    repeat = await api.data(
        UPLOAD, {"input": {"rewardId": reward["id"], "codes": ["SUMMER-0002", "SUMMER-0003"]}}
    )
    wrong = await api.data(UPLOAD, {"input": {"rewardId": generated["id"], "codes": ["ABCDEFGH"]}})
    short = await api.data(UPLOAD, {"input": {"rewardId": reward["id"], "codes": ["SHORT"]}})
    first = await redeemed(api, member_id, reward["id"], "r-1")
    checked = await validate(api, "summer-0001")

    assert upload["uploadRewardCodes"] == {
        "added": 2,
        "duplicates": ["SUMMER-0001"],
        "available": 2,
        "userErrors": [],
    }
    assert (repeat["uploadRewardCodes"]["added"], repeat["uploadRewardCodes"]["duplicates"]) == (
        1,
        ["SUMMER-0002"],
    )
    assert codes(wrong["uploadRewardCodes"]["userErrors"]) == ["REWARD_NOT_POOLED"]
    assert [(e["code"], e["field"]) for e in short["uploadRewardCodes"]["userErrors"]] == [
        ("INVALID_VALUE", ["input", "codes", "0"])
    ]
    assert first["code"] == "SUMMER-0001"
    assert checked["data"]["validateRedemptionCode"]["usable"] is True


async def test_an_empty_pool_is_a_clear_error_and_spends_nothing(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    reward = await make_reward(api, codeSource="POOL", stock=5)
    await api.data(UPLOAD, {"input": {"rewardId": reward["id"], "codes": ["ONLY-CODE-1"]}})
    await redeemed(api, member_id, reward["id"], "r-1")
    before = await catalogue_state()

    refused = await redeem(api, member_id, reward["id"], "r-2")

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("REWARD_POOL_EMPTY", ["input", "rewardId"])
    ]
    assert await catalogue_state() == before


async def test_a_given_pool_reward_with_no_codes_left_moves_nothing(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    reward = await make_reward(api, codeSource="POOL", stock=5)
    before = await catalogue_state()

    async with in_transaction() as conn:
        given = await give_reward(
            conn,
            GiveReward(
                program_id=1,
                member_id=decode_id(member_id, "Member"),
                reward_id=decode_id(reward["id"], "Reward"),
                kind=TransactionKind.REFERRAL,
                reason="Gift",
                event_details={},
            ),
            utc_now(),
        )

    assert given is RewardUnavailable.POOL_EMPTY
    assert await catalogue_state() == before


async def _expire_scenario(api: Api, returns: bool) -> tuple[str, dict[str, Any], Any]:
    await create_program(api)
    settings = await api.data(
        SETTINGS, {"input": {"programSlug": "shop", "expiredCodesReturnPoints": returns}}
    )
    assert settings["updateRedemptionSettings"]["userErrors"] == []
    member_id = await member_with_points(api, 500)
    reward = await make_reward(api, codeValidDays=7, stock=3)
    issued = await redeemed(api, member_id, reward["id"], "r-1")
    used = await redeemed(api, member_id, reward["id"], "r-2")
    await mark_used(api, used["code"], "order-1")
    clock_after = clock.ManualClock(utc_now() + timedelta(days=7, seconds=1))
    return member_id, issued, clock_after


async def test_expired_codes_return_nothing_by_default(api: Api) -> None:
    member_id, issued, later = await _expire_scenario(api, returns=False)

    with clock.using(later):
        before_job = await mark_used(api, issued["code"], "order-2")
        first = await run_job(JobName.EXPIRE_CODES, later.now())
        second = await run_job(JobName.EXPIRE_CODES, later.now())
        check = await validate(api, issued["code"])

    assert codes(before_job["userErrors"]) == ["REDEMPTION_EXPIRED"]
    assert first.summary == {"codes": 1, "points": 0}
    assert second.summary == {"codes": 0, "points": 0}
    assert check["data"]["validateRedemptionCode"]["reason"] == "REDEMPTION_EXPIRED"
    assert check["data"]["validateRedemptionCode"]["redemption"]["status"] == "EXPIRED"
    assert (await points_of(api, member_id))["available"] == 300
    assert int((await rows("SELECT stock FROM rewards"))[0]["stock"]) == 1
    assert await verify_ledger() == []


async def test_expired_codes_return_their_points_when_the_program_says_so(api: Api) -> None:
    member_id, issued, later = await _expire_scenario(api, returns=True)

    with clock.using(later):
        first = await run_job(JobName.EXPIRE_CODES, later.now())
        second = await run_job(JobName.EXPIRE_CODES, later.now())
        cancelled = await cancel(api, issued["id"])

    assert first.summary == {"codes": 1, "points": 100}
    assert second.summary == {"codes": 0, "points": 0}
    assert codes(cancelled["userErrors"]) == ["REDEMPTION_EXPIRED"]
    points = await points_of(api, member_id)
    assert (points["available"], points["lifetimeRedeemed"]) == (400, 100)
    assert int((await rows("SELECT stock FROM rewards"))[0]["stock"]) == 2
    assert await verify_ledger() == []


class _FrozenTime:
    """Token buckets refill with time: frozen, the test sees exactly the burst."""

    @staticmethod
    def monotonic() -> float:
        return 1000.0

    @staticmethod
    def time() -> float:
        """The wall clock of the buckets every process shares."""
        return 1_000_000.0


async def test_code_checks_are_rate_limited_per_key_apart_from_the_general_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_limit, "time", _FrozenTime)
    await create_program(api)
    secret = await program_key("shop")
    other = await program_key("shop")
    burst = CODE_CHECK_LIMIT.burst

    answers = [await validate(api, f"GUESS-{n:04d}-XXXX", key=secret) for n in range(burst + 1)]
    refused_mark = await mark_used(api, "GUESS-0000-XXXX", "order-1", key=secret)
    other_key = await validate(api, "GUESS-0000-XXXX", key=other)
    general = await api.gql("query { __typename }", key=secret)

    assert [a["data"]["validateRedemptionCode"]["reason"] for a in answers[:burst]] == [
        "REDEMPTION_CODE_NOT_FOUND"
    ] * burst
    assert [e["extensions"]["code"] for e in answers[burst]["errors"]] == [
        "CODE_CHECKS_RATE_LIMITED"
    ]
    assert codes(refused_mark["userErrors"]) == ["CODE_CHECKS_RATE_LIMITED"]
    assert other_key["data"]["validateRedemptionCode"]["reason"] == "REDEMPTION_CODE_NOT_FOUND"
    assert general["data"] == {"__typename": "Query"}


async def test_a_publishable_key_cannot_check_codes(api: Api) -> None:
    await create_program(api)
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    body = await validate(api, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", key=publishable)

    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_charity_donations_are_totalled_per_charity_over_a_period(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api, 10_000)
    trees = await make_reward(api, kind="CHARITY", valueMinor=300, charityName="Plant a tree")
    water = await make_reward(api, kind="CHARITY", valueMinor=1000, charityName="Clean water")
    start = utc_now()
    for n in range(3):
        await redeemed(api, member_id, trees["id"], f"t-{n}")
    kept = await redeemed(api, member_id, water["id"], "w-1")
    end = utc_now() + timedelta(seconds=1)

    data = await api.data(
        CHARITY, {"slug": "shop", "from": start.isoformat(), "to": end.isoformat()}
    )
    empty = await api.data(
        CHARITY,
        {"slug": "shop", "from": end.isoformat(), "to": (end + timedelta(days=1)).isoformat()},
    )

    assert data["charityDonations"] == [
        {"charityName": "Clean water", "currency": "EUR", "totalMinor": 1000, "donations": 1},
        {"charityName": "Plant a tree", "currency": "EUR", "totalMinor": 900, "donations": 3},
    ]
    assert kept["charityName"] == "Clean water"
    assert empty["charityDonations"] == []


async def test_the_expiry_job_pages_through_every_due_code(api: Api) -> None:
    await create_program(api)
    member_id = await member_with_points(api, 1000)
    reward = await make_reward(api, codeValidDays=1)
    issued = [await redeemed(api, member_id, reward["id"], f"r-{n}") for n in range(5)]
    kept = await redeemed(api, member_id, (await make_reward(api, name="Forever"))["id"], "r-9")
    later = utc_now() + timedelta(days=2)

    with clock.using(clock.ManualClock(later)):
        summary = await expire_codes(later, SilentProgress(), batch_size=2)

    assert summary == {"codes": 5, "points": 0}
    statuses = await rows("SELECT code, status FROM redemptions ORDER BY id")
    assert [(r["code"], r["status"]) for r in statuses] == [
        *((r["code"], "EXPIRED") for r in issued),
        (kept["code"], "ISSUED"),
    ]


async def test_only_admins_manage_the_catalogue_and_members_cannot_check_codes(
    api: Api,
) -> None:
    await create_program(api)
    member_id = await member_with_points(api)
    reward = await make_reward(api, codeSource="POOL")
    await api.data(UPLOAD, {"input": {"rewardId": reward["id"], "codes": ["FIRST-CODE"]}})
    issued = await redeemed(api, member_id, reward["id"])
    secret = await program_key("shop")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    token = await member_token(api, "cust-1")
    before = await catalogue_state()

    upload = await api.data(
        UPLOAD, {"input": {"rewardId": reward["id"], "codes": ["OTHER-CODE"]}}, key=secret
    )
    settings = await api.data(
        SETTINGS,
        {"input": {"programSlug": "shop", "expiredCodesReturnPoints": True}},
        key=secret,
    )
    as_member = await post_as(
        api,
        CANCEL,
        {"input": {"id": issued["id"]}},
        key=publishable,
        token=token,
    )
    use_as_member = await post_as(
        api,
        MARK_USED,
        {"input": {"programSlug": "shop", "code": issued["code"], "orderId": "o-1"}},
        key=publishable,
        token=token,
    )

    assert codes(upload["uploadRewardCodes"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(settings["updateRedemptionSettings"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(as_member.json()["data"]["cancelRedemption"]["userErrors"]) == ["FORBIDDEN"]
    assert codes(use_as_member.json()["data"]["markRedemptionUsed"]["userErrors"]) == ["FORBIDDEN"]
    assert await catalogue_state() == before


async def test_bad_redemption_settings_are_refused_and_write_nothing(api: Api) -> None:
    await create_program(api)
    before = await catalogue_state()

    zero = await api.data(SETTINGS, {"input": {"programSlug": "shop", "pointsPerCurrencyUnit": 0}})
    unknown = await api.data(
        SETTINGS, {"input": {"programSlug": "nope", "expiredCodesReturnPoints": True}}
    )

    assert [(e["code"], e["field"]) for e in zero["updateRedemptionSettings"]["userErrors"]] == [
        ("INVALID_VALUE", ["input", "pointsPerCurrencyUnit"])
    ]
    assert codes(unknown["updateRedemptionSettings"]["userErrors"]) == ["PROGRAM_NOT_FOUND"]
    assert await catalogue_state() == before
