"""Experiments with an audience (`segment`): only the segment's members are in the experiment.
Outsiders get none of its rules or rewards (the winner's included), write no effect rows and are
not counted; unknown keys are refused; the audience of a DRAFT or RUNNING experiment cannot be
archived. Both databases.

The default order is 2 x 12.50 EUR: 25 base points, 25 more from a 2x rule.
"""

from __future__ import annotations

from typing import Any

from app.domain.experiments import bucket_of, variant_at
from tests.graphql.conftest import Api
from tests.graphql.experiments.test_experiments import (
    CREATE,
    RESULTS,
    create_rule,
    experiment_input,
    order,
    start,
    stop,
    variant,
    variant_keys_by_pk,
    written,
)
from tests.graphql.factories import REDEEM, create_program, create_reward, enroll, grant_points
from tests.graphql.helpers import global_id, pk_of, rows

CREATE_SEGMENT = """
mutation($input: CreateSegmentInput!) {
  createSegment(input: $input) { segment { id } userErrors { field code } }
}"""
ARCHIVE_SEGMENT = """
mutation($id: ID!) {
  archiveSegment(input: { id: $id }) { segment { archivedAt } userErrors { field code message } }
}"""
PAUSE_RULE = """
mutation($input: SetEarningRulePausedInput!) {
  setEarningRulePaused(input: $input) { userErrors { field code } }
}"""
SEGMENT_OF = """
query($id: ID!) { node(id: $id) { ... on Experiment { segment } } }"""


