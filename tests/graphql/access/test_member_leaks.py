"""A generated walk of the whole schema as member A of program `shop`, aimed at member B of the
same program and member C of program `rival`: every query and every mutation, with every id
argument pointing at B's or C's objects. Nothing of B or C may come back in `data`, and no
mutation may write anything.

The walk reads the schema by introspection, so a field added later is walked too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from app.auth.api_keys import KeyKind, Principal
from app.db import connection, fetch_one
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    create_reward,
    enroll,
    grant_points,
    program_key,
    record_order,
)

INTROSPECTION = """
query {
  __schema {
    queryType { name }
    mutationType { name }
    types {
      name kind
      fields { name args { name type { ...TypeRef } } type { ...TypeRef } }
      inputFields { name type { ...TypeRef } }
      enumValues { name }
      possibleTypes { name }
    }
  }
}
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}"""

# Every table a write could touch; the walk must leave each row count as it found it.
TABLES = [
    "members",
    "ledger_transactions",
    "ledger_entries",
    "point_lots",
    "orders",
    "redemptions",
    "rewards",
    "action_records",
    "action_rules",
    "earning_rules",
    "outbox_events",
    "idempotency_records",
    "programs",
    "api_keys",
    "token_signing_secrets",
    "expiry_warnings",
    "store_credit_movements",
    "punch_cards",
    "punch_card_progress",
    "punch_card_punches",
    "punch_card_rewards",
]


@dataclass
class Targets:
    """Objects of the victims: what ids and names the walk sends, and what must not leak."""

    ids: dict[str, str]
    strings: dict[str, str]
    secrets: list[str]


def _named(type_ref: dict[str, Any]) -> dict[str, Any]:
    while type_ref.get("ofType") is not None and type_ref["kind"] in ("NON_NULL", "LIST"):
        type_ref = type_ref["ofType"]
    return type_ref


def _is_required(type_ref: dict[str, Any]) -> bool:
    return bool(type_ref["kind"] == "NON_NULL")


def _is_list(type_ref: dict[str, Any]) -> bool:
    while type_ref["kind"] == "NON_NULL":
        type_ref = type_ref["ofType"]
    return bool(type_ref["kind"] == "LIST")


class Walker:
    def __init__(self, schema: dict[str, Any], targets: Targets) -> None:
        self.types = {t["name"]: t for t in schema["types"]}
        self.targets = targets

    def value(self, name: str, type_ref: dict[str, Any], depth: int = 0) -> Any:
        named = _named(type_ref)
        kind, type_name = named["kind"], named["name"]
        single: Any
        if kind == "INPUT_OBJECT":
            single = self.input_object(type_name, depth)
        elif kind == "ENUM":
            single = self.types[type_name]["enumValues"][0]["name"]
        elif type_name == "ID":
            single = self.targets.ids.get(name, self.targets.ids["memberId"])
        elif type_name == "String":
            single = self.targets.strings.get(name, f"walk-{uuid.uuid4().hex[:8]}")
        elif type_name == "Int":
            single = 1
        elif type_name == "Float":
            single = 1.0
        elif type_name == "Boolean":
            single = False
        elif type_name == "DateTime":
            single = "2026-11-20T10:00:00+00:00"
        elif type_name == "Date":
            single = "1990-01-01"
        else:
            single = {}
        return [single] if _is_list(type_ref) else single

    def input_object(self, type_name: str, depth: int) -> dict[str, Any]:
        fields = self.types[type_name]["inputFields"]
        return {
            field["name"]: self.value(field["name"], field["type"], depth + 1)
            for field in fields
            if _is_required(field["type"]) or field["name"] in self.targets.ids
        }

    def selection(self, type_ref: dict[str, Any], depth: int = 0) -> str:
        """Every field without required arguments, to a depth of 4."""
        named = _named(type_ref)
        if named["kind"] in ("SCALAR", "ENUM"):
            return ""
        definition = self.types[named["name"]]
        if depth >= 4:
            return "{ __typename }"
        if named["kind"] in ("INTERFACE", "UNION"):
            return self.fragments(definition)
        parts = ["__typename"]
        for field in definition["fields"] or []:
            if any(_is_required(arg["type"]) for arg in field["args"]):
                continue
            inner = self.selection(field["type"], depth + 1)
            # One item per page keeps the whole walk under the cost limit, which would
            # otherwise refuse the document before it ran.
            paged = any(arg["name"] == "first" for arg in field["args"])
            call = f"{field['name']}(first: 1)" if paged else field["name"]
            parts.append(f"{call} {inner}".strip())
        return "{ " + " ".join(parts) + " }"

    def fragments(self, interface: dict[str, Any], only: str | None = None) -> str:
        """Each type an interface can be (or just `only`), with its own scalar fields; a name
        two types give different types gets an alias (GraphQL refuses the clash otherwise)."""
        types = [
            self.types[p["name"]]
            for p in interface["possibleTypes"] or []
            if only is None or p["name"] == only
        ]
        shapes: dict[str, set[str]] = {}
        for definition in types:
            for field in definition["fields"] or []:
                shapes.setdefault(field["name"], set()).add(_type_text(field["type"]))
        fragments = []
        for definition in types:
            fields = [
                field["name"]
                if len(shapes[field["name"]]) == 1
                else f"{definition['name']}_{field['name']}: {field['name']}"
                for field in definition["fields"] or []
                if _named(field["type"])["kind"] in ("SCALAR", "ENUM")
                and not any(_is_required(arg["type"]) for arg in field["args"])
            ]
            fragments.append(f"... on {definition['name']} {{ {' '.join(fields)} }}")
        return "{ __typename " + " ".join(fragments) + " }"

    def operations(self, root: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(field, document, variables) for every field of a root type."""
        operations = []
        keyword = "query" if root == "Query" else "mutation"
        for field in self.types[root]["fields"]:
            # `first` goes as a literal: the cost limit counts a variable page as the maximum.
            sent = [arg for arg in field["args"] if arg["name"] != "first"]
            variables = {arg["name"]: self.value(arg["name"], arg["type"]) for arg in sent}
            declared = ", ".join(f"${arg['name']}: {_type_text(arg['type'])}" for arg in sent)
            arguments = ", ".join(
                [f"{arg['name']}: ${arg['name']}" for arg in sent]
                + ["first: 1" for arg in field["args"] if arg["name"] == "first"]
            )
            head = f"{keyword}({declared})" if declared else keyword
            call = f"{field['name']}({arguments})" if arguments else field["name"]
            named = _named(field["type"])
            if named["kind"] in ("INTERFACE", "UNION"):
                # One document per possible type: all of them at once pass the alias limit.
                interface = self.types[named["name"]]
                for possible in interface["possibleTypes"] or []:
                    selection = self.fragments(interface, only=possible["name"])
                    document = f"{head} {{ {call} {selection} }}"
                    operations.append((field["name"], document, variables))
                continue
            document = f"{head} {{ {call} {self.selection(field['type'])} }}"
            operations.append((field["name"], document, variables))
        return operations


