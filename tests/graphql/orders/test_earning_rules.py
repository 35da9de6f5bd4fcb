"""Earning rules over HTTP: admin CRUD, what orders earn with them, previews, and events.

The amounts are chosen so every expected number can be checked by hand: the default program
earns 1 point per euro, rounded down, and the default cart is 2 x 12.50 EUR of shoes (25 base
points) plus 1 x 5.00 EUR of socks (5 base points). Campaign windows lie in the past (the first
week of March 2025), because an order's placedAt must be between 2000 and tomorrow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.auth.api_keys import KeyKind
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    create_program,
    enroll,
    member_status,
    order_input,
    program_key,
)
from tests.graphql.helpers import (
    global_id,
    pk_of,
    snapshot_with_rules,
    top_level_codes,
)

# --- GraphQL documents ------------------------------------------------------------------------

RULE_FIELDS = """
id name kind multiplier points priority exclusive minimumOrderMinor
includeSkus includeCategories excludeSkus excludeCategories startsAt endsAt paused
createdAt updatedAt
"""
CREATE_RULE = f"""
mutation($input: CreateEarningRuleInput!) {{
  createEarningRule(input: $input) {{
    rule {{ {RULE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
UPDATE_RULE = f"""
mutation($input: UpdateEarningRuleInput!) {{
  updateEarningRule(input: $input) {{
    rule {{ {RULE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
PAUSE_RULE = f"""
mutation($input: SetEarningRulePausedInput!) {{
  setEarningRulePaused(input: $input) {{
    rule {{ {RULE_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}"""
EARNING_RULES = f"""
query($slug: String!) {{ earningRules(programSlug: $slug) {{ {RULE_FIELDS} }} }}"""
RULE_NODE = f"""
query($id: ID!) {{ node(id: $id) {{ __typename ... on EarningRule {{ {RULE_FIELDS} }} }} }}"""

COMPONENT_FIELDS = "source ruleId multiplier points baseMinor"
EARNING_FIELDS = f"""
points baseMinor
lines {{
  index sku category quantity baseMinor points
  components {{ {COMPONENT_FIELDS} }}
}}
orderComponents {{ {COMPONENT_FIELDS} }}
"""
RECORD = f"""
mutation($input: RecordOrderInput!) {{
  recordOrder(input: $input) {{
    order {{ id orderId pointsEarned earning {{ {EARNING_FIELDS} }} }}
    alreadyRecorded
    userErrors {{ field message code }}
  }}
}}"""
ORDER_NODE = f"""
query($id: ID!) {{
  node(id: $id) {{ ... on Order {{ id orderId pointsEarned earning {{ {EARNING_FIELDS} }} }} }}
}}"""
PREVIEW = f"""
query($input: PreviewOrderInput!) {{
  previewOrderPoints(input: $input) {{ {EARNING_FIELDS} }}
}}"""
EVENTS = """
query($slug: String!, $type: String) {
  events(programSlug: $slug, type: $type) { edges { node { type memberId payload } } }
}"""

# --- Carts and campaign windows ---------------------------------------------------------------

SHOES = {"sku": "SKU-1", "category": "shoes", "quantity": 2, "unitPriceMinor": 1250}
SOCKS = {"sku": "SKU-9", "category": "socks", "quantity": 1, "unitPriceMinor": 500}
CART = (SHOES, SOCKS)

WEEK_START = "2025-03-01T00:00:00+00:00"
WEEK_END = "2025-03-08T00:00:00+00:00"
INSIDE = "2025-03-04T12:00:00+00:00"
FORBIDDEN_ADMIN = [{"field": None, "message": "this needs an admin key", "code": "FORBIDDEN"}]


def rule_field(name: str) -> list[str]:
    """Where a problem in a rule definition is reported: the definition is `input.rule`."""
    return ["input", "rule", name]


def definition(kind: str = "MULTIPLIER", **fields: Any) -> dict[str, Any]:
    """An EarningRuleDefinition: a 2x multiplier on every line unless overridden."""
    values: dict[str, Any] = {"name": "Double points", "kind": kind}
    if kind == "MULTIPLIER":
        values["multiplier"] = "2"
    values.update(fields)
    return values


async def create_rule(api: Api, program_slug: str = "shop", **fields: Any) -> dict[str, Any]:
    data = await api.data(
        CREATE_RULE, {"input": {"programSlug": program_slug, "rule": definition(**fields)}}
    )
    payload = data["createEarningRule"]
    assert payload["userErrors"] == []
    rule: dict[str, Any] = payload["rule"]
    return rule


async def update_rule(api: Api, rule_id: str, **fields: Any) -> dict[str, Any]:
    data = await api.data(UPDATE_RULE, {"input": {"id": rule_id, "rule": definition(**fields)}})
    payload = data["updateEarningRule"]
    assert payload["userErrors"] == []
    rule: dict[str, Any] = payload["rule"]
    return rule


async def set_paused(api: Api, rule_id: str, paused: bool) -> dict[str, Any]:
    data = await api.data(PAUSE_RULE, {"input": {"id": rule_id, "paused": paused}})
    payload = data["setEarningRulePaused"]
    assert payload["userErrors"] == []
    rule: dict[str, Any] = payload["rule"]
    return rule


def cart_order(
    order_id: str,
    lines: Sequence[dict[str, Any]] = CART,
    placed_at: str = INSIDE,
    *,
    program_slug: str = "shop",
    shipping: int = 0,
    tax: int = 0,
    discount: int = 0,
) -> dict[str, Any]:
    """A RecordOrderInput whose total is consistent with its lines."""
    lines_total = sum(line["quantity"] * line["unitPriceMinor"] for line in lines)
    return order_input(
        order_id=order_id,
        program_slug=program_slug,
        lines=list(lines),
        totalMinor=lines_total + shipping + tax - discount,
        placedAt=placed_at,
        shippingMinor=shipping,
        taxMinor=tax,
        discountMinor=discount,
    )


async def record(
    api: Api,
    order_id: str,
    lines: Sequence[dict[str, Any]] = CART,
    placed_at: str = INSIDE,
    **options: Any,
) -> dict[str, Any]:
    """Record an order that must be accepted; the order with its stored `earning`."""
    data = await api.data(RECORD, {"input": cart_order(order_id, lines, placed_at, **options)})
    payload = data["recordOrder"]
    assert payload["userErrors"] == [], payload
    assert payload["alreadyRecorded"] is False
    order: dict[str, Any] = payload["order"]
    return order


def preview_input(
    lines: Sequence[dict[str, Any]] = CART,
    placed_at: str | None = INSIDE,
    *,
    program_slug: str = "shop",
    currency: str = "EUR",
    shipping: int = 0,
    tax: int = 0,
    discount: int = 0,
) -> dict[str, Any]:
    return {
        "programSlug": program_slug,
        "currency": currency,
        "lines": list(lines),
        "shippingMinor": shipping,
        "taxMinor": tax,
        "discountMinor": discount,
        "placedAt": placed_at,
    }


async def preview(api: Api, key: str | None = None, **cart: Any) -> dict[str, Any]:
    data = await api.data(PREVIEW, {"input": preview_input(**cart)}, key=key)
    earning: dict[str, Any] = data["previewOrderPoints"]
    return earning


def component(
    source: str,
    points: int,
    base_minor: int,
    rule: dict[str, Any] | None = None,
    multiplier: str | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "ruleId": None if rule is None else rule["id"],
        "multiplier": multiplier,
        "points": points,
        "baseMinor": base_minor,
    }


def base(points: int, base_minor: int) -> dict[str, Any]:
    return component("BASE", points, base_minor)


def by_rule(
    rule: dict[str, Any], points: int, base_minor: int, multiplier: str | None = None
) -> dict[str, Any]:
    return component("RULE", points, base_minor, rule, multiplier)


def line(
    index: int, order_line: dict[str, Any], base_minor: int, components: list[dict[str, Any]]
) -> dict[str, Any]:
    """A LineEarning: its points are the sum of its components (stacking policy, 7)."""
    return {
        "index": index,
        "sku": order_line["sku"],
        "category": order_line.get("category"),
        "quantity": order_line["quantity"],
        "baseMinor": base_minor,
        "points": sum(c["points"] for c in components),
        "components": components,
    }


def earning(
    points: int,
    base_minor: int,
    lines: list[dict[str, Any]],
    order_components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "points": points,
        "baseMinor": base_minor,
        "lines": lines,
        "orderComponents": order_components or [],
    }


def plain_cart_earning() -> dict[str, Any]:
    """CART with no rule applied: 30 base points, shared 25 / 5."""
    return earning(
        30, 3000, [line(0, SHOES, 2500, [base(25, 2500)]), line(1, SOCKS, 500, [base(5, 500)])]
    )


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


# --- Creating, reading, changing rules --------------------------------------------------------


async def test_an_admin_creates_a_campaign_and_reads_it_back_everywhere(api: Api) -> None:
    await create_program(api)

    data = await api.data(
        CREATE_RULE,
        {
            "input": {
                "programSlug": "shop",
                "rule": {
                    "name": "  Spring shoes  ",
                    "kind": "MULTIPLIER",
                    "multiplier": "2.50",
                    "priority": 5,
                    "exclusive": True,
                    "minimumOrderMinor": 1000,
                    "includeSkus": ["SKU-2", " SKU-1 ", "SKU-1"],
                    "includeCategories": ["shoes"],
                    "excludeSkus": ["GIFT"],
                    "excludeCategories": ["gift-cards"],
                    "startsAt": "2025-03-01T01:00:00+01:00",
                    "endsAt": "2025-03-07T19:00:00-05:00",
                },
            }
        },
    )

    payload = data["createEarningRule"]
    assert payload["userErrors"] == []
    rule = payload["rule"]
    assert rule["id"] == global_id("EarningRule", pk_of(rule["id"]))
    created_at = datetime.fromisoformat(rule["createdAt"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)
    assert rule["updatedAt"] == rule["createdAt"]
    assert {k: v for k, v in rule.items() if k not in ("id", "createdAt", "updatedAt")} == {
        "name": "Spring shoes",
        "kind": "MULTIPLIER",
        "multiplier": "2.5",
        "points": None,
        "priority": 5,
        "exclusive": True,
        "minimumOrderMinor": 1000,
        "includeSkus": ["SKU-1", "SKU-2"],
        "includeCategories": ["shoes"],
        "excludeSkus": ["GIFT"],
        "excludeCategories": ["gift-cards"],
        "startsAt": WEEK_START,
        "endsAt": WEEK_END,
        "paused": False,
    }
    assert await api.data(EARNING_RULES, {"slug": "shop"}) == {"earningRules": [rule]}
    assert await api.data(RULE_NODE, {"id": rule["id"]}) == {
        "node": {"__typename": "EarningRule", **rule}
    }


async def test_a_bonus_rule_has_points_and_no_multiplier(api: Api) -> None:
    await create_program(api)

    rule = await create_rule(api, kind="BONUS_PER_UNIT", name="Sock bonus", points=10)

    assert rule["kind"] == "BONUS_PER_UNIT"
    assert rule["points"] == 10
    assert rule["multiplier"] is None
    assert (rule["priority"], rule["exclusive"], rule["minimumOrderMinor"]) == (0, False, 0)
    assert (rule["includeSkus"], rule["includeCategories"]) == ([], [])
    assert (rule["excludeSkus"], rule["excludeCategories"]) == ([], [])
    assert (rule["startsAt"], rule["endsAt"], rule["paused"]) == (None, None, False)


async def test_values_at_the_limits_are_accepted(api: Api) -> None:
    await create_program(api)
    one_microsecond_later = "2025-03-01T00:00:00.000001+00:00"
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"multiplier": "1.01"}, {"multiplier": "1.01"}),
        ({"multiplier": "99.99"}, {"multiplier": "99.99"}),
        ({"multiplier": " 3 "}, {"multiplier": "3"}),
        ({"multiplier": "1.50"}, {"multiplier": "1.5"}),
        # Accepted; how it reads back: test_a_whole_multiplier_reads_back_as_written.
        ({"multiplier": "100"}, {"kind": "MULTIPLIER"}),
        ({"priority": -1000}, {"priority": -1000}),
        ({"priority": 1000}, {"priority": 1000}),
        ({"kind": "BONUS_PER_ORDER", "points": 1}, {"points": 1, "multiplier": None}),
        ({"kind": "BONUS_PER_UNIT", "points": 1_000_000}, {"points": 1_000_000}),
        ({"minimumOrderMinor": 1_000_000_000}, {"minimumOrderMinor": 1_000_000_000}),
        ({"name": "n" * 200}, {"name": "n" * 200}),
        (
            {"startsAt": WEEK_START, "endsAt": one_microsecond_later},
            {"startsAt": WEEK_START, "endsAt": one_microsecond_later},
        ),
    ]

    for fields, expected in cases:
        rule = await create_rule(api, **fields)

        assert {key: rule[key] for key in expected} == expected, fields
    listed = await api.data(EARNING_RULES, {"slug": "shop"})
    assert len(listed["earningRules"]) == len(cases)


async def test_a_whole_multiplier_reads_back_as_written(api: Api) -> None:
    await create_program(api)
    await enroll(api)

    rules = [await create_rule(api, multiplier=value) for value in ("10", "20", "100")]
    order = await record(api, "order-1", [SOCKS])

    # Decimal.normalize() turns "10" into "1E+1": a client reads an exponent, not a number.
    assert [rule["multiplier"] for rule in rules] == ["10", "20", "100"]
    assert order["earning"]["lines"][0]["components"][1]["multiplier"] == "100"


async def test_earning_rules_lists_by_priority_then_age_and_one_program_only(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    low = await create_rule(api, name="Low", priority=-5)
    first_high = await create_rule(api, name="High A", priority=10)
    zero = await create_rule(api, kind="BONUS_PER_UNIT", name="Zero", points=3)
    second_high = await create_rule(api, name="High B", priority=10)
    elsewhere = await create_rule(api, program_slug="other", name="Elsewhere")

    shop = await api.data(EARNING_RULES, {"slug": "shop"})
    other = await api.data(EARNING_RULES, {"slug": "other"})
    unknown = await api.data(EARNING_RULES, {"slug": "nope"})

    assert shop == {"earningRules": [first_high, second_high, zero, low]}
    assert other == {"earningRules": [elsewhere]}
    assert unknown == {"earningRules": []}


async def test_a_secret_key_reads_the_rules_of_its_own_program_only(api: Api) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    mine = await create_rule(api)
    theirs = await create_rule(api, program_slug="other")
    key = await program_key("shop")

    assert await api.data(EARNING_RULES, {"slug": "shop"}, key=key) == {"earningRules": [mine]}
    assert await api.data(EARNING_RULES, {"slug": "other"}, key=key) == {"earningRules": []}
    assert await api.data(RULE_NODE, {"id": mine["id"]}, key=key) == {
        "node": {"__typename": "EarningRule", **mine}
    }
    assert await api.data(RULE_NODE, {"id": theirs["id"]}, key=key) == {"node": None}


async def test_a_publishable_key_cannot_read_rules(api: Api) -> None:
    await create_program(api)
    rule = await create_rule(api)
    key = await program_key("shop", KeyKind.PUBLISHABLE)

    listed = await api.gql(EARNING_RULES, {"slug": "shop"}, key=key)
    as_node = await api.gql(RULE_NODE, {"id": rule["id"]}, key=key)

    assert listed["data"] is None
    assert top_level_codes(listed) == ["FORBIDDEN"]
    assert listed["errors"][0]["path"] == ["earningRules"]
    assert as_node == {"data": {"node": None}}


async def test_only_an_admin_key_creates_changes_or_pauses_rules(api: Api) -> None:
    await create_program(api)
    rule = await create_rule(api)
    keys = [await program_key("shop", kind) for kind in (KeyKind.SECRET, KeyKind.PUBLISHABLE)]
    before = await snapshot_with_rules()

    for key in keys:
        created = await api.data(
            CREATE_RULE, {"input": {"programSlug": "shop", "rule": definition()}}, key=key
        )
        updated = await api.data(
            UPDATE_RULE, {"input": {"id": rule["id"], "rule": definition(name="x")}}, key=key
        )
        paused = await api.data(PAUSE_RULE, {"input": {"id": rule["id"], "paused": True}}, key=key)

        assert created["createEarningRule"] == {"rule": None, "userErrors": FORBIDDEN_ADMIN}
        assert updated["updateEarningRule"] == {"rule": None, "userErrors": FORBIDDEN_ADMIN}
        assert paused["setEarningRulePaused"] == {"rule": None, "userErrors": FORBIDDEN_ADMIN}
    assert await snapshot_with_rules() == before


async def test_an_update_replaces_the_whole_definition(api: Api) -> None:
    await create_program(api)
    created = await create_rule(
        api,
        name="Shoe week",
        priority=3,
        exclusive=True,
        minimumOrderMinor=500,
        includeCategories=["shoes"],
        excludeSkus=["SKU-7"],
        startsAt=WEEK_START,
        endsAt=WEEK_END,
    )

    updated = await update_rule(
        api, created["id"], kind="BONUS_PER_ORDER", name="Welcome bonus", points=100
    )

    assert updated == {
        **created,
        "name": "Welcome bonus",
        "kind": "BONUS_PER_ORDER",
        "multiplier": None,
        "points": 100,
        "priority": 0,
        "exclusive": False,
        "minimumOrderMinor": 0,
        "includeCategories": [],
        "excludeSkus": [],
        "startsAt": None,
        "endsAt": None,
        "updatedAt": updated["updatedAt"],
    }
    assert datetime.fromisoformat(updated["updatedAt"]) > datetime.fromisoformat(
        created["updatedAt"]
    )
    assert await api.data(EARNING_RULES, {"slug": "shop"}) == {"earningRules": [updated]}


async def test_a_rule_is_paused_and_resumed_and_an_update_keeps_it_paused(api: Api) -> None:
    await create_program(api)
    created = await create_rule(api)

    paused = await set_paused(api, created["id"], True)
    updated = await update_rule(api, created["id"], multiplier="3")
    listed = await api.data(EARNING_RULES, {"slug": "shop"})
    resumed = await set_paused(api, created["id"], False)

    assert paused == {**created, "paused": True, "updatedAt": paused["updatedAt"]}
    assert datetime.fromisoformat(paused["updatedAt"]) > datetime.fromisoformat(
        created["updatedAt"]
    )
    assert (updated["paused"], updated["multiplier"]) == (True, "3")
    assert listed == {"earningRules": [updated]}
    assert resumed == {**updated, "paused": False, "updatedAt": resumed["updatedAt"]}


# --- Refused rule changes ---------------------------------------------------------------------

# (definition fields, the exact userErrors as (code, field)); every definition is refused whole.
BAD_DEFINITIONS: list[tuple[dict[str, Any], list[tuple[str, list[str]]]]] = [
    *(
        ({"multiplier": value}, [("INVALID_VALUE", rule_field("multiplier"))])
        for value in ("1", "0.5", "101", "1.234", "abc", "NaN", "Infinity", "-2", "100.01", "")
    ),
    # A multiplier rule without its multiplier: INVALID_VALUE, where a bonus rule without its
    # points gets REQUIRED (reported as an inconsistency).
    ({"multiplier": None}, [("INVALID_VALUE", rule_field("multiplier"))]),
    ({"points": 10}, [("INVALID_VALUE", rule_field("points"))]),
    ({"kind": "BONUS_PER_UNIT"}, [("REQUIRED", rule_field("points"))]),
    ({"kind": "BONUS_PER_ORDER"}, [("REQUIRED", rule_field("points"))]),
    ({"kind": "BONUS_PER_ORDER", "points": 0}, [("INVALID_POINTS", rule_field("points"))]),
    ({"kind": "BONUS_PER_UNIT", "points": -5}, [("INVALID_POINTS", rule_field("points"))]),
    (
        {"kind": "BONUS_PER_UNIT", "points": 1_000_001},
        [("INVALID_POINTS", rule_field("points"))],
    ),
    (
        {"kind": "BONUS_PER_UNIT", "points": 5, "multiplier": "2"},
        [("INVALID_VALUE", rule_field("multiplier"))],
    ),
    (
        {"startsAt": WEEK_END, "endsAt": WEEK_START},
        [("INVALID_VALUE", rule_field("endsAt"))],
    ),
    (
        {"startsAt": WEEK_START, "endsAt": "2025-03-01T01:00:00+01:00"},  # the same moment
        [("INVALID_VALUE", rule_field("endsAt"))],
    ),
    ({"startsAt": "2025-03-01T00:00:00"}, [("INVALID_VALUE", rule_field("startsAt"))]),
    ({"endsAt": "2025-03-08T00:00:00"}, [("INVALID_VALUE", rule_field("endsAt"))]),
    ({"priority": 1001}, [("INVALID_VALUE", rule_field("priority"))]),
    ({"priority": -1001}, [("INVALID_VALUE", rule_field("priority"))]),
    ({"minimumOrderMinor": -1}, [("INVALID_AMOUNT", rule_field("minimumOrderMinor"))]),
    (
        {"minimumOrderMinor": 1_000_000_001},
        [("INVALID_AMOUNT", rule_field("minimumOrderMinor"))],
    ),
    ({"name": "   "}, [("REQUIRED", rule_field("name"))]),
    ({"name": "n" * 201}, [("TOO_LONG", rule_field("name"))]),
    ({"name": "a\x00b"}, [("INVALID_VALUE", rule_field("name"))]),
    ({"includeSkus": ["SKU-1", " "]}, [("REQUIRED", [*rule_field("includeSkus"), "1"])]),
    (
        {"excludeCategories": ["c" * 129]},
        [("TOO_LONG", [*rule_field("excludeCategories"), "0"])],
    ),
    ({"includeCategories": ["c"] * 1001}, [("TOO_MANY", rule_field("includeCategories"))]),
    (
        {"name": "", "multiplier": "1", "priority": 2000, "excludeSkus": [""]},
        [
            ("REQUIRED", rule_field("name")),
            ("INVALID_VALUE", rule_field("multiplier")),
            ("INVALID_VALUE", rule_field("priority")),
            ("REQUIRED", [*rule_field("excludeSkus"), "0"]),
        ],
    ),
]


async def test_bad_definitions_are_refused_on_create_with_exact_codes(api: Api) -> None:
    await create_program(api)
    await create_rule(api)
    before = await snapshot_with_rules()

    for fields, expected in BAD_DEFINITIONS:
        data = await api.data(
            CREATE_RULE, {"input": {"programSlug": "shop", "rule": definition(**fields)}}
        )

        payload = data["createEarningRule"]
        assert payload["rule"] is None, fields
        assert errors_of(payload) == expected, fields
    assert await snapshot_with_rules() == before


async def test_bad_definitions_are_refused_on_update_and_the_rule_is_unchanged(api: Api) -> None:
    await create_program(api)
    rule = await create_rule(api, name="Shoe week", includeCategories=["shoes"])
    before = await snapshot_with_rules()

    for fields, expected in BAD_DEFINITIONS:
        data = await api.data(
            UPDATE_RULE, {"input": {"id": rule["id"], "rule": definition(**fields)}}
        )

        payload = data["updateEarningRule"]
        assert payload["rule"] is None, fields
        assert errors_of(payload) == expected, fields
    assert await snapshot_with_rules() == before
    assert await api.data(EARNING_RULES, {"slug": "shop"}) == {"earningRules": [rule]}


async def test_campaign_bounds_no_calendar_can_hold_in_utc_are_refused_not_crashing(
    api: Api,
) -> None:
    await create_program(api)
    before = await snapshot_with_rules()

    # Both are valid DateTime inputs whose UTC time falls outside years 1..9999.
    for field, moment in (
        ("startsAt", "9999-12-31T23:59:59-01:00"),
        ("endsAt", "0001-01-01T00:00:00+01:00"),
    ):
        body = await api.gql(
            CREATE_RULE, {"input": {"programSlug": "shop", "rule": definition(**{field: moment})}}
        )

        assert "errors" not in body, (field, body)
        payload = body["data"]["createEarningRule"]
        assert errors_of(payload) == [("INVALID_VALUE", rule_field(field))], field
    assert await snapshot_with_rules() == before


async def test_a_rule_for_an_unknown_program_is_refused(api: Api) -> None:
    await create_program(api)
    before = await snapshot_with_rules()

    data = await api.data(CREATE_RULE, {"input": {"programSlug": "nope", "rule": definition()}})

    assert data["createEarningRule"] == {
        "rule": None,
        "userErrors": [
            {
                "field": ["input", "programSlug"],
                "message": "no program with slug 'nope'",
                "code": "PROGRAM_NOT_FOUND",
            }
        ],
    }
    assert await snapshot_with_rules() == before


async def test_unknown_and_malformed_rule_ids_are_refused(api: Api) -> None:
    program = await create_program(api)
    rule = await create_rule(api)
    before = await snapshot_with_rules()
    cases = [
        (global_id("EarningRule", pk_of(rule["id"]) + 1000), "RULE_NOT_FOUND"),
        ("not-an-id", "INVALID_ID"),
        ("", "INVALID_ID"),
        (program["id"], "INVALID_ID"),
        (global_id("EarningRule", 10**19), "INVALID_ID"),
    ]

    for rule_id, code in cases:
        updated = await api.data(UPDATE_RULE, {"input": {"id": rule_id, "rule": definition()}})
        paused = await api.data(PAUSE_RULE, {"input": {"id": rule_id, "paused": True}})

        for payload in (updated["updateEarningRule"], paused["setEarningRulePaused"]):
            assert payload["rule"] is None, rule_id
            assert errors_of(payload) == [(code, ["input", "id"])], rule_id
    assert await snapshot_with_rules() == before
    unknown = global_id("EarningRule", pk_of(rule["id"]) + 1000)
    assert await api.data(RULE_NODE, {"id": unknown}) == {"node": None}


# --- What orders earn with rules --------------------------------------------------------------


async def test_a_category_campaign_doubles_that_category_inside_its_window_only(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    rule = await create_rule(
        api, name="Shoe week", includeCategories=["shoes"], startsAt=WEEK_START, endsAt=WEEK_END
    )

    inside = [
        await record(api, "inside", placed_at=INSIDE),
        await record(api, "first-moment", placed_at=WEEK_START),
        await record(api, "last-second-in-paris", placed_at="2025-03-08T00:59:59+01:00"),
    ]
    outside = [
        await record(api, "last-second-before", placed_at="2025-02-28T23:59:59+00:00"),
        await record(api, "at-the-end", placed_at=WEEK_END),
        await record(api, "after-in-the-azores", placed_at="2025-03-07T23:00:00-01:00"),
    ]

    doubled = earning(
        55,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(rule, 25, 2500, "2")]),
            line(1, SOCKS, 500, [base(5, 500)]),
        ],
    )
    assert [order["earning"] for order in inside] == [doubled] * 3
    assert [order["pointsEarned"] for order in inside] == [55] * 3
    assert [order["earning"] for order in outside] == [plain_cart_earning()] * 3
    assert [order["pointsEarned"] for order in outside] == [30] * 3
    assert (await member_status(api, member["id"]))["points"]["available"] == 3 * 55 + 3 * 30


async def test_a_rule_excluding_a_sku_skips_it_even_in_an_included_category(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    rule = await create_rule(api, includeCategories=["shoes"], excludeSkus=["SKU-1"])
    other_shoes = {"sku": "SKU-2", "category": "shoes", "quantity": 1, "unitPriceMinor": 1000}

    order = await record(api, "order-1", [SHOES, other_shoes])

    assert order["earning"] == earning(
        45,
        3500,
        [
            line(0, SHOES, 2500, [base(25, 2500)]),
            line(1, other_shoes, 1000, [base(10, 1000), by_rule(rule, 10, 1000, "2")]),
        ],
    )


async def test_a_bonus_per_unit_rewards_every_unit_of_a_sku(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    rule = await create_rule(
        api, kind="BONUS_PER_UNIT", name="SKU-1 bonus", points=10, includeSkus=["SKU-1"]
    )
    outlet_shoes = {"sku": "SKU-1", "category": "outlet", "quantity": 3, "unitPriceMinor": 100}

    order = await record(api, "order-1", [SHOES, SOCKS, outlet_shoes])

    assert order["earning"] == earning(
        83,
        3300,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(rule, 20, 2500)]),
            line(1, SOCKS, 500, [base(5, 500)]),
            line(2, outlet_shoes, 300, [base(3, 300), by_rule(rule, 30, 300)]),
        ],
    )
    assert order["pointsEarned"] == 83


async def test_a_bonus_per_order_is_awarded_once_on_the_first_line_it_matches(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    welcome = await create_rule(api, kind="BONUS_PER_ORDER", name="Welcome", points=50)
    socks_bonus = await create_rule(
        api, kind="BONUS_PER_ORDER", name="Socks", points=100, includeCategories=["socks"]
    )
    more_socks = {"sku": "SKU-8", "category": "socks", "quantity": 3, "unitPriceMinor": 500}

    order = await record(api, "order-1", [SHOES, SOCKS, more_socks])

    assert order["earning"] == earning(
        195,
        4500,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(welcome, 50, 2500)]),
            line(1, SOCKS, 500, [base(5, 500), by_rule(socks_bonus, 100, 500)]),
            line(2, more_socks, 1500, [base(15, 1500)]),
        ],
    )


async def test_an_exclusive_rule_suppresses_every_other_rule_on_its_lines(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    triple = await create_rule(api, name="Triple", multiplier="3", priority=10)
    shoe_bonus = await create_rule(
        api,
        kind="BONUS_PER_UNIT",
        name="Shoes only",
        points=7,
        exclusive=True,
        includeSkus=["SKU-1"],
    )
    welcome = await create_rule(api, kind="BONUS_PER_ORDER", name="Welcome", points=40)
    await create_rule(
        api,
        name="Later exclusive",
        multiplier="5",
        exclusive=True,
        priority=-1,
        includeCategories=["shoes"],
    )

    order = await record(api, "order-1")

    # Shoes: the first exclusive rule in rule order alone. Socks: the others, and the order
    # bonus lands on the first line where it applies.
    assert order["earning"] == earning(
        94,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(shoe_bonus, 14, 2500)]),
            line(
                1,
                SOCKS,
                500,
                [base(5, 500), by_rule(triple, 10, 500, "3"), by_rule(welcome, 40, 500)],
            ),
        ],
    )


async def test_only_the_highest_multiplier_applies_and_never_compounds(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await create_rule(api, name="Double shoes", priority=20, includeCategories=["shoes"])
    one_and_a_half = await create_rule(api, name="Everything", multiplier="1.5", priority=10)
    await create_rule(api, name="Triple low", multiplier="3", includeCategories=["shoes"])
    triple_first = await create_rule(
        api, name="Triple high", multiplier="3", priority=5, includeCategories=["shoes"]
    )

    order = await record(api, "order-1")

    # Shoes: 3 beats 2 and 1.5; of the equal triples the one first in rule order applies.
    assert order["earning"] == earning(
        82,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(triple_first, 50, 2500, "3")]),
            line(1, SOCKS, 500, [base(5, 500), by_rule(one_and_a_half, 2, 500, "1.5")]),
        ],
    )


async def test_a_paused_rule_earns_nothing_until_resumed(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    rule = await create_rule(api, includeCategories=["shoes"])
    await set_paused(api, rule["id"], True)

    while_paused = await record(api, "while-paused")
    await set_paused(api, rule["id"], False)
    after_resume = await record(api, "after-resume")

    assert while_paused["earning"] == plain_cart_earning()
    assert after_resume["pointsEarned"] == 55
    assert after_resume["earning"]["lines"][0]["components"] == [
        base(25, 2500),
        by_rule(rule, 25, 2500, "2"),
    ]
    assert (await member_status(api, member["id"]))["points"]["available"] == 85


async def test_an_updated_rule_earns_on_new_orders_and_recorded_orders_keep_theirs(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api)
    rule = await create_rule(api, name="Double shoes", includeCategories=["shoes"])
    first = await record(api, "order-1")

    await update_rule(
        api, rule["id"], name="Triple socks", multiplier="3", includeCategories=["socks"]
    )
    second = await record(api, "order-2")
    first_again = await api.data(ORDER_NODE, {"id": first["id"]})
    replayed = await api.data(RECORD, {"input": cart_order("order-1")})

    stored_first = earning(
        55,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(rule, 25, 2500, "2")]),
            line(1, SOCKS, 500, [base(5, 500)]),
        ],
    )
    assert first["earning"] == stored_first
    assert second["earning"] == earning(
        40,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500)]),
            line(1, SOCKS, 500, [base(5, 500), by_rule(rule, 10, 500, "3")]),
        ],
    )
    assert first_again == {"node": first}
    assert replayed["recordOrder"] == {"order": first, "alreadyRecorded": True, "userErrors": []}
    assert (await member_status(api, member["id"]))["points"]["available"] == 95


async def test_excluded_products_earn_nothing_not_even_through_rules(api: Api) -> None:
    await create_program(api, excludedSkus=["GIFT"], excludedCategories=["gift-cards"])
    await enroll(api)
    double = await create_rule(api)
    await create_rule(api, kind="BONUS_PER_UNIT", name="Gift", points=10, includeSkus=["GIFT"])
    gift = {"sku": "GIFT", "quantity": 1, "unitPriceMinor": 5000}
    card = {"sku": "CARD-50", "category": "gift-cards", "quantity": 1, "unitPriceMinor": 2000}

    order = await record(api, "order-1", [SHOES, gift, card], discount=500)

    # The discount is taken from the shoes alone: the only line that earns.
    assert order["earning"] == earning(
        40,
        2000,
        [
            line(0, SHOES, 2000, [base(20, 2000), by_rule(double, 20, 2000, "2")]),
            line(1, gift, 0, []),
            line(2, card, 0, []),
        ],
    )


async def test_an_order_below_the_program_minimum_earns_nothing_at_all(api: Api) -> None:
    await create_program(api, minimumOrderMinor=2000)
    member = await enroll(api)
    bonus = await create_rule(api, kind="BONUS_PER_ORDER", name="Welcome", points=100)
    shoe = {**SHOES, "quantity": 1, "unitPriceMinor": 2500}

    below = await record(api, "below", [shoe], discount=501)
    at_minimum = await record(api, "at-minimum", [shoe], discount=500)

    assert below["pointsEarned"] == 0
    assert below["earning"] == earning(0, 1999, [line(0, shoe, 1999, [])])
    assert at_minimum["earning"] == earning(
        120, 2000, [line(0, shoe, 2000, [base(20, 2000), by_rule(bonus, 100, 2000)])]
    )
    status = await member_status(api, member["id"])
    assert status["points"]["available"] == 120
    assert [edge["node"]["orderId"] for edge in status["activity"]["edges"]] == ["at-minimum"]


async def test_a_rule_minimum_is_measured_on_the_earning_base(api: Api) -> None:
    await create_program(api, countShipping=True)
    await enroll(api)
    bonus = await create_rule(
        api, kind="BONUS_PER_ORDER", name="Big basket", points=100, minimumOrderMinor=3000
    )

    with_shipping = await record(api, "with-shipping", [SHOES], shipping=500)
    one_cent_short = await record(api, "one-cent-short", discount=1)

    assert with_shipping["earning"] == earning(
        130,
        3000,
        [line(0, SHOES, 2500, [base(25, 2500), by_rule(bonus, 100, 2500)])],
        [component("SHIPPING", 5, 500)],
    )
    # 29 points shared 24.16 / 4.83: the left-over point goes to the larger remainder.
    assert one_cent_short["earning"] == earning(
        29,
        2999,
        [line(0, SHOES, 2499, [base(24, 2499)]), line(1, SOCKS, 500, [base(5, 500)])],
        [component("SHIPPING", 0, 0)],
    )


async def test_base_points_are_rounded_once_per_order_as_the_program_says(api: Api) -> None:
    three = [
        {"sku": f"SKU-{n}", "category": "misc", "quantity": 1, "unitPriceMinor": 333}
        for n in range(3)
    ]
    points: dict[str, list[int]] = {}
    shared: dict[str, list[int]] = {}

    for rounding in ("FLOOR", "NEAREST", "CEIL"):
        slug = rounding.lower()
        await create_program(api, slug=slug, rounding=rounding)
        await enroll(api, program_slug=slug)
        thirds = await record(api, "thirds", three, program_slug=slug)
        below_half = await record(
            api, "12.49", [{**SOCKS, "unitPriceMinor": 1249}], program_slug=slug
        )
        half = await record(api, "12.50", [{**SOCKS, "unitPriceMinor": 1250}], program_slug=slug)
        points[rounding] = [order["pointsEarned"] for order in (thirds, below_half, half)]
        shared[rounding] = [entry["points"] for entry in thirds["earning"]["lines"]]

    assert points == {"FLOOR": [9, 12, 12], "NEAREST": [10, 12, 13], "CEIL": [10, 13, 13]}
    # Never rounded per line: 9.99 shared out, a tie going to the lowest line index.
    assert shared == {"FLOOR": [3, 3, 3], "NEAREST": [4, 3, 3], "CEIL": [4, 3, 3]}


async def test_a_multiplier_extra_is_rounded_as_the_program_says(api: Api) -> None:
    hats = {"sku": "HAT-1", "category": "hats", "quantity": 1, "unitPriceMinor": 2500}
    extras: dict[str, tuple[int, int, int]] = {}

    for rounding in ("FLOOR", "NEAREST", "CEIL"):
        slug = rounding.lower()
        await create_program(api, slug=slug, rounding=rounding)
        await enroll(api, program_slug=slug)
        await create_rule(api, slug, multiplier="1.5", includeCategories=["shoes"])
        await create_rule(api, slug, multiplier="1.25", includeCategories=["hats"])
        order = await record(api, "order-1", [SHOES, hats], program_slug=slug)
        shoes_line, hats_line = order["earning"]["lines"]
        extras[rounding] = (
            shoes_line["components"][1]["points"],
            hats_line["components"][1]["points"],
            order["pointsEarned"],
        )

    # On 25 base points each: x1.5 adds 12.5, x1.25 adds 6.25; the order earns 50 + both.
    assert extras == {"FLOOR": (12, 6, 68), "NEAREST": (13, 6, 69), "CEIL": (13, 7, 70)}


async def test_shipping_and_tax_earn_only_when_the_program_counts_them(api: Api) -> None:
    for slug, count_shipping, count_tax in (
        ("plain", False, False),
        ("shipping", True, False),
        ("both", True, True),
    ):
        await create_program(api, slug=slug, countShipping=count_shipping, countTax=count_tax)
        await enroll(api, program_slug=slug)
    rules = {slug: await create_rule(api, slug) for slug in ("plain", "shipping", "both")}

    orders = {
        slug: await record(api, "order-1", [SHOES], program_slug=slug, shipping=500, tax=600)
        for slug in rules
    }
    discounted = await record(
        api, "order-2", [SHOES], program_slug="both", shipping=500, tax=600, discount=2600
    )

    def doubled_shoes(slug: str) -> dict[str, Any]:
        return line(0, SHOES, 2500, [base(25, 2500), by_rule(rules[slug], 25, 2500, "2")])

    assert orders["plain"]["earning"] == earning(50, 2500, [doubled_shoes("plain")])
    assert orders["shipping"]["earning"] == earning(
        55, 3000, [doubled_shoes("shipping")], [component("SHIPPING", 5, 500)]
    )
    assert orders["both"]["earning"] == earning(
        61,
        3600,
        [doubled_shoes("both")],
        [component("SHIPPING", 5, 500), component("TAX", 6, 600)],
    )
    # A discount above the merchandise stops at 0: shipping and tax still earn, the rule
    # applied on a line worth nothing is kept at 0 points.
    assert discounted["earning"] == earning(
        11,
        1100,
        [line(0, SHOES, 0, [base(0, 0), by_rule(rules["both"], 0, 0, "2")])],
        [component("SHIPPING", 5, 500), component("TAX", 6, 600)],
    )


async def test_an_order_whose_rules_earn_over_a_billion_points_is_refused(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await create_rule(
        api, kind="BONUS_PER_UNIT", name="Huge", points=1_000_000, includeSkus=["SKU-1"]
    )
    before = await snapshot_with_rules()
    cheap_shoes = {**SHOES, "quantity": 1000, "unitPriceMinor": 1}

    data = await api.data(RECORD, {"input": cart_order("order-1", [cheap_shoes])})

    payload = data["recordOrder"]
    assert payload["order"] is None
    assert errors_of(payload) == [("POINTS_LIMIT_EXCEEDED", ["input", "totalMinor"])]
    assert await snapshot_with_rules() == before


# --- previewOrderPoints -----------------------------------------------------------------------


async def test_a_preview_is_exactly_what_record_order_stores_and_writes_nothing(
    api: Api,
) -> None:
    await create_program(api, countShipping=True, rounding="NEAREST", excludedSkus=["GIFT"])
    await enroll(api)
    await create_rule(
        api, name="Shoe week", includeCategories=["shoes"], startsAt=WEEK_START, endsAt=WEEK_END
    )
    await create_rule(api, kind="BONUS_PER_UNIT", name="Socks", points=3, includeSkus=["SKU-9"])
    await create_rule(api, kind="BONUS_PER_ORDER", name="Welcome", points=20)
    await create_rule(
        api,
        kind="BONUS_PER_UNIT",
        name="Outlet only",
        points=1,
        exclusive=True,
        includeCategories=["outlet"],
    )
    paused = await create_rule(api, name="Paused", multiplier="10")
    await set_paused(api, paused["id"], True)
    gift = {"sku": "GIFT", "quantity": 1, "unitPriceMinor": 5000}
    outlet = {"sku": "SKU-3", "category": "outlet", "quantity": 4, "unitPriceMinor": 199}
    spaced_socks = {**SOCKS, "sku": " SKU-9 ", "category": " socks "}
    carts: list[dict[str, Any]] = [
        {"lines": CART, "placed_at": INSIDE, "shipping": 499, "discount": 333},
        {"lines": CART, "placed_at": "2025-03-09T00:00:00+00:00", "shipping": 499},
        {"lines": [outlet, SHOES, gift, spaced_socks], "placed_at": INSIDE, "tax": 700},
        {"lines": [gift, outlet], "placed_at": WEEK_START, "discount": 796, "shipping": 1},
    ]

    for number, cart in enumerate(carts):
        before = await snapshot_with_rules()
        previewed = await preview(api, **cart)
        assert await snapshot_with_rules() == before

        order = await record(api, f"order-{number}", **cart)

        assert previewed == order["earning"], cart
        assert order["pointsEarned"] == previewed["points"]
    # Worked by hand: bases 2222 / 445 (discount split by largest remainder) + shipping 499
    # = 31.66 -> 32 base points, shared 22 / 5 / 5; then 2x shoes +22, socks +3, welcome +20.
    assert (await preview(api, **carts[0]))["points"] == 77


async def test_a_storefront_previews_with_its_publishable_key_but_only_its_program(
    api: Api,
) -> None:
    await create_program(api)
    await create_program(api, slug="other")
    await create_rule(api, includeCategories=["shoes"])
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    secret = await program_key("shop")

    as_admin = await preview(api)
    as_storefront = await preview(api, key=publishable)
    as_backend = await preview(api, key=secret)
    other = await api.gql(PREVIEW, {"input": preview_input(program_slug="other")}, key=publishable)

    assert as_admin["points"] == 55
    assert as_storefront == as_admin
    assert as_backend == as_admin
    assert other["data"] is None
    assert top_level_codes(other) == ["PROGRAM_NOT_FOUND"]
    assert other["errors"][0]["path"] == ["previewOrderPoints"]


async def test_a_preview_without_placed_at_is_evaluated_now(api: Api) -> None:
    await create_program(api)
    await create_rule(
        api, name="Shoe week", includeCategories=["shoes"], startsAt=WEEK_START, endsAt=WEEK_END
    )
    ongoing = await create_rule(
        api, kind="BONUS_PER_ORDER", name="Since 2025", points=10, startsAt="2025-01-01T00:00:00Z"
    )
    next_month = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    await create_rule(api, kind="BONUS_PER_ORDER", name="Coming", points=7, startsAt=next_month)
    await create_rule(api, kind="BONUS_PER_ORDER", name="Gone", points=5, endsAt=WEEK_END)

    now = await preview(api, placed_at=None)

    assert now == earning(
        40,
        3000,
        [
            line(0, SHOES, 2500, [base(25, 2500), by_rule(ongoing, 10, 2500)]),
            line(1, SOCKS, 500, [base(5, 500)]),
        ],
    )
    # Back in the shoe week: 30 + 25 (double shoes) + 10 (since 2025) + 5 (gone since).
    assert (await preview(api, placed_at=INSIDE))["points"] == 70


async def test_bad_carts_are_top_level_errors_with_codes_and_write_nothing(api: Api) -> None:
    await create_program(api)
    await create_rule(api)
    before = await snapshot_with_rules()
    tomorrow_and_more = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"program_slug": "nope"}, "PROGRAM_NOT_FOUND"),
        ({"currency": "USD"}, "CURRENCY_MISMATCH"),
        ({"currency": "XYZ"}, "UNKNOWN_CURRENCY"),
        ({"lines": [{**SHOES, "quantity": 0}]}, "INVALID_QUANTITY"),
        ({"lines": [{**SHOES, "quantity": 1_000_001}]}, "INVALID_QUANTITY"),
        ({"lines": [{**SHOES, "unitPriceMinor": -1}]}, "INVALID_AMOUNT"),
        ({"lines": []}, "REQUIRED"),
        ({"lines": [{**SHOES, "sku": " "}]}, "REQUIRED"),
        ({"lines": [{**SHOES, "category": "c" * 129}]}, "TOO_LONG"),
        ({"lines": [SOCKS] * 501}, "TOO_MANY"),
        ({"shipping": -1}, "INVALID_AMOUNT"),
        ({"tax": -1}, "INVALID_AMOUNT"),
        ({"discount": 1_000_000_001}, "INVALID_AMOUNT"),
        ({"placed_at": "2025-03-04T12:00:00"}, "INVALID_VALUE"),
        ({"placed_at": "1999-12-31T23:59:59+00:00"}, "INVALID_VALUE"),
        ({"placed_at": tomorrow_and_more}, "INVALID_VALUE"),
        # Several problems: a query reports the first one only.
        ({"currency": "USD", "lines": [{**SHOES, "quantity": 0}]}, "CURRENCY_MISMATCH"),
    ]

    for cart, code in cases:
        body = await api.gql(PREVIEW, {"input": preview_input(**cart)})

        assert body["data"] is None, cart
        assert top_level_codes(body) == [code], (cart, body)
        assert body["errors"][0]["path"] == ["previewOrderPoints"]
    assert await snapshot_with_rules() == before


async def test_a_preview_over_the_points_limit_is_refused_like_the_order(api: Api) -> None:
    await create_program(api)
    await enroll(api)
    await create_rule(
        api, kind="BONUS_PER_UNIT", name="Huge", points=1_000_000, includeSkus=["SKU-1"]
    )
    cheap_shoes = {**SHOES, "quantity": 1001, "unitPriceMinor": 1}
    recorded = await api.data(RECORD, {"input": cart_order("order-1", [cheap_shoes])})
    assert errors_of(recorded["recordOrder"]) == [
        ("POINTS_LIMIT_EXCEEDED", ["input", "totalMinor"])
    ]

    body = await api.gql(PREVIEW, {"input": preview_input([cheap_shoes])})

    # The order can never earn these 1,001,000,010 points: the preview must not promise them.
    assert top_level_codes(body) == ["POINTS_LIMIT_EXCEEDED"], body


async def test_a_preview_beyond_graphql_int_is_a_coded_error(api: Api) -> None:
    await create_program(api)
    await create_rule(
        api, kind="BONUS_PER_UNIT", name="Huge", points=1_000_000, includeSkus=["SKU-1"]
    )
    too_many_points = [{**SHOES, "quantity": 3000, "unitPriceMinor": 1}]
    too_large_amount = [
        {"sku": f"SKU-{n}", "quantity": 1, "unitPriceMinor": 1_000_000_000} for n in (2, 3, 4)
    ]

    bodies = [
        await api.gql(PREVIEW, {"input": preview_input(lines)})
        for lines in (too_many_points, too_large_amount)
    ]

    # Today both are "Int cannot represent non 32-bit signed integer value: ...", uncoded.
    assert [(body["data"], top_level_codes(body)) for body in bodies] == [
        (None, ["POINTS_LIMIT_EXCEEDED"]),
        (None, ["INVALID_AMOUNT"]),
    ], bodies


# --- Events -----------------------------------------------------------------------------------


async def visible_events(
    api: Api, count: int, event_type: str | None = None
) -> list[dict[str, Any]]:
    """The program's events, once at least `count` of them are visible.

    On PostgreSQL the outbox shows an event only when every older write transaction of the
    whole cluster has ended (app/services/core/events.py), so while anything else writes to the
    server the newest events may show a moment late: wait for them (10 s at most).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        data = await api.data(EVENTS, {"slug": "shop", "type": event_type})
        events = [edge["node"] for edge in data["events"]["edges"]]
        if len(events) >= count or loop.time() > deadline:
            return events
        await asyncio.sleep(0.05)


async def test_each_rule_change_appends_an_event_whose_rule_id_resolves(api: Api) -> None:
    await create_program(api)

    rule = await create_rule(api, name="Shoe week")
    await update_rule(api, rule["id"], name="Shoe fortnight")
    await set_paused(api, rule["id"], True)
    await set_paused(api, rule["id"], False)

    events = await visible_events(api, 5)
    created = await visible_events(api, 1, "earning_rule.created")

    def rule_event(event_type: str, name: str) -> dict[str, Any]:
        payload = {"ruleId": rule["id"], "name": name}
        return {"type": event_type, "memberId": None, "payload": payload}

    assert [event["type"] for event in events] == [
        "program.created",
        "earning_rule.created",
        "earning_rule.updated",
        "earning_rule.paused",
        "earning_rule.resumed",
    ]
    assert events[1:] == [
        rule_event("earning_rule.created", "Shoe week"),
        rule_event("earning_rule.updated", "Shoe fortnight"),
        rule_event("earning_rule.paused", "Shoe fortnight"),
        rule_event("earning_rule.resumed", "Shoe fortnight"),
    ]
    assert created == [events[1]]
    resolved = await api.data(RULE_NODE, {"id": events[1]["payload"]["ruleId"]})
    assert (resolved["node"]["id"], resolved["node"]["name"]) == (rule["id"], "Shoe fortnight")


async def test_refused_rule_changes_append_no_event(api: Api) -> None:
    await create_program(api)
    rule = await create_rule(api)
    secret = await program_key("shop")
    before = await snapshot_with_rules()

    forbidden = await api.data(
        UPDATE_RULE, {"input": {"id": rule["id"], "rule": definition()}}, key=secret
    )
    invalid = await api.data(
        UPDATE_RULE, {"input": {"id": rule["id"], "rule": definition(multiplier="1")}}
    )
    unknown = await api.data(
        PAUSE_RULE, {"input": {"id": global_id("EarningRule", 10**9), "paused": True}}
    )

    assert errors_of(forbidden["updateEarningRule"]) == [("FORBIDDEN", None)]
    assert errors_of(invalid["updateEarningRule"]) == [("INVALID_VALUE", rule_field("multiplier"))]
    assert errors_of(unknown["setEarningRulePaused"]) == [("RULE_NOT_FOUND", ["input", "id"])]
    assert await snapshot_with_rules() == before
    assert [event["type"] for event in await visible_events(api, 2)] == [
        "program.created",
        "earning_rule.created",
    ]
