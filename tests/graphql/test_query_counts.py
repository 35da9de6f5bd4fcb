"""Statements per page: the DataLoaders (app/graphql/loaders.py) read each nested object or list
of a page in one statement, so a page of 100 costs what a page of 10 costs.

Statements are counted where both databases' clients log them before they run (Tortoise's
`tortoise.db_client` logger, which the quick reads of app/db/quick_reads.py write to as well).
Each document is counted twice: answered by Strawberry, then by its query plan
(app/graphql/compiled.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from app.config import Settings
from app.services.core.outbox_signal import OUTBOX_SIGNAL
from app.services.members.enrolment import EnrollMemberInput, enroll_member
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    grant_points,
    update_program_settings,
)
from tests.graphql.punch_cards.test_punch_cards import create_card
from tests.graphql.referrals.test_referrals import SETTINGS, code_of
from tests.graphql.rewards.factories import UPLOAD, make_reward, redeemed
from tests.graphql.store_credit.test_store_credit import issue

REFERRALS = """
query($first: Int!) {
  referrals(programSlug: "shop", first: $first) {
    edges { node {
      state
      referrer { customerId program { slug } }
      friend { customerId referredBy { state } memberships { status } }
      rewards { side points status reward { name } redemption { code reward { name } } }
    } }
    pageInfo { hasNextPage }
  }
}"""

REDEMPTIONS = """
query($member: ID!, $first: Int!) {
  memberRedemptions(memberId: $member, first: $first) {
    edges { node { code reward { name } member { customerId } } }
    pageInfo { hasNextPage }
  }
}"""


class _StatementCount(logging.Handler):
    """The statements a request runs for its document. The API key's shared rate-limit bucket
    is left out: it is written back on a clock, so a slow request may or may not carry it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "rate_limit_buckets" not in record.getMessage():
            self.statements += 1


@contextmanager
def counting_statements() -> Iterator[_StatementCount]:
    logger = logging.getLogger("tortoise.db_client")
    count = _StatementCount()
    level = logger.level
    logger.addHandler(count)
    logger.setLevel(logging.DEBUG)
    try:
        yield count
    finally:
        logger.removeHandler(count)
        logger.setLevel(level)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app without the work it does in the background (the webhook worker's outbox reads,
    the tier configuration check): their statements would be counted with a slow request's."""
    return replace(settings, webhook_worker=False, tier_recalculation_seconds=0)


async def statements_of(api: Api, query: str, variables: dict[str, Any]) -> list[int]:
    """The statements the query costs answered by Strawberry, then by its plan."""
    counts = []
    for _ in range(2):
        # The key's lookup is cached for a while: looked up now, it is not counted below.
        await api.gql("{ __typename }")
        # Nor is the NOTIFY that earlier writes sent after their commits.
        await OUTBOX_SIGNAL.settled()
        with counting_statements() as count:
            body = await api.gql(query, variables)
        assert "errors" not in body, body["errors"]
        counts.append(count.statements)
    return counts


async def referrals_with_catalogue_rewards(api: Api, friends: int) -> None:
    """`friends` members referred by two referrers; each friend's sign-up earns 100 points and a
    catalogue reward, given at once (a redemption)."""
    await create_program(api)
    reward = await make_reward(api, name="Welcome gift")
    data = await api.data(
        SETTINGS,
        {
            "input": {
                "programSlug": "shop",
                "enabled": True,
                "urlTemplate": "https://shop.test/invite/{code}",
                "referrer": {"points": 500, "trigger": "FIRST_ORDER"},
                "friend": {"points": 100, "trigger": "SIGNUP", "rewardId": reward["id"]},
            }
        },
    )
    assert data["updateReferralSettings"]["userErrors"] == []
    codes = [
        await code_of(api, (await enroll(api, customer_id=f"referrer-{n}"))["id"]) for n in (1, 2)
    ]
    for n in range(friends):
        await enroll_member(
            EnrollMemberInput(
                program_slug="shop", customer_id=f"friend-{n}", referral_code=codes[n % 2]
            ),
            None,
        )