def _type_text(type_ref: dict[str, Any]) -> str:
    if type_ref["kind"] == "NON_NULL":
        return _type_text(type_ref["ofType"]) + "!"
    if type_ref["kind"] == "LIST":
        return "[" + _type_text(type_ref["ofType"]) + "]"
    return str(type_ref["name"])


async def _row_counts() -> dict[str, int]:
    counts = {}
    for table in TABLES:
        row = await fetch_one(connection(), f"SELECT COUNT(*) AS n FROM {table}")
        assert row is not None
        counts[table] = int(row["n"])
    return counts


async def _victims(api: Api) -> tuple[list[Targets], str, str]:
    """Program `shop` with members A and B, program `rival` with C; A's token and key.

    Two walks: one aimed at B (same program as A), one at C (another program)."""
    await create_program(api, "shop")
    await create_program(api, "rival")
    await enroll(api, "shop", "cust-a", email="a@example.com")
    member_a = (
        await api.data(
            'query { memberByCustomerId(programSlug: "shop", customerId: "cust-a") { id } }'
        )
    )["memberByCustomerId"]
    await grant_points(api, member_a["id"], 100)
    reward = await create_reward(api, "shop", cost_points=10)
    # A punch card that the victims' orders (SKU-1) punch in `shop`.
    card = await api.data(
        "mutation($input: CreatePunchCardInput!) { createPunchCard(input: $input) {"
        " punchCard { id } userErrors { code } } }",
        {
            "input": {
                "programSlug": "shop",
                "name": "Shoe card",
                "rewardId": reward["id"],
                "punchesNeeded": 5,
                "skus": ["SKU-1"],
            }
        },
    )
    assert card["createPunchCard"]["userErrors"] == []
    victims = []
    for slug, customer, email in (
        ("shop", "cust-b", "bee@victim.example"),
        ("rival", "cust-c", "sea@victim.example"),
    ):
        member = await enroll(api, slug, customer, email=email)
        order = await record_order(
            api, program_slug=slug, order_id=f"order-{customer}", customer_id=customer
        )
        await grant_points(api, member["id"], 100)
        victim_reward = reward if slug == "shop" else await create_reward(api, slug, cost_points=10)
        redeemed = await api.data(
            "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) {"
            " redemption { id code } userErrors { code } } }",
            {
                "input": {
                    "memberId": member["id"],
                    "rewardId": victim_reward["id"],
                    "idempotencyKey": f"redeem-{customer}",
                }
            },
        )
        redemption = redeemed["redeemReward"]["redemption"]
        credit = await api.data(
            "mutation($i: IssueStoreCreditInput!, $s: SpendStoreCreditInput!) {"
            " issueStoreCredit(input: $i) { userErrors { code } }"
            " spendStoreCredit(input: $s) { movement { id } userErrors { code } } }",
            {
                "i": {
                    "memberId": member["id"],
                    "amountMinor": 4321,
                    "currency": "EUR",
                    "reason": "Goodwill",
                    "idempotencyKey": f"credit-{customer}",
                },
                "s": {
                    "memberId": member["id"],
                    "amountMinor": 1234,
                    "currency": "EUR",
                    "orderId": f"order-{customer}",
                    "idempotencyKey": f"spend-{customer}",
                },
            },
        )
        spend = credit["spendStoreCredit"]["movement"]
        activity = await api.data(
            "query($id: ID!) { member(id: $id) { activity { edges { node { id } } } } }",
            {"id": member["id"]},
        )
        victims.append(
            Targets(
                ids={
                    "id": member["id"],
                    "memberId": member["id"],
                    "rewardId": victim_reward["id"],
                    "orderPk": order["order"]["id"],
                    "activityId": activity["member"]["activity"]["edges"][0]["node"]["id"],
                    "redemptionId": redemption["id"],
                    "spendId": spend["id"],
                },
                strings={
                    "programSlug": slug,
                    "slug": slug,
                    "customerId": customer,
                    "orderId": f"order-{customer}",
                    "code": redemption["code"],
                    "currency": "EUR",
                },
                secrets=[
                    customer,
                    email,
                    redemption["code"],
                    member["id"],
                    order["order"]["id"],
                    redemption["id"],
                    spend["id"],
                ],
            )
        )
    token = await api.data(
        'mutation { createMemberToken(input: {programSlug: "shop", customerId: "cust-a"})'
        " { token userErrors { code } } }"
    )
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    return victims, publishable, token["createMemberToken"]["token"]


