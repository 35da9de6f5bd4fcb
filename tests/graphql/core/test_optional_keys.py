"""Writes that make configuration (createReward, createEarningRule, createActionRule,
createPunchCard) and enrollMember take an optional idempotencyKey: a retry with the same key and
input answers what the first request made and writes nothing more; other input with the key is
IDEMPOTENCY_KEY_REUSED; without a key each request makes its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.graphql.conftest import Api
from tests.graphql.factories import create_program
from tests.graphql.helpers import rows
from tests.graphql.rewards.factories import make_reward


def _document(mutation: str, input_type: str, result: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{"
        f" {result} {{ id }} userErrors {{ code field }} }} }}"
    )


# mutation, input type, result field, table, input (a function of a reward id), what to change
CASES: list[tuple[str, str, str, str, Any, tuple[str, Any]]] = [
    (
        "createReward",
        "CreateRewardInput",
        "reward",
        "rewards",
        lambda _: {
            "programSlug": "shop",
            "name": "Ten off",
            "kind": "FIXED_DISCOUNT",
            "costPoints": 100,
            "valueMinor": 1000,
        },
        ("costPoints", 200),
    ),
    (
        "createEarningRule",
        "CreateEarningRuleInput",
        "rule",
        "earning_rules",
        lambda _: {
            "programSlug": "shop",
            "rule": {"name": "Double", "kind": "MULTIPLIER", "multiplier": "2"},
        },
        ("rule", {"name": "Triple", "kind": "MULTIPLIER", "multiplier": "3"}),
    ),
    (
        "createActionRule",
        "CreateActionRuleInput",
        "rule",
        "action_rules",
        lambda _: {
            "programSlug": "shop",
            "rule": {
                "name": "Review",
                "action": "PRODUCT_REVIEW",
                "points": 50,
                "frequency": "UNLIMITED",
            },
        },
        (
            "rule",
            {"name": "Review", "action": "PRODUCT_REVIEW", "points": 60, "frequency": "UNLIMITED"},
        ),
    ),
    (
        "createPunchCard",
        "CreatePunchCardInput",
        "punchCard",
        "punch_cards",
        lambda reward_id: {
            "programSlug": "shop",
            "name": "Coffee",
            "rewardId": reward_id,
            "punchesNeeded": 5,
            "skus": ["CUP"],
        },
        ("punchesNeeded", 6),
    ),
    (
        "enrollMember",
        "EnrollMemberInput",
        "member",
        "members",
        lambda _: {"programSlug": "shop", "customerId": "cust-keyed"},
        ("email", "someone@example.com"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
async def test_a_retry_with_the_key_answers_the_first_result(
    api: Api, case: tuple[str, str, str, str, Any, tuple[str, Any]]
) -> None:
    mutation, input_type, result, table, make_input, (changed, value) = case
    await create_program(api)
    reward = await make_reward(api, kind="FREE_PRODUCT", valueMinor=None, skus=["CUP"])
    document = _document(mutation, input_type, result)
    keyed = {**make_input(reward["id"]), "idempotencyKey": "create-1"}
    before = len(await rows(f"SELECT id FROM {table}"))

    first = (await api.data(document, {"input": keyed}))[mutation]
    again = (await api.data(document, {"input": keyed}))[mutation]
    other = (await api.data(document, {"input": {**keyed, changed: value}}))[mutation]

    assert first["userErrors"] == []
    assert again == first
    assert other["userErrors"] == [
        {"code": "IDEMPOTENCY_KEY_REUSED", "field": ["input", "idempotencyKey"]}
    ]
    assert len(await rows(f"SELECT id FROM {table}")) == before + 1


async def test_without_a_key_each_create_makes_its_own(api: Api) -> None:
    await create_program(api)
    first = await make_reward(api)
    second = await make_reward(api)
    assert first["id"] != second["id"]


async def test_a_key_too_long_is_refused(api: Api) -> None:
    await create_program(api)
    document = _document("createReward", "CreateRewardInput", "reward")
    answer = await api.data(
        document,
        {
            "input": {
                "programSlug": "shop",
                "name": "x",
                "kind": "FIXED_DISCOUNT",
                "costPoints": 1,
                "valueMinor": 1,
                "idempotencyKey": "k" * 300,
            }
        },
    )
    assert answer["createReward"]["userErrors"] == [
        {"code": "TOO_LONG", "field": ["input", "idempotencyKey"]}
    ]