async def test_a_page_of_100_referrals_costs_what_a_page_of_10_costs(api: Api) -> None:
    api.check_plans = False
    await referrals_with_catalogue_rewards(api, friends=101)

    ten = await statements_of(api, REFERRALS, {"first": 10})
    hundred = await statements_of(api, REFERRALS, {"first": 100})

    # The program, the page, then by the batch: members (referrers and friends), referral
    # rewards, the friends' programs, referred-by, memberships, rewards and redemptions, and
    # the redemptions' rewards; the rewards' names at each of their two depths come with their
    # translations, one statement each (app/graphql/translations/).
    assert ten == [12, 12]
    assert hundred == ten
    page = await api.data(REFERRALS, {"first": 100})
    edges = page["referrals"]["edges"]
    assert len(edges) == 100
    assert page["referrals"]["pageInfo"] == {"hasNextPage": True}
    assert edges[0]["node"] == {
        "state": "SIGNED_UP",
        "referrer": {"customerId": "referrer-1", "program": {"slug": "shop"}},
        "friend": {
            "customerId": "friend-100",
            "referredBy": {"state": "SIGNED_UP"},
            "memberships": [],
        },
        "rewards": [
            {
                "side": "FRIEND",
                "points": 100,
                "status": "PAID",
                "reward": {"name": "Welcome gift"},
                "redemption": {
                    "code": edges[0]["node"]["rewards"][0]["redemption"]["code"],
                    "reward": {"name": "Welcome gift"},
                },
            }
        ],
    }


async def test_a_page_of_100_redemptions_costs_what_a_page_of_10_costs(api: Api) -> None:
    api.check_plans = False
    await create_program(api)
    rewards = [await make_reward(api, name=f"Gift {n}", costPoints=1) for n in (1, 2)]
    member = await enroll(api, customer_id="alice")
    await grant_points(api, member["id"], 101)
    for n in range(101):
        await redeemed(api, member["id"], rewards[n % 2]["id"], key=f"redeem-{n}")
    variables = {"member": member["id"]}

    ten = await statements_of(api, REDEMPTIONS, {**variables, "first": 10})
    hundred = await statements_of(api, REDEMPTIONS, {**variables, "first": 100})

    # The member (its scope), the page, then by the batch: the rewards, the member, and the
    # rewards' names with their translations.
    assert ten == [5, 5]
    assert hundred == ten
    page = await api.data(REDEMPTIONS, {**variables, "first": 100})
    nodes = [edge["node"] for edge in page["memberRedemptions"]["edges"]]
    assert len(nodes) == 100
    assert page["memberRedemptions"]["pageInfo"] == {"hasNextPage": True}
    assert [node["reward"]["name"] for node in nodes[:2]] == ["Gift 1", "Gift 2"]
    assert {node["member"]["customerId"] for node in nodes} == {"alice"}


# What a member shows besides its own row, each read for a whole page at once.
MEMBER_LISTS = {
    "storeCredit": "storeCredit { balanceMinor currency }",
    "storeCreditHistory": "storeCreditHistory(first: 1) {"
    " edges { cursor node { amountMinor } } pageInfo { hasNextPage endCursor } }",
    "punchCards": "punchCards { punches card { name } }",
    "nextExpiries": "nextExpiries { points expiresOn }",
    "activity": "activity(first: 1) {"
    " edges { cursor node { points } } pageInfo { hasNextPage endCursor } }",
    "referrals": "referrals(first: 2) { edges { node { state } } pageInfo { hasNextPage } }",
    "referralCode": "referralCode referralLink",
}


def referral_members(page: str, fields: str) -> str:
    """A page of referrals with `fields` of their referrers and friends."""
    return f"""
query {{
  referrals(programSlug: "shop", first: {page}) {{
    edges {{ node {{ referrer {{ id {fields} }} friend {{ id {fields} }} }} }}
  }}
}}"""


ONE_MEMBER = f"query($id: ID!) {{ member(id: $id) {{ id {' '.join(MEMBER_LISTS.values())} }} }}"


async def members_with_lists(api: Api, friends: int) -> None:
    """Referrals as above, with the lists a member shows filled in for some of them: store
    credit, a punch card, points that expire."""
    await referrals_with_catalogue_rewards(api, friends=friends)
    await update_program_settings(
        api, expiry={"policy": "LOT_LIFETIME", "lifetime": 12, "lifetimeUnit": "MONTHS"}
    )
    card = await create_card(api, (await make_reward(api, name="Free coffee"))["id"])
    assert card["userErrors"] == []
    page = await api.data(referral_members("4", ""))
    for n, edge in enumerate(page["referrals"]["edges"]):
        for member in (edge["node"]["referrer"], edge["node"]["friend"]):
            await issue(api, member["id"], 100 * (n + 1), f"credit-{member['id']}-{n}")
            await grant_points(api, member["id"], 10 * (n + 1), key=f"points-{member['id']}-{n}")