async def _walk(api: Api, walker: Walker, root: str, key: str, token: str) -> list[str]:
    leaks = []
    for name, document, variables in walker.operations(root):
        response = await api.http.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {key}", "X-Member-Token": token},
        )
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        # A document the server refuses before running it would prove nothing: each must run.
        refused_early = [
            error
            for error in body.get("errors", [])
            # Refused before execution: limits, validation (no path into the data).
            if "path" not in error
        ]
        assert refused_early == [], (name, refused_early)
        data_text = json.dumps(body.get("data"))
        for secret in walker.targets.secrets:
            if secret in data_text:
                leaks.append(f"{root}.{name} returned {secret!r}: {data_text[:300]}")
        payload = (body.get("data") or {}).get(name)
        if root == "Mutation" and isinstance(payload, dict) and not payload.get("userErrors"):
            leaks.append(f"Mutation.{name} was not refused: {data_text[:300]}")
    return leaks


async def test_a_member_token_reaches_nothing_of_other_members_or_programs(api: Api) -> None:
    victims, publishable, token = await _victims(api)
    schema = (await api.data(INTROSPECTION))["__schema"]
    before = await _row_counts()

    leaks: list[str] = []
    walked = 0
    for targets in victims:
        walker = Walker(schema, targets)
        for root in ("Query", "Mutation"):
            leaks += await _walk(api, walker, root, publishable, token)
            walked += len({name for name, _, _ in walker.operations(root)})
    after = await _row_counts()

    assert leaks == []
    assert after == before
    # Every query and mutation of the schema was walked, twice.
    assert walked == 2 * sum(
        len(t["fields"]) for t in schema["types"] if t["name"] in ("Query", "Mutation")
    )


async def test_the_walk_finds_a_planted_hole(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk above must be able to fail: let publishable keys read members, and it sees B."""
    victims, publishable, token = await _victims(api)
    schema = (await api.data(INTROSPECTION))["__schema"]
    monkeypatch.setattr(Principal, "can_read_members", property(lambda self: True))

    leaks = await _walk(api, Walker(schema, victims[0]), "Query", publishable, token)

    assert any(leak.startswith("Query.member returned") for leak in leaks), leaks
    assert any(leak.startswith("Query.node returned") for leak in leaks), leaks
