"""Statements per page: the DataLoaders (app/graphql/loaders.py) read each nested object or list
of a page in one statement, so a page of 100 costs what a page of 10 costs.

Statements are counted where both databases' clients log them before they run (Tortoise's
`tortoise.db_client` logger, which app/db.py's quick reads write to as well). Each document is
counted twice: answered by Strawberry, then by its query plan (app/graphql/compiled.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.services.members.enrolment import EnrollMemberInput, enroll_member
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points
from tests.graphql.referrals.test_referrals import SETTINGS, code_of
from tests.graphql.rewards.factories import make_reward, redeemed

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
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements = 0

    def emit(self, record: logging.LogRecord) -> None:
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


async def statements_of(api: Api, query: str, variables: dict[str, Any]) -> list[int]:
    """The statements the query costs answered by Strawberry, then by its plan."""
    counts = []
    for _ in range(2):
        # The key's lookup is cached for a while: looked up now, it is not counted below.
        await api.gql("{ __typename }")
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
    # the redemptions' rewards.
    assert ten == [10, 10]
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

    # The member (its scope), the page, then by the batch: the rewards, the member.
    assert ten == [4, 4]
    assert hundred == ten
    page = await api.data(REDEMPTIONS, {**variables, "first": 100})
    nodes = [edge["node"] for edge in page["memberRedemptions"]["edges"]]
    assert len(nodes) == 100
    assert page["memberRedemptions"]["pageInfo"] == {"hasNextPage": True}
    assert [node["reward"]["name"] for node in nodes[:2]] == ["Gift 1", "Gift 2"]
    assert {node["member"]["customerId"] for node in nodes} == {"alice"}
