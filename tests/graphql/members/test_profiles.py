"""Member profiles, lookups, the member list, attributes, and a member's rights over their data
(export and erasure), on both databases."""

from __future__ import annotations

import asyncio
import importlib
import json
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from tortoise import connections

from app.auth.api_keys import KeyKind
from app.services.ledger.verify import verify_ledger
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points, program_key, record_order
from tests.graphql.helpers import codes, rows

PROFILE = (
    "profile { email name birthday phone locale marketingConsent tags attributes cardNumber"
    " erasedAt }"
)
ENROLL = f"""
mutation($input: EnrollMemberInput!) {{
  enrollMember(input: $input) {{
    member {{ id customerId {PROFILE} }}
    userErrors {{ field code message }}
  }}
}}"""
UPDATE = f"""
mutation($input: UpdateMemberProfileInput!) {{
  updateMemberProfile(input: $input) {{
    member {{ id {PROFILE} }}
    userErrors {{ field code message }}
  }}
}}"""
SET_ATTRIBUTES = """
mutation($input: SetMemberAttributesInput!) {
  setMemberAttributes(input: $input) {
    attributes { name type description }
    userErrors { field code message }
  }
}"""
ERASE = f"""
mutation($id: ID!) {{
  eraseMember(input: {{ memberId: $id }}) {{
    member {{ id customerId optedOut points {{ available }} {PROFILE} }}
    userErrors {{ field code message }}
  }}
}}"""
LOOKUP = """
query($customerId: String, $email: String, $phone: String, $cardNumber: String) {
  memberLookup(programSlug: "shop", customerId: $customerId, email: $email, phone: $phone,
               cardNumber: $cardNumber) { id customerId }
}"""
MEMBERS = """
query($filter: MemberListFilter, $orderBy: MemberListOrder, $first: Int, $after: String) {
  members(programSlug: "shop", filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { node { id customerId } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def attributes(api: Api, *definitions: dict[str, str]) -> None:
    data = await api.data(
        SET_ATTRIBUTES, {"input": {"programSlug": "shop", "attributes": list(definitions)}}
    )
    assert data["setMemberAttributes"]["userErrors"] == []


async def test_a_profile_is_kept_checked_and_changed_field_by_field(api: Api) -> None:
    await create_program(api)
    await attributes(
        api,
        {"name": "favouriteStore", "type": "STRING"},
        {"name": "shoeSize", "type": "NUMBER", "description": "EU size"},
    )
    enrolled = await api.data(
        ENROLL,
        {
            "input": {
                "programSlug": "shop",
                "customerId": "c-1",
                "email": "Ada@Example.com",
                "name": "Ada Lovelace",
                "phone": "+46 70-123 45 67",
                "locale": "sv-SE",
                "marketingConsent": True,
                "tags": ["VIP", "newsletter", "vip"],
                "attributes": {"favouriteStore": "Gamla stan", "shoeSize": 38},
                "cardNumber": "LC-0001",
            }
        },
    )
    payload = enrolled["enrollMember"]
    assert payload["userErrors"] == []
    profile = payload["member"]["profile"]
    assert profile["phone"] == "+46701234567"
    assert profile["tags"] == ["vip", "newsletter"]
    assert profile["attributes"] == {"favouriteStore": "Gamla stan", "shoeSize": 38}
    assert (profile["marketingConsent"], profile["cardNumber"]) == (True, "LC-0001")
    member_id = payload["member"]["id"]

    # Only the fields sent change; null clears one; attributes change by name.
    changed = await api.data(
        UPDATE,
        {
            "input": {
                "memberId": member_id,
                "name": None,
                "attributes": {"shoeSize": 39, "favouriteStore": None},
            }
        },
    )
    assert changed["updateMemberProfile"]["userErrors"] == []
    after = changed["updateMemberProfile"]["member"]["profile"]
    assert after["name"] is None
    assert after["email"] == "Ada@Example.com"
    assert after["attributes"] == {"shoeSize": 39}
    events = await api.data(
        '{ events(programSlug: "shop", type: "member.updated") { edges { node { payload } } } }'
    )
    [event] = [edge["node"]["payload"] for edge in events["events"]["edges"]]
    assert event["changed"] == ["attributes", "name"]
    assert "Ada" not in json.dumps(event)

    refused = await api.data(
        UPDATE,
        {
            "input": {
                "memberId": member_id,
                "phone": "0701234567",
                "locale": "not a locale",
                "cardNumber": "x",
                "email": "nobody",
                "attributes": {"shoeSize": "big", "unknown": 1},
                "birthday": (datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
            }
        },
    )
    errors = refused["updateMemberProfile"]["userErrors"]
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("input", "phone"), "INVALID_VALUE"),
        (("input", "locale"), "INVALID_VALUE"),
        (("input", "cardNumber"), "INVALID_VALUE"),
        (("input", "email"), "INVALID_VALUE"),
        (("input", "attributes", "shoeSize"), "INVALID_VALUE"),
        (("input", "attributes", "unknown"), "UNKNOWN_ATTRIBUTE"),
        (("input", "birthday"), "INVALID_VALUE"),
    }
    unchanged = await api.data(
        f"query($id: ID!) {{ member(id: $id) {{ {PROFILE} }} }}", {"id": member_id}
    )
    assert unchanged["member"]["profile"] == after


async def test_a_card_number_belongs_to_one_member_of_a_program(api: Api) -> None:
    await create_program(api)
    await create_program(api, "other")
    await enroll(api, customer_id="a", cardNumber="CARD-1")
    await enroll(api, "other", customer_id="a", cardNumber="CARD-1")
    second = await enroll(api, customer_id="b")

    taken = await api.data(
        ENROLL, {"input": {"programSlug": "shop", "customerId": "c", "cardNumber": "CARD-1"}}
    )
    moved = await api.data(UPDATE, {"input": {"memberId": second["id"], "cardNumber": "CARD-1"}})

    assert codes(taken["enrollMember"]["userErrors"]) == ["CARD_NUMBER_TAKEN"]
    assert codes(moved["updateMemberProfile"]["userErrors"]) == ["CARD_NUMBER_TAKEN"]
    assert len(await rows("SELECT id FROM members WHERE customer_id = 'c'")) == 0


async def test_a_member_is_found_by_what_each_channel_knows(api: Api) -> None:
    await create_program(api)
    ada = await enroll(
        api, customer_id="ada", email="Ada@Example.com", phone="+46701234567", cardNumber="LC-1"
    )
    sibling = await enroll(api, customer_id="ada-2", email="ada@example.com")
    await enroll(api, customer_id="bob", email="bob@example.com")

    async def found(**by: str) -> list[str]:
        data = await api.data(LOOKUP, by)
        return [member["customerId"] for member in data["memberLookup"]]

    assert await found(customerId="ada") == ["ada"]
    assert await found(email="ADA@example.COM") == ["ada", "ada-2"]
    assert await found(phone="+46 70 123 45 67") == ["ada"]
    assert await found(cardNumber="LC-1") == ["ada"]
    assert await found(cardNumber="LC-2") == []
    assert await found(email="\x00") == []
    both = await api.gql(LOOKUP, {"email": "a@b.c", "phone": "+4670"})
    assert [e["extensions"]["code"] for e in both["errors"]] == ["INVALID_VALUE"]
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    refused = await api.gql(LOOKUP, {"customerId": "ada"}, key=publishable)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    ids = await api.data(
        LOOKUP.replace("customerId }", "customerId id }"), {"email": "ada@example.com"}
    )
    assert [member["id"] for member in ids["memberLookup"]] == [ada["id"], sibling["id"]]


async def test_the_member_list_matches_a_brute_force_filter_page_by_page(api: Api) -> None:
    await create_program(api)
    generator = random.Random(7)
    first_names = ["Ada", "Åsa", "Bo", "Carl", "Dana", "Eve"]
    people: list[dict[str, Any]] = []
    for number in range(40):
        name = f"{generator.choice(first_names)} {generator.choice(['Berg', 'Lind', 'Öst'])}"
        tags = generator.sample(["vip", "b2b", "new"], generator.randint(0, 2))
        member = await enroll(
            api,
            customer_id=f"c-{number}",
            name=name,
            email=f"{name.split()[0].lower()}{number}@example.com",
            tags=tags,
        )
        points = generator.choice([0, 0, 50, 200, 1000])
        if points:
            await grant_points(api, member["id"], points)
        people.append(
            {
                "id": member["id"],
                "customerId": f"c-{number}",
                "name": name,
                "email": f"{name.split()[0].lower()}{number}@example.com",
                "points": points,
                "tags": tags,
            }
        )

    def expected(flt: dict[str, Any], order: str) -> list[str]:
        chosen = []
        for person in people:
            search = flt.get("search")
            if search is not None:
                lowered = search.lower()
                words = person["name"].lower().split()
                if not (
                    person["customerId"].startswith(lowered)
                    or person["email"].startswith(lowered)
                    or any(word.startswith(lowered) for word in words)
                ):
                    continue
            if "tag" in flt and flt["tag"] not in person["tags"]:
                continue
            if "pointsAtLeast" in flt and person["points"] < flt["pointsAtLeast"]:
                continue
            if "pointsAtMost" in flt and person["points"] > flt["pointsAtMost"]:
                continue
            chosen.append(person)
        # Enrolled in list order; ties on points run newest first.
        newest = chosen[::-1]
        if order == "MOST_POINTS":
            newest.sort(key=lambda person: -person["points"])
        elif order == "FEWEST_POINTS":
            newest.sort(key=lambda person: person["points"])
        ordered = chosen if order == "OLDEST_FIRST" else newest
        return [person["customerId"] for person in ordered]

    filters: list[dict[str, Any]] = [
        {},
        {"search": "åsa"},
        {"search": "ÖST"},
        {"search": "c-7"},
        {"search": "carl1"},
        {"tag": "vip"},
        {"pointsAtLeast": 200},
        {"pointsAtLeast": 1, "pointsAtMost": 200, "tag": "b2b"},
        {"search": "%"},
        {"search": "_"},
    ]
    for flt in filters:
        for order in ("NEWEST_FIRST", "OLDEST_FIRST", "MOST_POINTS", "FEWEST_POINTS"):
            got: list[str] = []
            after = None
            while True:
                data = await api.data(
                    MEMBERS, {"filter": flt, "orderBy": order, "first": 7, "after": after}
                )
                page = data["members"]
                got += [edge["node"]["customerId"] for edge in page["edges"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            assert got == expected(flt, order), (flt, order)
    by_points = await api.data(MEMBERS, {"orderBy": "MOST_POINTS", "first": 2})
    cursor = by_points["members"]["pageInfo"]["endCursor"]
    elsewhere = await api.gql(MEMBERS, {"orderBy": "FEWEST_POINTS", "after": cursor})
    by_id = await api.gql(MEMBERS, {"orderBy": "NEWEST_FIRST", "after": cursor})
    assert [e["extensions"]["code"] for e in elsewhere["errors"] + by_id["errors"]] == [
        "INVALID_CURSOR",
        "INVALID_CURSOR",
    ]
    naive = await api.gql(MEMBERS, {"filter": {"enrolledAfter": "2026-01-01T00:00:00"}})
    assert [e["extensions"]["code"] for e in naive["errors"]] == ["INVALID_VALUE"]


async def test_erasure_removes_the_person_and_keeps_the_numbers(api: Api) -> None:
    await create_program(api)
    member = await enroll(
        api,
        customer_id="erase-me",
        email="gone@example.com",
        name="Gone Person",
        phone="+46701234567",
        cardNumber="LC-9",
        birthday="1990-03-14",
    )
    await grant_points(api, member["id"], 120)

    exported = await api.data("query($id: ID!) { memberDataExport(id: $id) }", {"id": member["id"]})
    erased = await api.data(ERASE, {"id": member["id"]})
    again = await api.data(ERASE, {"id": member["id"]})

    document = exported["memberDataExport"]
    assert document["profile"]["email"] == "gone@example.com"
    assert document["member"]["points"]["available"] == 120
    assert [entry["points"] for entry in document["activity"]] == [120]
    after = erased["eraseMember"]["member"]
    assert after["customerId"].startswith("erased:")
    assert after["optedOut"] is True
    assert after["points"] == {"available": 120}
    profile = after["profile"]
    assert profile["erasedAt"] is not None
    assert [profile[f] for f in ("email", "name", "phone", "cardNumber", "birthday")] == [None] * 5
    assert again["eraseMember"]["member"]["profile"]["erasedAt"] == profile["erasedAt"]
    assert (await api.data(LOOKUP, {"cardNumber": "LC-9"}))["memberLookup"] == []
    assert (await api.data(LOOKUP, {"customerId": "erase-me"}))["memberLookup"] == []
    stored = json.dumps(await rows("SELECT payload FROM outbox_events"), default=str)
    assert "erase-me" not in stored and "gone@example.com" not in stored
    audit = json.dumps(await rows("SELECT input, before, after FROM audit_log"), default=str)
    assert "gone@example.com" not in audit and "Gone Person" not in audit
    assert await verify_ledger() == []
    refused = await api.data(UPDATE, {"input": {"memberId": member["id"], "name": "Back"}})
    assert codes(refused["updateMemberProfile"]["userErrors"]) == ["MEMBER_ERASED"]
    secret = await program_key("shop")
    export_by_secret = await api.gql(
        "query($id: ID!) { memberDataExport(id: $id) }", {"id": member["id"]}, key=secret
    )
    assert [e["extensions"]["code"] for e in export_by_secret["errors"]] == ["FORBIDDEN"]


async def test_attribute_definitions_are_checked(api: Api) -> None:
    await create_program(api)
    data = await api.data(
        SET_ATTRIBUTES,
        {
            "input": {
                "programSlug": "shop",
                "attributes": [
                    {"name": "1st", "type": "STRING"},
                    {"name": "size", "type": "NUMBER"},
                    {"name": "size", "type": "BOOLEAN"},
                ],
            }
        },
    )
    errors = data["setMemberAttributes"]["userErrors"]
    assert {tuple(e["field"]) for e in errors} == {
        ("input", "attributes", "0", "name"),
        ("input", "attributes", "2", "name"),
    }
    listed = await api.data('{ memberAttributes(programSlug: "shop") { name } }')
    assert listed["memberAttributes"] == []


async def test_the_member_list_filters_by_last_order_and_channel(api: Api) -> None:
    await create_program(api)
    for customer in ("recent-web", "lapsed-store", "never"):
        await enroll(api, customer_id=customer)
    placed = [
        ("recent-web", "o-1", "2026-11-20T10:00:00+00:00", "WEB"),
        ("lapsed-store", "o-2", "2026-03-01T10:00:00+00:00", "STORE"),
        ("recent-web", "o-3", "2026-02-01T10:00:00+00:00", None),
    ]
    for customer, order_id, at, channel in placed:
        result = await record_order(
            api, customer_id=customer, order_id=order_id, placedAt=at, channel=channel
        )
        assert result["userErrors"] == []

    async def listed(flt: dict[str, Any]) -> list[str]:
        data = await api.data(MEMBERS, {"filter": flt, "orderBy": "OLDEST_FIRST"})
        return [edge["node"]["customerId"] for edge in data["members"]["edges"]]

    since = "2026-06-01T00:00:00+00:00"
    assert await listed({"lastOrderAfter": since}) == ["recent-web"]
    assert await listed({"lastOrderBefore": since}) == ["lapsed-store"]
    assert await listed({"channel": "STORE"}) == ["lapsed-store"]
    assert await listed({"channel": "WEB", "lastOrderBefore": since}) == []


async def test_a_card_number_raced_for_goes_to_one_member_and_no_request_fails(api: Api) -> None:
    await create_program(api)
    racers = 20

    answers = await asyncio.gather(
        *(
            api.data(
                ENROLL,
                {
                    "input": {
                        "programSlug": "shop",
                        "customerId": f"racer-{n}",
                        "cardNumber": "LC-RACE",
                    }
                },
            )
            for n in range(racers)
        )
    )

    outcomes = [codes(answer["enrollMember"]["userErrors"]) for answer in answers]
    assert outcomes.count([]) == 1
    assert outcomes.count(["CARD_NUMBER_TAKEN"]) == racers - 1
    holders = await rows("SELECT customer_id FROM members WHERE card_number = 'LC-RACE'")
    assert len(holders) == 1
    assert len(await rows("SELECT id FROM members")) == 1


async def test_erasing_a_member_while_their_orders_arrive_loses_no_points(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, customer_id="busy", email="busy@example.com")

    results = await asyncio.gather(
        *(record_order(api, customer_id="busy", order_id=f"o-{n}") for n in range(10)),
        api.data(ERASE, {"id": member["id"]}),
    )

    recorded = [result for result in results[:-1] if not result["userErrors"]]
    refused = [result for result in results[:-1] if result["userErrors"]]
    # Orders before the erasure earn; after it the customer id names nobody.
    assert [codes(r["userErrors"]) for r in refused] == [["MEMBER_NOT_FOUND"]] * len(refused)
    earned = sum(r["order"]["pointsEarned"] for r in recorded)
    status = await api.data(
        "query($id: ID!) { member(id: $id) { points { available } profile { erasedAt } } }",
        {"id": member["id"]},
    )
    assert status["member"]["points"]["available"] == earned
    assert status["member"]["profile"]["erasedAt"] is not None
    assert await verify_ledger() == []


async def test_the_profile_migration_indexes_the_members_enrolled_before_it(api: Api) -> None:
    migration = importlib.import_module("app.migrations.0017_member_profiles")
    await create_program(api)
    member = await enroll(api, customer_id="Old-1", email="Old@Example.com", name="Åke Öst")
    # As a database written before migration 0017 holds the member: no lowercased e-mail, no
    # search terms.
    await rows("UPDATE members SET email_lower = NULL")
    await rows("DELETE FROM member_search_terms")

    await migration.index_members(None, SimpleNamespace(client=connections.get("default")))

    async def found(search: str) -> list[str]:
        data = await api.data(MEMBERS, {"filter": {"search": search}})
        return [edge["node"]["id"] for edge in data["members"]["edges"]]

    assert await found("åke") == [member["id"]]
    assert await found("old@ex") == [member["id"]]
    assert await found("old-") == [member["id"]]
    looked_up = await api.data(LOOKUP, {"email": "old@example.com"})
    assert [m["customerId"] for m in looked_up["memberLookup"]] == ["Old-1"]