@pytest.mark.parametrize("field", MEMBER_LISTS)
async def test_a_page_of_100_referrals_reads_its_members_lists_in_a_batch(
    api: Api, field: str
) -> None:
    api.check_plans = False
    await members_with_lists(api, friends=101)
    query = referral_members("$first", MEMBER_LISTS[field]).replace(
        "query {", "query($first: Int!) {"
    )

    if field == "referralCode":
        # The first read makes the friends' codes (in one transaction); counted are the reads.
        await api.data(query, {"first": 100})

    ten = await statements_of(api, query, {"first": 10})
    hundred = await statements_of(api, query, {"first": 100})

    # The program, the page, the referrers and friends by the batch, then the field by the
    # batch (the next expiries and referral codes read their programs' settings first).
    expected = 5 if field in {"nextExpiries", "referralCode"} else 4
    assert (field, ten) == (field, [expected, expected])
    assert hundred == ten


async def test_members_read_in_a_batch_answer_as_each_read_alone(api: Api) -> None:
    await members_with_lists(api, friends=6)

    page = await api.data(referral_members("10", " ".join(MEMBER_LISTS.values())))

    members = {
        member["id"]: member
        for edge in page["referrals"]["edges"]
        for member in (edge["node"]["referrer"], edge["node"]["friend"])
    }
    assert len(members) == 8
    for member_id, batched in members.items():
        alone = await api.data(ONE_MEMBER, {"id": member_id})
        assert batched == alone["member"]
    # What the comparison covers: every list has rows on some member, and a next page.
    referrer = members[page["referrals"]["edges"][0]["node"]["referrer"]["id"]]
    assert referrer["storeCredit"]["balanceMinor"] > 0
    assert referrer["storeCreditHistory"]["pageInfo"]["hasNextPage"] is True
    assert referrer["activity"]["pageInfo"]["hasNextPage"] is True
    assert referrer["referrals"]["pageInfo"]["hasNextPage"] is True
    assert referrer["punchCards"] == [{"punches": 0, "card": {"name": "Coffee card"}}]
    assert referrer["nextExpiries"] != []


AVAILABLE_REWARDS = """
query($id: ID!) { member(id: $id) { availableRewards { id name } } }"""


async def catalogue_of(api: Api, numbers: range) -> list[dict[str, Any]]:
    """Rewards of every shape `availableRewards` checks, by turns: plain, a per-member limit
    (ever, then per month), a code pool (with a code for every other pool)."""
    shapes: list[dict[str, Any]] = [
        {},
        {"perMemberLimit": 1, "limitPeriod": "EVER"},
        {"perMemberLimit": 2, "limitPeriod": "MONTH"},
        {"codeSource": "POOL"},
    ]
    rewards = []
    for n in numbers:
        reward = await make_reward(api, name=f"Reward {n}", costPoints=100 + n, **shapes[n % 4])
        if n % 8 == 3:
            codes = {"rewardId": reward["id"], "codes": [f"POOL-CODE-{n:02d}"]}
            uploaded = await api.data(UPLOAD, {"input": codes})
            assert uploaded["uploadRewardCodes"]["added"] == 1
        rewards.append(reward)
    return rewards


async def test_available_rewards_cost_the_same_for_4_rewards_as_for_16(api: Api) -> None:
    api.check_plans = False
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10_000)
    rewards = await catalogue_of(api, range(4))
    await redeemed(api, member["id"], rewards[1]["id"])

    four = await statements_of(api, AVAILABLE_REWARDS, {"id": member["id"]})
    await catalogue_of(api, range(4, 16))
    sixteen = await statements_of(api, AVAILABLE_REWARDS, {"id": member["id"]})

    assert sixteen == four
    available = (await api.data(AVAILABLE_REWARDS, {"id": member["id"]}))["member"]
    # Reward 1 is used up (one per member, ever); the pools of 7 and 15 have no codes.
    assert [reward["name"] for reward in available["availableRewards"]] == [
        f"Reward {n}" for n in range(16) if n not in {1, 7, 15}
    ]
