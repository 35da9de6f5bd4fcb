"""Experiments over HTTP: A/B tests of earning rules and rewards, on both databases.

The default program earns 1 point per euro, rounded down; the default order is 2 x 12.50 EUR
(25 base points). A 2x rule adds 25 points to it, a 3x rule 50. Members land in variants by
the documented hash (app/domain/experiments.py): the tests enrol members until every variant
has one, and compute the expected split with the same recipe, pinned in
tests/domain/test_experiments.py.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from app.auth.api_keys import KeyKind
from app.domain.experiments import bucket_of, variant_at
from app.services.core import events as events_service
from app.services.webhooks.delivery import envelope
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    order_input,
    program_key,
)
from tests.graphql.helpers import global_id, pk_of, rows, snapshot

EVENT_SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs" / "webhooks" / "event.schema.json").read_text()
)
STARTS = "2026-01-01T00:00:00+00:00"
ENDS = "2030-01-01T00:00:00+00:00"

EXPERIMENT_FIELDS = """
id name status startsAt endsAt startedAt concludedAt winnerVariantKey live
variants { key weight control earningRuleIds rewardIds }
"""
CREATE = f"""
mutation($input: CreateExperimentInput!) {{
  createExperiment(input: $input) {{
    experiment {{ {EXPERIMENT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
START = f"""
mutation($input: StartExperimentInput!) {{
  startExperiment(input: $input) {{
    experiment {{ {EXPERIMENT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
STOP = f"""
mutation($input: StopExperimentInput!) {{
  stopExperiment(input: $input) {{
    experiment {{ {EXPERIMENT_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
LIFT = "difference ratio"
RESULTS = f"""
query($id: ID!) {{
  experimentResults(experimentId: $id) {{
    currency
    experiment {{ id status }}
    variants {{
      variant {{ key control }}
      membersAssigned membersExposed orders revenueMinor pointsIssued
      redemptions subjectRedemptions pointsRedeemed
      ordersPerMember revenuePerMember pointsPerMember redemptionsPerMember
      ordersLift {{ {LIFT} }} revenueLift {{ {LIFT} }} pointsLift {{ {LIFT} }}
      redemptionsLift {{ {LIFT} }}
      orderingMembers orderingMemberShare averageOrderValueMinor repeatPurchaseRate
      orderingMemberShareLift {{ {LIFT} }} averageOrderValueLift {{ {LIFT} }}
      repeatPurchaseRateLift {{ {LIFT} }}
    }}
  }}
}}"""
LIST = f"""
query($slug: String!, $first: Int!, $after: String) {{
  experiments(programSlug: $slug, first: $first, after: $after) {{
    edges {{ cursor node {{ {EXPERIMENT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
NODE = f"""
query($id: ID!) {{ node(id: $id) {{ __typename ... on Experiment {{ {EXPERIMENT_FIELDS} }} }} }}"""
CREATE_RULE = """
mutation($input: CreateEarningRuleInput!) {
  createEarningRule(input: $input) { rule { id } userErrors { field message code } }
}"""
RECORD = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { pointsEarned earning { lines { components { source ruleId points } } } }
    userErrors { field message code }
  }
}"""
MEMBER_REWARDS = """
query($id: ID!) { memberRewards(memberId: $id) { reward { id } redeemable reason } }"""


# --- factories --------------------------------------------------------------------------------


async def written() -> dict[str, Any]:
    """What a refused request must not change: balances, stock, core tables and the
    experiments' own (admin writes are audit-logged, refused or not)."""
    counts = {}
    for table in ("experiments", "experiment_variants", "experiment_subjects"):
        counts[table] = len(await rows(f"SELECT id FROM {table}"))
    counts["experiment_effects"] = len(await rows("SELECT id FROM experiment_effects"))
    return {**await snapshot(), "experiment_counts": counts}


async def create_rule(api: Api, name: str, multiplier: str) -> str:
    data = await api.data(
        CREATE_RULE,
        {
            "input": {
                "programSlug": "shop",
                "rule": {"name": name, "kind": "MULTIPLIER", "multiplier": multiplier},
            }
        },
    )
    assert data["createEarningRule"]["userErrors"] == []
    rule_id: str = data["createEarningRule"]["rule"]["id"]
    return rule_id


def variant(key: str, weight: int, **fields: Any) -> dict[str, Any]:
    return {"key": key, "weight": weight, **fields}


def experiment_input(variants: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {
        "programSlug": "shop",
        "name": "Double or triple",
        "startsAt": STARTS,
        "endsAt": ENDS,
        "variants": variants,
        **fields,
    }


async def create_experiment(
    api: Api, variants: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": experiment_input(variants, **fields)})
    payload = data["createExperiment"]
    assert payload["userErrors"] == []
    experiment: dict[str, Any] = payload["experiment"]
    return experiment


async def start(api: Api, experiment_id: str) -> dict[str, Any]:
    data = await api.data(START, {"input": {"id": experiment_id}})
    payload: dict[str, Any] = data["startExperiment"]
    return payload


async def stop(api: Api, experiment_id: str, winner: str | None = None) -> dict[str, Any]:
    data = await api.data(STOP, {"input": {"id": experiment_id, "winnerVariantKey": winner}})
    payload: dict[str, Any] = data["stopExperiment"]
    return payload


async def variant_keys_by_pk(experiment_id: str) -> list[tuple[int, int, str]]:
    """(variant pk, weight, key) in bucket order, read from the table."""
    found = await rows(
        "SELECT id, weight, key FROM experiment_variants"
        f" WHERE experiment_id = {pk_of(experiment_id)} ORDER BY position"
    )
    return [(int(row["id"]), int(row["weight"]), str(row["key"])) for row in found]


async def members_in_every_variant(api: Api, experiment_id: str) -> dict[str, list[str]]:
    """Enrol members until every variant has one; every member's id by variant key."""
    variants = await variant_keys_by_pk(experiment_id)
    slots = [(pk, weight) for pk, weight, _ in variants]
    keys = {pk: key for pk, _, key in variants}
    by_key: dict[str, list[str]] = {key: [] for key in keys.values()}
    for number in range(1, 60):
        member = await enroll(api, customer_id=f"cust-{number}")
        bucket = bucket_of(pk_of(experiment_id), pk_of(member["id"]))
        by_key[keys[variant_at(slots, bucket)]].append(member["id"])
        if all(by_key.values()):
            return by_key
    raise AssertionError("60 members and a variant still empty")


async def order(api: Api, customer_id: str, order_id: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(
        RECORD, {"input": order_input(order_id=order_id, customer_id=customer_id, **fields)}
    )
    payload = data["recordOrder"]
    assert payload["userErrors"] == []
    result: dict[str, Any] = payload["order"]
    return result


async def customer_ids() -> dict[str, str]:
    found = await rows("SELECT id, customer_id FROM members")
    return {global_id("Member", int(row["id"])): str(row["customer_id"]) for row in found}


def rule_points(earned: dict[str, Any]) -> list[tuple[str, int]]:
    return [
        (component["ruleId"], component["points"])
        for line in earned["earning"]["lines"]
        for component in line["components"]
        if component["source"] == "RULE"
    ]


# --- earning ----------------------------------------------------------------------------------


async def test_each_variant_earns_its_own_rule_and_control_earns_none(api: Api) -> None:
    # given a 2x rule for variant A, a 3x rule for variant B and a control group, started
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    triple = await create_rule(api, "Triple", "3")
    experiment = await create_experiment(
        api,
        [
            variant("A", 4000, earningRuleIds=[double]),
            variant("B", 4000, earningRuleIds=[triple]),
            variant("control", 2000, control=True),
        ],
    )
    assert experiment["status"] == "DRAFT"
    started = await start(api, experiment["id"])
    assert started["userErrors"] == []
    assert (started["experiment"]["status"], started["experiment"]["live"]) == ("RUNNING", True)
    members = await members_in_every_variant(api, experiment["id"])
    customers = await customer_ids()
    # when a member of each variant orders 2 x 12.50 EUR
    in_a = await order(api, customers[members["A"][0]], "order-a")
    in_b = await order(api, customers[members["B"][0]], "order-b")
    in_control = await order(api, customers[members["control"][0]], "order-c")
    # then A earns 25 + 25 from the 2x rule, B 25 + 50 from the 3x rule, control the base alone
    assert (in_a["pointsEarned"], rule_points(in_a)) == (50, [(double, 25)])
    assert (in_b["pointsEarned"], rule_points(in_b)) == (75, [(triple, 50)])
    assert (in_control["pointsEarned"], rule_points(in_control)) == (25, [])


async def test_every_order_records_the_members_variant_in_its_transaction(api: Api) -> None:
    # given a running 2x-for-A experiment with control, and one member of each
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    experiment = await create_experiment(
        api, [variant("A", 5000, earningRuleIds=[double]), variant("control", 5000, control=True)]
    )
    await start(api, experiment["id"])
    members = await members_in_every_variant(api, experiment["id"])
    customers = await customer_ids()
    # when each orders, and A's order is reported a second time
    await order(api, customers[members["A"][0]], "order-a")
    await order(api, customers[members["A"][0]], "order-a")
    await order(api, customers[members["control"][0]], "order-c")
    # then one effect per order, with the member's variant, the rule's points and the revenue
    effects = await rows(
        "SELECT e.member_id, v.key, e.kind, e.points, e.revenue_minor, e.subject, o.order_id"
        " FROM experiment_effects e JOIN experiment_variants v ON v.id = e.variant_id"
        " JOIN orders o ON o.id = e.order_id ORDER BY e.id"
    )
    assert [
        (row["member_id"], row["key"], row["kind"], row["points"], row["revenue_minor"])
        for row in effects
    ] == [
        (pk_of(members["A"][0]), "A", "ORDER", 25, 2500),
        (pk_of(members["control"][0]), "control", "ORDER", 0, 2500),
    ]
    assert [bool(row["subject"]) for row in effects] == [True, False]


async def test_a_draft_gives_its_rule_to_nobody_and_a_winner_gives_it_to_everyone(
    api: Api,
) -> None:
    # given a 3x rule tested against control, not started
    await create_program(api)
    triple = await create_rule(api, "Triple", "3")
    experiment = await create_experiment(
        api, [variant("B", 5000, earningRuleIds=[triple]), variant("control", 5000, control=True)]
    )
    members = await members_in_every_variant(api, experiment["id"])
    customers = await customer_ids()
    in_b, in_control = customers[members["B"][0]], customers[members["control"][0]]
    # when B's member orders while it is a draft, then the rule gives nothing and nothing is
    # recorded
    assert (await order(api, in_b, "order-1"))["pointsEarned"] == 25
    assert await rows("SELECT id FROM experiment_effects") == []
    # when it concludes with B the winner, then control's member gets the 3x rule too
    stopped = await stop(api, experiment["id"], "B")
    assert stopped["userErrors"] == []
    assert (stopped["experiment"]["status"], stopped["experiment"]["winnerVariantKey"]) == (
        "CONCLUDED",
        "B",
    )
    assert (await order(api, in_control, "order-2"))["pointsEarned"] == 75
    # and a concluded experiment neither starts nor stops again
    again = await start(api, experiment["id"])
    assert [e["code"] for e in again["userErrors"]] == ["EXPERIMENT_STATUS_CONFLICT"]
    assert [e["code"] for e in (await stop(api, experiment["id"]))["userErrors"]] == [
        "EXPERIMENT_STATUS_CONFLICT"
    ]


async def test_stopped_without_a_winner_the_rule_goes_to_nobody(api: Api) -> None:
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    experiment = await create_experiment(
        api, [variant("A", 5000, earningRuleIds=[double]), variant("control", 5000, control=True)]
    )
    await start(api, experiment["id"])
    members = await members_in_every_variant(api, experiment["id"])
    customers = await customer_ids()
    stopped = await stop(api, experiment["id"])
    assert (stopped["experiment"]["status"], stopped["experiment"]["winnerVariantKey"]) == (
        "CONCLUDED",
        None,
    )
    assert (await order(api, customers[members["A"][0]], "order-1"))["pointsEarned"] == 25


# --- rewards ----------------------------------------------------------------------------------


async def test_a_reward_under_test_is_for_its_variant_only(api: Api) -> None:
    # given a reward offered to variant "offer" and not to control, running
    await create_program(api)
    reward = await create_reward(api, cost_points=100)
    experiment = await create_experiment(
        api,
        [variant("offer", 5000, rewardIds=[reward["id"]]), variant("control", 5000, control=True)],
        name="Tote bag offer",
    )
    await start(api, experiment["id"])
    members = await members_in_every_variant(api, experiment["id"])
    offered, control = members["offer"][0], members["control"][0]
    await grant_points(api, offered, 300)
    await grant_points(api, control, 300)
    # then control's member does not see the reward, and the other does
    seen = await api.data(MEMBER_REWARDS, {"id": control})
    assert seen["memberRewards"] == []
    seen = await api.data(MEMBER_REWARDS, {"id": offered})
    assert seen["memberRewards"] == [
        {"reward": {"id": reward["id"]}, "redeemable": True, "reason": None}
    ]
    # when control's member redeems it, then it is refused and nothing is written
    before = await written()
    refused = await api.data(
        REDEEM,
        {"input": {"memberId": control, "rewardId": reward["id"], "idempotencyKey": "r-1"}},
    )
    assert refused["redeemReward"]["userErrors"] == [
        {
            "field": ["input", "rewardId"],
            "message": "the reward is part of an experiment that does not offer it to this member",
            "code": "REWARD_NOT_IN_VARIANT",
        }
    ]
    assert await written() == before
    # when the offered member redeems it, then it is redeemed and recorded with the variant
    redeemed = await api.data(
        REDEEM,
        {"input": {"memberId": offered, "rewardId": reward["id"], "idempotencyKey": "r-2"}},
    )
    assert redeemed["redeemReward"]["userErrors"] == []
    effects = await rows(
        "SELECT e.member_id, v.key, e.kind, e.points, e.subject FROM experiment_effects e"
        " JOIN experiment_variants v ON v.id = e.variant_id"
    )
    assert [
        (row["member_id"], row["key"], row["kind"], row["points"], bool(row["subject"]))
        for row in effects
    ] == [(pk_of(offered), "offer", "REDEMPTION", 100, True)]


# --- results ----------------------------------------------------------------------------------


async def test_results_per_variant_are_exact_on_a_known_history(api: Api) -> None:
    # given 2x for A, 3x for B and control, started, with members in each
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    triple = await create_rule(api, "Triple", "3")
    reward = await create_reward(api, cost_points=40)
    experiment = await create_experiment(
        api,
        [
            variant("A", 4000, earningRuleIds=[double]),
            variant("B", 4000, earningRuleIds=[triple]),
            variant("control", 2000, control=True),
        ],
    )
    await start(api, experiment["id"])
    members = await members_in_every_variant(api, experiment["id"])
    assigned = Counter({key: len(ids) for key, ids in members.items()})
    customers = await customer_ids()
    a, b, c = members["A"][0], members["B"][0], members["control"][0]
    # when A's member orders twice (25.00 and 10.00 EUR) and redeems the reward, B's once
    # (25.00), control's once (25.00 EUR)
    await order(api, customers[a], "a-1")
    await order(api, customers[a], "a-2", unit_price_minor=500)
    await order(api, customers[b], "b-1")
    await order(api, customers[c], "c-1")
    redeemed = await api.data(
        REDEEM, {"input": {"memberId": a, "rewardId": reward["id"], "idempotencyKey": "r-1"}}
    )
    assert redeemed["redeemReward"]["userErrors"] == []
    # then the results count exactly that, per member assigned
    body = await api.data(RESULTS, {"id": experiment["id"]})
    results = body["experimentResults"]
    assert results["currency"] == "EUR"
    assert results["experiment"] == {"id": experiment["id"], "status": "RUNNING"}
    n_a, n_b, n_c = assigned["A"], assigned["B"], assigned["control"]

    def per(total: float, members_: int) -> float:
        return round(total / members_, 6)

    def lift(mine: float, control: float) -> dict[str, float | None]:
        return {
            "difference": round(mine - control, 6),
            "ratio": None if control == 0 else round(mine / control, 6),
        }

    control_row = {
        "variant": {"key": "control", "control": True},
        "membersAssigned": n_c,
        "membersExposed": 1,
        "orders": 1,
        "revenueMinor": 2500.0,
        "pointsIssued": 0.0,
        "redemptions": 0,
        "subjectRedemptions": 0,
        "pointsRedeemed": 0.0,
        "ordersPerMember": per(1, n_c),
        "revenuePerMember": per(2500, n_c),
        "pointsPerMember": 0.0,
        "redemptionsPerMember": 0.0,
        "ordersLift": None,
        "revenueLift": None,
        "pointsLift": None,
        "redemptionsLift": None,
        "orderingMembers": 1,
        "orderingMemberShare": per(1, n_c),
        "averageOrderValueMinor": 2500.0,
        "repeatPurchaseRate": 0.0,
        "orderingMemberShareLift": None,
        "averageOrderValueLift": None,
        "repeatPurchaseRateLift": None,
    }
    assert results["variants"] == [
        {
            "variant": {"key": "A", "control": False},
            "membersAssigned": n_a,
            "membersExposed": 1,
            "orders": 2,
            "revenueMinor": 3500.0,
            "pointsIssued": 35.0,
            "redemptions": 1,
            "subjectRedemptions": 0,
            "pointsRedeemed": 40.0,
            "ordersPerMember": per(2, n_a),
            "revenuePerMember": per(3500, n_a),
            "pointsPerMember": per(35, n_a),
            "redemptionsPerMember": per(1, n_a),
            "ordersLift": lift(2 / n_a, 1 / n_c),
            "revenueLift": lift(3500 / n_a, 2500 / n_c),
            "pointsLift": lift(35 / n_a, 0),
            "redemptionsLift": lift(1 / n_a, 0),
            # one member ordered twice: 1750 per order, a repeat rate of 1
            "orderingMembers": 1,
            "orderingMemberShare": per(1, n_a),
            "averageOrderValueMinor": 1750.0,
            "repeatPurchaseRate": 1.0,
            "orderingMemberShareLift": lift(1 / n_a, 1 / n_c),
            "averageOrderValueLift": lift(1750, 2500),
            "repeatPurchaseRateLift": lift(1, 0),
        },
        {
            "variant": {"key": "B", "control": False},
            "membersAssigned": n_b,
            "membersExposed": 1,
            "orders": 1,
            "revenueMinor": 2500.0,
            "pointsIssued": 50.0,
            "redemptions": 0,
            "subjectRedemptions": 0,
            "pointsRedeemed": 0.0,
            "ordersPerMember": per(1, n_b),
            "revenuePerMember": per(2500, n_b),
            "pointsPerMember": per(50, n_b),
            "redemptionsPerMember": 0.0,
            "ordersLift": lift(1 / n_b, 1 / n_c),
            "revenueLift": lift(2500 / n_b, 2500 / n_c),
            "pointsLift": lift(50 / n_b, 0),
            "redemptionsLift": lift(0, 0),
            "orderingMembers": 1,
            "orderingMemberShare": per(1, n_b),
            "averageOrderValueMinor": 2500.0,
            "repeatPurchaseRate": 0.0,
            "orderingMemberShareLift": lift(1 / n_b, 1 / n_c),
            "averageOrderValueLift": lift(2500, 2500),
            "repeatPurchaseRateLift": lift(0, 0),
        },
        control_row,
    ]


# --- bad input --------------------------------------------------------------------------------


async def test_bad_experiments_are_user_errors_and_write_nothing(api: Api) -> None:
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    unknown_rule = global_id("EarningRule", 999)
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        # an unknown rule
        (
            experiment_input(
                [
                    variant("A", 5000, earningRuleIds=[unknown_rule]),
                    variant("c", 5000, control=True),
                ]
            ),
            [(["input", "variants", "0", "earningRuleIds", "0"], "RULE_NOT_FOUND")],
        ),
        # weights that do not sum to 10,000
        (
            experiment_input(
                [variant("A", 5000, earningRuleIds=[double]), variant("c", 4000, control=True)]
            ),
            [(["input", "variants"], "INVALID_WEIGHTS")],
        ),
        # a weight of 0
        (
            experiment_input(
                [variant("A", 10000, earningRuleIds=[double]), variant("c", 0, control=True)]
            ),
            [(["input", "variants", "1", "weight"], "INVALID_WEIGHTS")],
        ),
        # an end before the start
        (
            experiment_input(
                [variant("A", 5000, earningRuleIds=[double]), variant("c", 5000, control=True)],
                startsAt=ENDS,
                endsAt=STARTS,
            ),
            [(["input", "endsAt"], "INVALID_VALUE")],
        ),
        # naive datetimes
        (
            experiment_input(
                [variant("A", 5000, earningRuleIds=[double]), variant("c", 5000, control=True)],
                startsAt="2026-01-01T00:00:00",
                endsAt="2030-01-01T00:00:00",
            ),
            [(["input", "startsAt"], "INVALID_VALUE"), (["input", "endsAt"], "INVALID_VALUE")],
        ),
        # a control group that names a rule, and a variant that names nothing
        (
            experiment_input(
                [variant("A", 5000), variant("c", 5000, control=True, earningRuleIds=[double])]
            ),
            [
                (["input", "variants", "0", "earningRuleIds"], "REQUIRED"),
                (["input", "variants", "1", "earningRuleIds"], "INVALID_VALUE"),
            ],
        ),
        # one variant, a lone surrogate in a key
        (
            experiment_input([variant("A\ud800", 10000, earningRuleIds=[double])]),
            [(["input", "variants"], "INVALID_VALUE")],
        ),
        (
            experiment_input(
                [
                    variant("A\ud800", 5000, earningRuleIds=[double]),
                    variant("c", 5000, control=True),
                ]
            ),
            [(["input", "variants", "0", "key"], "INVALID_VALUE")],
        ),
        # a rule id that is not an EarningRule's
        (
            experiment_input(
                [
                    variant("A", 5000, earningRuleIds=[global_id("Reward", 1)]),
                    variant("c", 5000, control=True),
                ]
            ),
            [(["input", "variants", "0", "earningRuleIds", "0"], "INVALID_ID")],
        ),
    ]
    before = await written()
    for given, expected in cases:
        # Raw JSON: a lone surrogate goes as its escape, which no UTF-8 encoder would write.
        response = await api.http.post(
            "/graphql",
            content=json.dumps({"query": CREATE, "variables": {"input": given}}),
            headers={
                "Authorization": f"Bearer {api.admin_key}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        errors = body["data"]["createExperiment"]["userErrors"]
        assert [(e["field"], e["code"]) for e in errors] == expected, given
        assert body["data"]["createExperiment"]["experiment"] is None
    assert await written() == before


async def test_a_rule_is_tested_by_one_experiment_only(api: Api) -> None:
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    variants = [variant("A", 5000, earningRuleIds=[double]), variant("c", 5000, control=True)]
    await create_experiment(api, variants)
    data = await api.data(CREATE, {"input": experiment_input(variants)})
    assert [(e["field"], e["code"]) for e in data["createExperiment"]["userErrors"]] == [
        (["input", "variants", "0", "earningRuleIds", "0"], "EXPERIMENT_SUBJECT_TAKEN")
    ]


async def test_experiments_are_for_admin_keys(api: Api) -> None:
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    secret = await program_key("shop", KeyKind.SECRET)
    variants = [variant("A", 5000, earningRuleIds=[double]), variant("c", 5000, control=True)]
    data = await api.data(CREATE, {"input": experiment_input(variants)}, key=secret)
    assert [e["code"] for e in data["createExperiment"]["userErrors"]] == ["FORBIDDEN"]
    experiment = await create_experiment(api, variants)
    body = await api.gql(RESULTS, {"id": experiment["id"]}, key=secret)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    body = await api.gql(NODE, {"id": experiment["id"]}, key=secret)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_unknown_experiments_are_not_found(api: Api) -> None:
    await create_program(api)
    missing = global_id("Experiment", 999)
    started = await start(api, missing)
    assert [(e["field"], e["code"]) for e in started["userErrors"]] == [
        (["input", "id"], "EXPERIMENT_NOT_FOUND")
    ]
    assert (await api.data(RESULTS, {"id": missing}))["experimentResults"] is None


# --- listing ----------------------------------------------------------------------------------


async def test_experiments_are_listed_in_pages_and_read_by_id(api: Api) -> None:
    await create_program(api)
    made = []
    for number in range(3):
        rule = await create_rule(api, f"Rule {number}", "2")
        made.append(
            await create_experiment(
                api,
                [variant("A", 5000, earningRuleIds=[rule]), variant("c", 5000, control=True)],
                name=f"Test {number}",
                idempotencyKey=f"exp-{uuid.uuid4()}",
            )
        )
    first = await api.data(LIST, {"slug": "shop", "first": 2})
    page = first["experiments"]
    assert [edge["node"]["name"] for edge in page["edges"]] == ["Test 0", "Test 1"]
    assert page["pageInfo"]["hasNextPage"] is True
    second = await api.data(
        LIST, {"slug": "shop", "first": 2, "after": page["pageInfo"]["endCursor"]}
    )
    assert [edge["node"]["name"] for edge in second["experiments"]["edges"]] == ["Test 2"]
    assert second["experiments"]["pageInfo"]["hasNextPage"] is False
    node = await api.data(NODE, {"id": made[0]["id"]})
    assert node["node"] == {"__typename": "Experiment", **made[0]}
    assert made[0]["variants"] == [
        {
            "key": "A",
            "weight": 5000,
            "control": False,
            "earningRuleIds": made[0]["variants"][0]["earningRuleIds"],
            "rewardIds": [],
        },
        {"key": "c", "weight": 5000, "control": True, "earningRuleIds": [], "rewardIds": []},
    ]


# --- events -----------------------------------------------------------------------------------


async def test_creating_starting_and_concluding_announce_events_of_the_published_schema(
    api: Api,
) -> None:
    # given an experiment made, started and concluded with a winner
    await create_program(api)
    double = await create_rule(api, "Double", "2")
    experiment = await create_experiment(
        api, [variant("A", 5000, earningRuleIds=[double]), variant("c", 5000, control=True)]
    )
    await start(api, experiment["id"])
    await stop(api, experiment["id"], "A")
    # then three events say so, in order, and their webhook bodies match the schema
    found = await rows("SELECT id FROM outbox_events WHERE type LIKE 'experiment.%' ORDER BY id")
    events = [await events_service.get_event(int(row["id"])) for row in found]
    bodies = [json.loads(envelope(event, "shop", None)) for event in events if event]
    assert [
        (body["type"], body["data"]["status"], body["data"]["winnerVariantKey"]) for body in bodies
    ] == [
        ("experiment.created", "DRAFT", None),
        ("experiment.started", "RUNNING", None),
        ("experiment.concluded", "CONCLUDED", "A"),
    ]
    assert {body["data"]["experimentId"] for body in bodies} == {experiment["id"]}
    validator = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
    for body in bodies:
        assert [error.message for error in validator.iter_errors(body)] == []
    assert [
        error.message
        for error in validator.iter_errors(
            {**bodies[0], "data": {**bodies[0]["data"], "status": "PAUSED"}}
        )
    ] != []