async def vip_segment(api: Api) -> str:
    data = await api.data(
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
    assert data["createSegment"]["userErrors"] == []
    segment_id: str = data["createSegment"]["segment"]["id"]
    return segment_id


async def create(api: Api, variants: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": experiment_input(variants, **fields)})
    payload: dict[str, Any] = data["createExperiment"]
    return payload


async def cast(api: Api, experiment_id: str) -> dict[tuple[bool, str], list[str]]:
    """Enrol VIPs and others until a VIP of every variant and an outsider of every variant
    exist; customer ids by (is VIP, variant key)."""
    variants = await variant_keys_by_pk(experiment_id)
    slots = [(pk, weight) for pk, weight, _ in variants]
    keys = {pk: key for pk, _, key in variants}
    found: dict[tuple[bool, str], list[str]] = {
        (vip, key): [] for vip in (True, False) for key in keys.values()
    }
    for number in range(1, 80):
        vip = number % 2 == 0
        customer = f"{'vip' if vip else 'out'}-{number}"
        member = await enroll(api, customer_id=customer, tags=["vip"] if vip else [])
        bucket = bucket_of(pk_of(experiment_id), pk_of(member["id"]))
        found[(vip, keys[variant_at(slots, bucket)])].append(customer)
        if all(found.values()):
            return found
    raise AssertionError("80 members and a group still empty")


async def test_an_audience_experiment_gives_nothing_to_outsiders_and_counts_only_the_audience(
    api: Api,
) -> None:
    # given a 2x rule and a reward for variant A against control, for VIPs only, running
    await create_program(api)
    await vip_segment(api)
    double = await create_rule(api, "Double", "2")
    reward = await create_reward(api, cost_points=10, name="Sticker")
    made = await create(
        api,
        [
            variant("A", 5000, earningRuleIds=[double], rewardIds=[reward["id"]]),
            variant("control", 5000, control=True),
        ],
        segment="vip",
    )
    assert made["userErrors"] == []
    experiment = made["experiment"]
    assert (await start(api, experiment["id"]))["userErrors"] == []
    people = await cast(api, experiment["id"])
    vip_a, vip_control = people[(True, "A")][0], people[(True, "control")][0]
    outsider_a = people[(False, "A")][0]
    members = {
        str(row["customer_id"]): int(row["id"])
        for row in await rows("SELECT id, customer_id FROM members")
    }
    # when a VIP of A, a VIP of control and an outsider whose bucket is A's order
    earned = [
        (await order(api, customer, f"order-{customer}"))["pointsEarned"]
        for customer in (vip_a, vip_control, outsider_a)
    ]
    # and the outsider and the VIP of A try the reward
    redeemed = []
    for customer in (outsider_a, vip_a):
        member_id = global_id("Member", members[customer])
        await grant_points(api, member_id, 10, key=f"grant-{customer}")
        result = await api.data(
            REDEEM,
            {
                "input": {
                    "memberId": member_id,
                    "rewardId": reward["id"],
                    "idempotencyKey": f"redeem-{customer}",
                }
            },
        )
        redeemed.append([e["code"] for e in result["redeemReward"]["userErrors"]])
    effects = await rows(
        "SELECT e.member_id, v.key, e.kind FROM experiment_effects e"
        " JOIN experiment_variants v ON v.id = e.variant_id ORDER BY e.id"
    )
    results = (await api.data(RESULTS, {"id": experiment["id"]}))["experimentResults"]
    audience = (await api.data(SEGMENT_OF, {"id": experiment["id"]}))["node"]

    # then the VIP of A earns the 2x rule, control and the outsider the base alone
    assert earned == [50, 25, 25]
    # and the outsider may not redeem A's reward, the VIP of A may
    assert redeemed == [["REWARD_NOT_IN_VARIANT"], []]
    # and only the VIPs' orders and redemption are effects
    assert [(row["member_id"], row["key"], row["kind"]) for row in effects] == [
        (members[vip_a], "A", "ORDER"),
        (members[vip_control], "control", "ORDER"),
        (members[vip_a], "A", "REDEMPTION"),
    ]
    # and the members assigned are the VIPs alone, by their buckets
    assert {item["variant"]["key"]: item["membersAssigned"] for item in results["variants"]} == {
        "A": len(people[(True, "A")]),
        "control": len(people[(True, "control")]),
    }
    assert audience == {"segment": "vip"}

    # when A wins, then VIPs of control get the rule and outsiders still do not
    assert (await stop(api, experiment["id"], "A"))["userErrors"] == []
    after = [
        (await order(api, customer, f"after-{customer}"))["pointsEarned"]
        for customer in (vip_control, outsider_a, people[(False, "control")][0])
    ]
    assert after == [50, 25, 25]


async def test_an_unknown_or_archived_audience_is_segment_not_found_and_nothing_is_written(
    api: Api,
) -> None:
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    before = await written()
    unknown = await create(
        api,
        [variant("A", 5000, earningRuleIds=[double]), variant("control", 5000, control=True)],
        segment="nobody",
    )
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        (["input", "segment"], "SEGMENT_NOT_FOUND")
    ]
    assert unknown["experiment"] is None
    assert await written() == before


async def test_the_audience_of_a_draft_or_running_experiment_cannot_be_archived(
    api: Api,
) -> None:
    # given a VIP segment that a draft experiment's audience is
    await create_program(api)
    segment = await vip_segment(api)
    double = await create_rule(api, "Double", "2")
    made = await create(
        api,
        [variant("A", 5000, earningRuleIds=[double]), variant("control", 5000, control=True)],
        segment="vip",
        name="VIP double",
    )
    experiment = made["experiment"]
    # when the segment is archived as a draft, running, and stopped without a winner
    as_draft = (await api.data(ARCHIVE_SEGMENT, {"id": segment}))["archiveSegment"]
    await start(api, experiment["id"])
    as_running = (await api.data(ARCHIVE_SEGMENT, {"id": segment}))["archiveSegment"]
    await stop(api, experiment["id"])
    concluded = (await api.data(ARCHIVE_SEGMENT, {"id": segment}))["archiveSegment"]

    for refused in (as_draft, as_running):
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
            (["input", "id"], "SEGMENT_IN_USE")
        ]
        assert "experiment 'VIP double'" in refused["userErrors"][0]["message"]
    assert concluded["userErrors"] == []
    assert concluded["segment"]["archivedAt"] is not None


async def test_a_winner_given_to_an_audience_keeps_its_segment_in_use_while_its_rule_runs(
    api: Api,
) -> None:
    # given a VIP experiment concluded with A the winner (A's 2x rule goes to VIPs)
    await create_program(api)
    segment = await vip_segment(api)
    double = await create_rule(api, "Double", "2")
    made = await create(
        api,
        [variant("A", 5000, earningRuleIds=[double]), variant("control", 5000, control=True)],
        segment="vip",
    )
    await start(api, made["experiment"]["id"])
    await stop(api, made["experiment"]["id"], "A")
    # when the segment is archived while the winner's rule runs, and after it is paused
    refused = (await api.data(ARCHIVE_SEGMENT, {"id": segment}))["archiveSegment"]
    paused = await api.data(PAUSE_RULE, {"input": {"id": double, "paused": True}})
    assert paused["setEarningRulePaused"]["userErrors"] == []
    allowed = (await api.data(ARCHIVE_SEGMENT, {"id": segment}))["archiveSegment"]

    # then it is refused while the winner's rule still targets the audience, then allowed
    assert [e["code"] for e in refused["userErrors"]] == ["SEGMENT_IN_USE"]
    assert allowed["userErrors"] == []
