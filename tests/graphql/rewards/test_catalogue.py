"""The reward catalogue: every kind with its own terms, updates, retirement, the member's view
with reasons, pay with points, per-member limits and windows, and the tier / store-credit hooks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app import clock
from app.auth.api_keys import KeyKind
from app.db import utc_now
from app.domain.errors import ErrorCode
from app.services.ledger.verify import verify_ledger
from app.services.rewards import redemption as rewards_redemption
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    grant_points,
    member_token,
    post_as,
    program_key,
)
from tests.graphql.helpers import codes
from tests.graphql.rewards.factories import (
    CREATE,
    RETIRE,
    SETTINGS,
    UPDATE,
    cancel,
    catalogue_state,
    make_reward,
    points_of,
    redeem,
    redeemed,
    reward_input,
)
from tests.graphql.tiers.test_tiers import configure as configure_tiers

MEMBER_REWARDS = """
query($id: ID!) {
  memberRewards(memberId: $id) { reward { name } costPoints redeemable reason }
}"""

CATALOGUE = """
query($slug: String!, $kinds: [RewardKind!], $retired: Boolean!, $first: Int!, $after: String) {
  rewardCatalogue(programSlug: $slug, kinds: $kinds, includeRetired: $retired, first: $first,
                  after: $after) {
    edges { node { name kind retiredAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_each_kind_is_created_with_its_own_terms(api: Api) -> None:
    await create_program(api)
    await configure_tiers(api, [{"name": "gold", "threshold": 100}])
    kinds: list[dict[str, Any]] = [
        dict(name="Five off", minimumOrderMinor=2000),
        dict(
            name="Ten percent shoes",
            kind="PERCENT_DISCOUNT",
            valueMinor=None,
            percentOff=10,
            maxValueMinor=1500,
            categories=["shoes"],
        ),
        dict(name="Free shipping", kind="FREE_SHIPPING", valueMinor=None, maxValueMinor=900),
        dict(name="Mug", kind="FREE_PRODUCT", valueMinor=None, skus=["MUG-B", "MUG-A"]),
        dict(name="Credit", kind="STORE_CREDIT", valueMinor=1000, currency="eur"),
        dict(
            name="Pay with points",
            kind="PAY_WITH_POINTS",
            valueMinor=None,
            costPoints=100,
            pointsMin=100,
            pointsMax=5000,
            pointsStep=100,
        ),
        dict(name="Trees", kind="CHARITY", valueMinor=300, charityName="Plant a tree"),
        dict(
            name="Early access",
            kind="CUSTOM",
            valueMinor=None,
            imageUrls=["https://cdn.example/early.png"],
            perMemberLimit=1,
            limitPeriod="YEAR",
            codeValidDays=30,
            requiredTiers=["gold"],
        ),
    ]

    made = [await make_reward(api, **values) for values in kinds]

    summary = [
        (r["kind"], r["valueMinor"], r["currency"], r["percentOff"], r["maxValueMinor"], r["skus"])
        for r in made
    ]
    assert summary == [
        ("FIXED_DISCOUNT", 500, "EUR", None, None, []),
        ("PERCENT_DISCOUNT", None, "EUR", 10, 1500, []),
        ("FREE_SHIPPING", None, "EUR", None, 900, []),
        ("FREE_PRODUCT", None, None, None, None, ["MUG-A", "MUG-B"]),
        ("STORE_CREDIT", 1000, "EUR", None, None, []),
        ("PAY_WITH_POINTS", None, "EUR", None, None, []),
        ("CHARITY", 300, "EUR", None, None, []),
        ("CUSTOM", None, None, None, None, []),
    ]
    assert made[0]["minimumOrderMinor"] == 2000
    assert made[1]["categories"] == ["shoes"]
    assert (made[5]["pointsMin"], made[5]["pointsMax"], made[5]["pointsStep"]) == (100, 5000, 100)
    assert made[6]["charityName"] == "Plant a tree"
    custom = made[7]
    assert (custom["perMemberLimit"], custom["limitPeriod"], custom["codeValidDays"]) == (
        1,
        "YEAR",
        30,
    )
    assert custom["imageUrls"] == ["https://cdn.example/early.png"]
    assert custom["requiredTiers"] == ["gold"]
    assert custom["codeSource"] == "GENERATED"


BAD_REWARDS: list[tuple[dict[str, Any], list[tuple[str, list[str]]]]] = [
    ({"costPoints": -5}, [("INVALID_POINTS", ["input", "costPoints"])]),
    (
        {"kind": "PERCENT_DISCOUNT", "valueMinor": None, "percentOff": 101},
        [("INVALID_PERCENTAGE", ["input", "percentOff"])],
    ),
    (
        {"kind": "PERCENT_DISCOUNT", "valueMinor": None},
        [("REQUIRED", ["input", "percentOff"])],
    ),
    ({"kind": "FREE_PRODUCT", "valueMinor": None}, [("REQUIRED", ["input", "skus"])]),
    ({"valueMinor": None}, [("REQUIRED", ["input", "valueMinor"])]),
    ({"valueMinor": -1}, [("INVALID_AMOUNT", ["input", "valueMinor"])]),
    ({"percentOff": 10}, [("INVALID_VALUE", ["input", "percentOff"])]),
    ({"skus": ["X"]}, [("INVALID_VALUE", ["input", "skus"])]),
    ({"currency": "XXQ"}, [("UNKNOWN_CURRENCY", ["input", "currency"])]),
    ({"kind": "CHARITY"}, [("REQUIRED", ["input", "charityName"])]),
    (
        {"kind": "PAY_WITH_POINTS", "valueMinor": None, "pointsMin": 100, "pointsMax": 1000},
        [("REQUIRED", ["input", "pointsStep"])],
    ),
    (
        {
            "kind": "PAY_WITH_POINTS",
            "valueMinor": None,
            "pointsMin": 100,
            "pointsMax": 1050,
            "pointsStep": 100,
        },
        [("POINTS_OFF_STEP", ["input", "pointsMax"])],
    ),
    (
        {
            "kind": "PAY_WITH_POINTS",
            "valueMinor": None,
            "pointsMin": 500,
            "pointsMax": 100,
            "pointsStep": 100,
            "costPoints": 500,
        },
        [("INVALID_POINTS", ["input", "pointsMax"])],
    ),
    ({"stock": -1}, [("INVALID_QUANTITY", ["input", "stock"])]),
    ({"perMemberLimit": 0}, [("INVALID_QUANTITY", ["input", "perMemberLimit"])]),
    ({"codeValidDays": 0}, [("INVALID_VALUE", ["input", "codeValidDays"])]),
    (
        {"startsAt": "2026-12-01T00:00:00Z", "endsAt": "2026-11-01T00:00:00Z"},
        [("INVALID_VALUE", ["input", "endsAt"])],
    ),
    ({"imageUrls": ["javascript:alert(1)"]}, [("INVALID_VALUE", ["input", "imageUrls", "0"])]),
    (
        {"kind": "STORE_CREDIT", "codeSource": "POOL"},
        [("INVALID_VALUE", ["input", "codeSource"])],
    ),
    ({"programSlug": "nope"}, [("PROGRAM_NOT_FOUND", ["input", "programSlug"])]),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_REWARDS)
async def test_a_bad_reward_is_refused_with_its_code_and_writes_nothing(
    api: Api, overrides: dict[str, Any], expected: list[tuple[str, list[str]]]
) -> None:
    await create_program(api)
    before = await catalogue_state()

    data = await api.data(CREATE, {"input": reward_input(**overrides)})

    assert data["createReward"]["reward"] is None
    errors = data["createReward"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == expected
    assert await catalogue_state() == before


async def test_an_update_changes_only_what_it_names_and_is_checked_whole(api: Api) -> None:
    await create_program(api)
    reward = await make_reward(api, stock=5, description="On any order")

    data = await api.data(
        UPDATE, {"input": {"id": reward["id"], "valueMinor": 700, "stock": None, "name": "Seven"}}
    )
    bad = await api.data(
        UPDATE, {"input": {"id": reward["id"], "percentOff": 150, "costPoints": None}}
    )

    updated = data["updateReward"]["reward"]
    assert (updated["name"], updated["valueMinor"], updated["stock"]) == ("Seven", 700, None)
    assert updated["costPoints"] == 100
    assert bad["updateReward"]["reward"] is None
    assert codes(bad["updateReward"]["userErrors"]) == ["REQUIRED"]


async def test_a_retired_reward_stays_listed_for_history_but_cannot_be_redeemed(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 500)
    reward = await make_reward(api)
    first = await redeemed(api, member["id"], reward["id"])

    retired = await api.data(RETIRE, {"input": {"id": reward["id"]}})
    again = await api.data(RETIRE, {"input": {"id": reward["id"]}})
    before = await catalogue_state()
    refused = await redeem(api, member["id"], reward["id"], "r-2")
    update = await api.data(UPDATE, {"input": {"id": reward["id"], "name": "New"}})

    assert retired["retireReward"]["reward"]["retiredAt"] is not None
    assert (
        again["retireReward"]["reward"]["retiredAt"]
        == retired["retireReward"]["reward"]["retiredAt"]
    )
    assert codes(refused["userErrors"]) == ["REWARD_RETIRED"]
    assert codes(update["updateReward"]["userErrors"]) == ["REWARD_RETIRED"]
    assert await catalogue_state() == before
    listed = await api.data(
        CATALOGUE, {"slug": "shop", "kinds": None, "retired": True, "first": 10, "after": None}
    )
    hidden = await api.data(
        CATALOGUE, {"slug": "shop", "kinds": None, "retired": False, "first": 10, "after": None}
    )
    assert [e["node"]["name"] for e in listed["rewardCatalogue"]["edges"]] == ["Five off"]
    assert hidden["rewardCatalogue"]["edges"] == []
    assert first["status"] == "ISSUED"


async def test_the_admin_catalogue_filters_by_kind_and_pages(api: Api) -> None:
    await create_program(api)
    for n in range(3):
        await make_reward(api, name=f"Off {n}")
    await make_reward(api, name="Mug", kind="FREE_PRODUCT", valueMinor=None, skus=["MUG"])

    page = await api.data(
        CATALOGUE,
        {"slug": "shop", "kinds": ["FIXED_DISCOUNT"], "retired": False, "first": 2, "after": None},
    )
    rest = await api.data(
        CATALOGUE,
        {
            "slug": "shop",
            "kinds": ["FIXED_DISCOUNT"],
            "retired": False,
            "first": 2,
            "after": page["rewardCatalogue"]["pageInfo"]["endCursor"],
        },
    )
    secret = await api.gql(
        CATALOGUE,
        {"slug": "shop", "kinds": None, "retired": False, "first": 2, "after": None},
        key=await program_key("shop"),
    )

    assert [e["node"]["name"] for e in page["rewardCatalogue"]["edges"]] == ["Off 0", "Off 1"]
    assert page["rewardCatalogue"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in rest["rewardCatalogue"]["edges"]] == ["Off 2"]
    assert rest["rewardCatalogue"]["pageInfo"]["hasNextPage"] is False
    assert [e["extensions"]["code"] for e in secret["errors"]] == ["FORBIDDEN"]


async def test_a_member_sees_what_they_can_redeem_now_and_why_not(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 150)
    now = utc_now()
    await make_reward(api, name="Cheap", costPoints=100)
    await make_reward(api, name="Dear", costPoints=200)
    await make_reward(api, name="Gone", costPoints=101, stock=0)
    await make_reward(
        api, name="Later", costPoints=102, startsAt=(now + timedelta(days=1)).isoformat()
    )
    await make_reward(api, name="Off", costPoints=103, active=False)
    once = await make_reward(api, name="Once", costPoints=10, perMemberLimit=1)
    await redeemed(api, member["id"], once["id"])
    token = await member_token(api, "cust-1")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    response = await post_as(
        api, MEMBER_REWARDS, {"id": member["id"]}, key=publishable, token=token
    )

    options = response.json()["data"]["memberRewards"]
    assert [
        (o["reward"]["name"], o["costPoints"], o["redeemable"], o["reason"]) for o in options
    ] == [
        ("Once", 10, False, "REWARD_LIMIT_REACHED"),
        ("Cheap", 100, True, None),
        ("Gone", 101, False, "REWARD_OUT_OF_STOCK"),
        ("Later", 102, False, "REWARD_NOT_STARTED"),
        ("Dear", 200, False, "INSUFFICIENT_POINTS"),
    ]


async def test_pay_with_points_spends_a_chosen_amount_at_the_programs_rate(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 5000)
    settings = await api.data(
        SETTINGS, {"input": {"programSlug": "shop", "pointsPerCurrencyUnit": 200}}
    )
    reward = await make_reward(
        api,
        name="Pay with points",
        kind="PAY_WITH_POINTS",
        valueMinor=None,
        costPoints=200,
        pointsMin=200,
        pointsMax=2000,
        pointsStep=200,
    )

    paid = await redeem(api, member["id"], reward["id"], points=1000)

    assert settings["updateRedemptionSettings"]["settings"]["pointsPerCurrencyUnit"] == 200
    redemption = paid["redemption"]
    assert (redemption["pointsSpent"], redemption["valueMinor"], redemption["currency"]) == (
        1000,
        500,
        "EUR",
    )
    assert (await points_of(api, member["id"]))["available"] == 4000
    assert await verify_ledger() == []


@pytest.mark.parametrize(
    ("points", "code"),
    [
        (None, "REQUIRED"),
        (300, "POINTS_OFF_STEP"),
        (100, "POINTS_OUT_OF_RANGE"),
        (2200, "POINTS_OUT_OF_RANGE"),
    ],
)
async def test_a_pay_with_points_amount_off_the_step_or_range_is_refused(
    api: Api, points: int | None, code: str
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 5000)
    reward = await make_reward(
        api,
        kind="PAY_WITH_POINTS",
        valueMinor=None,
        costPoints=200,
        pointsMin=200,
        pointsMax=2000,
        pointsStep=200,
    )
    before = await catalogue_state()

    refused = await redeem(api, member["id"], reward["id"], points=points)

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [(code, ["input", "points"])]
    assert await catalogue_state() == before


async def test_pay_with_points_over_the_balance_names_the_chosen_points(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 300)
    reward = await make_reward(
        api,
        kind="PAY_WITH_POINTS",
        valueMinor=None,
        costPoints=200,
        pointsMin=200,
        pointsMax=2000,
        pointsStep=200,
    )
    before = await catalogue_state()

    refused = await redeem(api, member["id"], reward["id"], points=400)

    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INSUFFICIENT_POINTS", ["input", "points"])
    ]
    assert await catalogue_state() == before


async def test_points_on_a_reward_of_fixed_cost_are_refused(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 500)
    reward = await make_reward(api)
    before = await catalogue_state()

    refused = await redeem(api, member["id"], reward["id"], points=100)

    assert codes(refused["userErrors"]) == ["INVALID_VALUE"]
    assert await catalogue_state() == before


async def test_a_reward_outside_its_window_or_inactive_cannot_be_redeemed(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    now = utc_now()
    later = await make_reward(api, name="Later", startsAt=(now + timedelta(days=1)).isoformat())
    ended = await make_reward(
        api,
        name="Ended",
        startsAt=(now - timedelta(days=10)).isoformat(),
        endsAt=(now - timedelta(days=1)).isoformat(),
    )
    inactive = await make_reward(api, name="Off", active=False)
    gone = await make_reward(api, name="Gone", stock=0)
    before = await catalogue_state()

    results = [
        codes((await redeem(api, member["id"], reward["id"], f"k-{n}"))["userErrors"])
        for n, reward in enumerate((later, ended, inactive, gone))
    ]

    assert results == [
        ["REWARD_NOT_STARTED"],
        ["REWARD_ENDED"],
        ["REWARD_INACTIVE"],
        ["REWARD_OUT_OF_STOCK"],
    ]
    assert await catalogue_state() == before


async def test_a_per_member_limit_counts_per_period_in_the_programs_time_zone(api: Api) -> None:
    await create_program(api, timeZone="Europe/Stockholm")
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api, perMemberLimit=2, limitPeriod="DAY")
    # 22:30 UTC is 23:30 in Stockholm: the program's next day starts in 30 minutes.
    evening = utc_now().replace(hour=22, minute=30, second=0, microsecond=0)

    with clock.using(clock.ManualClock(evening)) as manual:
        first = await redeem(api, member["id"], reward["id"], "d1-a")
        second = await redeem(api, member["id"], reward["id"], "d1-b")
        before = await catalogue_state()
        third = await redeem(api, member["id"], reward["id"], "d1-c")
        after_refusal = await catalogue_state()
        assert isinstance(manual, clock.ManualClock)
        manual.advance(timedelta(minutes=31))
        next_day = await redeem(api, member["id"], reward["id"], "d2-a")

    assert [codes(p["userErrors"]) for p in (first, second, next_day)] == [[], [], []]
    assert codes(third["userErrors"]) == ["REWARD_LIMIT_REACHED"]
    assert after_refusal == before


async def test_a_cancelled_redemption_does_not_count_against_the_limit(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api, perMemberLimit=1)
    first = await redeemed(api, member["id"], reward["id"])

    cancelled = await cancel(api, first["id"])
    again = await redeem(api, member["id"], reward["id"], "r-2")

    assert cancelled["redemption"]["status"] == "CANCELLED"
    assert again["userErrors"] == []
    assert again["redemption"]["status"] == "ISSUED"
    assert (await points_of(api, member["id"]))["available"] == 1000 - int(
        again["redemption"]["pointsSpent"]
    )


async def test_the_tier_hook_refuses_and_writes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api)

    def restricted(tier: Any, reward: Any) -> tuple[int, ErrorCode | None]:
        return reward.cost_points, ErrorCode.REWARD_TIER_RESTRICTED

    monkeypatch.setattr(rewards_redemption, "reward_terms_for_tier", restricted)
    before = await catalogue_state()

    refused = await redeem(api, member["id"], reward["id"])

    assert codes(refused["userErrors"]) == ["REWARD_TIER_RESTRICTED"]
    assert await catalogue_state() == before


async def test_the_tier_hook_sets_the_price(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api, costPoints=100)

    def discounted(tier: Any, reward: Any) -> tuple[int, ErrorCode | None]:
        return 80, None

    monkeypatch.setattr(rewards_redemption, "reward_terms_for_tier", discounted)

    paid = await redeemed(api, member["id"], reward["id"])

    assert paid["pointsSpent"] == 80
    assert (await points_of(api, member["id"]))["available"] == 920
    assert await verify_ledger() == []


STORE_CREDIT_OF = """
query($id: ID!) {
  member(id: $id) {
    storeCredit { balanceMinor currency }
    storeCreditHistory(first: 10) { edges { node { amountMinor } } }
  }
}"""


async def test_a_store_credit_reward_turns_points_into_store_credit(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api, kind="STORE_CREDIT", costPoints=500, valueMinor=1000, stock=3)

    redemption = await redeemed(api, member["id"], reward["id"])
    credit = (await api.data(STORE_CREDIT_OF, {"id": member["id"]}))["member"]

    assert redemption["pointsSpent"] == 500
    assert (await points_of(api, member["id"]))["available"] == 500
    assert credit["storeCredit"] == {"balanceMinor": 1000, "currency": "EUR"}
    assert [e["node"]["amountMinor"] for e in credit["storeCreditHistory"]["edges"]] == [1000]
    assert await verify_ledger() == []


async def test_a_store_credit_reward_must_pay_in_the_programs_currency(api: Api) -> None:
    await create_program(api)
    before = await catalogue_state()

    data = await api.data(
        CREATE,
        {"input": reward_input(kind="STORE_CREDIT", valueMinor=1000, currency="USD")},
    )

    assert codes(data["createReward"]["userErrors"]) == ["CURRENCY_MISMATCH"]
    assert await catalogue_state() == before


async def test_a_store_credit_reward_without_the_points_credits_nothing(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 100)
    reward = await make_reward(api, kind="STORE_CREDIT", costPoints=500, valueMinor=1000, stock=3)
    before = await catalogue_state()

    refused = await redeem(api, member["id"], reward["id"])
    credit = (await api.data(STORE_CREDIT_OF, {"id": member["id"]}))["member"]

    assert codes(refused["userErrors"]) == ["INSUFFICIENT_POINTS"]
    assert await catalogue_state() == before
    assert credit["storeCredit"]["balanceMinor"] == 0


MEMBER_REDEMPTIONS = """
query($id: ID!, $status: RedemptionStatus, $first: Int!, $after: String) {
  memberRedemptions(memberId: $id, status: $status, first: $first, after: $after) {
    edges { node { code status reward { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_a_member_reads_their_own_codes_newest_first_and_nobody_elses(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    other = await enroll(api, customer_id="cust-2")
    await grant_points(api, member["id"], 1000)
    reward = await make_reward(api)
    made = [await redeemed(api, member["id"], reward["id"], f"r-{n}") for n in range(3)]
    await cancel(api, made[0]["id"])
    token = await member_token(api, "cust-1")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)

    async def read(member_id: str, **variables: Any) -> Any:
        response = await post_as(
            api,
            MEMBER_REDEMPTIONS,
            {"id": member_id, "status": None, "first": 2, "after": None, **variables},
            key=publishable,
            token=token,
        )
        return response.json()

    page = await read(member["id"])
    rest = await read(
        member["id"], after=page["data"]["memberRedemptions"]["pageInfo"]["endCursor"]
    )
    cancelled = await read(member["id"], status="CANCELLED")
    foreign = await read(other["id"])

    assert [e["node"]["code"] for e in page["data"]["memberRedemptions"]["edges"]] == [
        made[2]["code"],
        made[1]["code"],
    ]
    assert page["data"]["memberRedemptions"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["status"] for e in rest["data"]["memberRedemptions"]["edges"]] == [
        "CANCELLED"
    ]
    assert [e["node"]["code"] for e in cancelled["data"]["memberRedemptions"]["edges"]] == [
        made[0]["code"]
    ]
    assert [e["extensions"]["code"] for e in foreign["errors"]] == ["FORBIDDEN"]
