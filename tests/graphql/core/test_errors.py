"""How failures reach the client: syntax errors shown, bugs masked, limits enforced as data."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from app.services.members import enrolment
from app.services.members import service as members_service
from app.services.programs import service as programs_service
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    CREATE_PROGRAM,
    CREATE_REWARD,
    ENROLL,
    RECORD_ORDER,
    REDEEM,
    create_program,
    create_reward,
    enroll,
    grant_points,
    order_input,
)
from tests.graphql.helpers import snapshot

SECRET_DETAIL = "connection string postgres://admin:hunter2@db/laurel"


def explode(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError(SECRET_DETAIL)


async def explode_async(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError(SECRET_DETAIL)


def nested_selection(depth: int) -> str:
    """`{ programs { f { f { ... } } } }` with `depth` fields in all."""
    inner = "slug"
    for _ in range(depth - 2):
        inner = f"f {{ {inner} }}"
    return f"{{ programs {{ {inner} }} }}"


async def test_a_syntax_error_is_reported_with_its_location(api: Api) -> None:
    response = await api.post("{ programs { slug ")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Syntax Error: Expected Name, found <EOF>."
    assert error["locations"] == [{"line": 1, "column": 19}]


async def test_an_unknown_field_is_reported_by_name(api: Api) -> None:
    body = await api.gql("{ programs { slug nickname } }")

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        "Cannot query field 'nickname' on type 'Program'. Did you mean 'name'?"
    ]


async def test_a_wrongly_typed_variable_is_reported(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)

    body = await api.gql(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": "ten",
                "reason": "x",
                "idempotencyKey": "k",
            }
        },
    )

    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == (
        "Variable '$input' has invalid value at .points:"
        " Int cannot represent non-integer value: 'ten'"
    )


async def test_an_int_beyond_32_bits_is_refused_before_anything_runs(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    before = await snapshot()

    body = await api.gql(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": 2**31,
                "reason": "x",
                "idempotencyKey": "k",
            }
        },
    )

    assert body["data"] is None
    assert "Int cannot represent non 32-bit signed integer value" in body["errors"][0]["message"]
    assert await snapshot() == before


async def test_an_unexpected_error_in_a_query_is_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    monkeypatch.setattr(programs_service, "list_programs", explode_async)

    response = await api.post("{ programs { slug } }")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    request_id = response.headers["x-request-id"]
    assert [(error["message"], error["path"]) for error in body["errors"]] == [
        (f"Unexpected error; report request id {request_id}.", ["programs"])
    ]
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_ERROR", "requestId": request_id}
    for leak in ("hunter2", "RuntimeError", "Traceback", "programs.py", "explode"):
        assert leak not in response.text


async def test_an_unexpected_error_in_a_mutation_is_masked_not_a_user_error(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    monkeypatch.setattr(enrolment, "enroll_member", explode_async)

    response = await api.post(ENROLL, {"input": {"programSlug": "shop", "customerId": "c"}})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    request_id = response.headers["x-request-id"]
    assert [error["message"] for error in body["errors"]] == [
        f"Unexpected error; report request id {request_id}."
    ]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text


async def test_an_unexpected_error_in_a_nested_field_masks_only_that_field(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    member = await enroll(api)
    monkeypatch.setattr(members_service, "list_activity", explode_async)

    response = await api.post(
        "query($id: ID!) { member(id: $id) { customerId activity { edges { cursor } } } }",
        {"id": member["id"]},
    )

    assert response.status_code == 200
    body = response.json()
    # The connection is nullable: the error nulls it, and the member keeps its other fields.
    assert body["data"] == {"member": {"customerId": "cust-1", "activity": None}}
    request_id = response.headers["x-request-id"]
    assert [(error["message"], error["path"]) for error in body["errors"]] == [
        (f"Unexpected error; report request id {request_id}.", ["member", "activity"])
    ]
    assert "hunter2" not in response.text


async def test_a_query_deeper_than_the_limit_is_refused(api: Api) -> None:
    """No valid document of this schema nests more than 6 fields, so the deep one is invalid
    anyway; the limiter must still refuse it on depth alone (its count starts at 0)."""
    await create_program(api)

    deep = await api.gql(nested_selection(12))
    shallow = await api.gql(nested_selection(11))

    assert deep["data"] is None
    assert [error["message"] for error in deep["errors"]] == [
        "'anonymous' exceeds maximum operation depth of 10",
        "Cannot query field 'f' on type 'Program'.",
    ]
    assert [error["message"] for error in shallow["errors"]] == [
        "Cannot query field 'f' on type 'Program'."
    ]


async def test_the_deepest_real_query_is_within_the_depth_limit(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    await grant_points(api, member["id"], 10)
    reward = await create_reward(api, cost_points=10)
    await api.data(
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "k"}},
    )
    query = """
    query($id: ID!) {
      member(id: $id) {
        program { slug }
        activity(first: 1) { edges { node { kind } } pageInfo { hasNextPage } }
      }
    }"""

    data = await api.data(query, {"id": member["id"]})

    assert data["member"]["program"] == {"slug": "shop"}
    assert data["member"]["activity"]["edges"] == [{"node": {"kind": "REDEEM"}}]


async def test_too_many_aliases_are_refused(api: Api) -> None:
    query = "{ " + " ".join(f"p{i}: programs {{ slug }}" for i in range(31)) + " }"

    body = await api.gql(query)

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == ["31 aliases found. Allowed: 30"]


async def test_a_document_with_too_many_tokens_is_refused(api: Api) -> None:
    query = "{ programs { " + "slug " * 5000 + "} }"

    body = await api.gql(query)

    assert body["data"] is None
    [error] = body["errors"]
    assert "Document contains more than 5000 tokens" in error["message"]


async def test_overlong_strings_in_every_mutation_input_are_user_errors(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    reward = await create_reward(api, cost_points=10)
    await grant_points(api, member["id"], 100)

    def program(**overrides: Any) -> dict[str, Any]:
        values = {"slug": "new", "name": "New", "currency": "EUR", "pointsPerCurrencyUnit": 1}
        return {"input": {**values, **overrides}}

    def reward_input(**overrides: Any) -> dict[str, Any]:
        values = {"programSlug": "shop", "name": "Mug", "kind": "CUSTOM", "costPoints": 10}
        return {"input": {**values, **overrides}}

    def member_input(**overrides: Any) -> dict[str, Any]:
        return {"input": {"programSlug": "shop", "customerId": "cust-9", **overrides}}

    def order(**overrides: Any) -> dict[str, Any]:
        return {"input": order_input(**overrides)}

    def line(**overrides: Any) -> dict[str, Any]:
        values = {"sku": "SKU-1", "quantity": 2, "unitPriceMinor": 1250, "category": "shoes"}
        return order(lines=[{**values, **overrides}])

    def redemption(**overrides: Any) -> dict[str, Any]:
        values = {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}
        return {"input": {**values, **overrides}}

    def adjustment(**overrides: Any) -> dict[str, Any]:
        values = {"memberId": member["id"], "points": 5, "reason": "x", "idempotencyKey": "a"}
        return {"input": {**values, **overrides}}

    cases: list[tuple[str, str, dict[str, Any], str, list[str]]] = [
        (CREATE_PROGRAM, "createProgram", program(name="n" * 201), "TOO_LONG", ["name"]),
        (CREATE_PROGRAM, "createProgram", program(slug="s" * 64), "INVALID_VALUE", ["slug"]),
        (CREATE_PROGRAM, "createProgram", program(currency="E" * 300), "UNKNOWN_CURRENCY",
         ["currency"]),
        (CREATE_REWARD, "createReward", reward_input(name="n" * 201), "TOO_LONG", ["name"]),
        (CREATE_REWARD, "createReward", reward_input(description="d" * 2001), "TOO_LONG",
         ["description"]),
        (CREATE_REWARD, "createReward", reward_input(programSlug="s" * 300), "PROGRAM_NOT_FOUND",
         ["programSlug"]),
        (ENROLL, "enrollMember", member_input(customerId="c" * 129), "TOO_LONG", ["customerId"]),
        (ENROLL, "enrollMember", member_input(name="n" * 201), "TOO_LONG", ["name"]),
        (ENROLL, "enrollMember", member_input(email="e" * 243 + "@example.com"), "TOO_LONG",
         ["email"]),
        (ENROLL, "enrollMember", member_input(programSlug="s" * 300), "PROGRAM_NOT_FOUND",
         ["programSlug"]),
        (RECORD_ORDER, "recordOrder", order(order_id="o" * 129), "TOO_LONG", ["orderId"]),
        (RECORD_ORDER, "recordOrder", order(customer_id="c" * 129), "TOO_LONG", ["customerId"]),
        (RECORD_ORDER, "recordOrder", order(idempotencyKey="k" * 256), "TOO_LONG",
         ["idempotencyKey"]),
        (RECORD_ORDER, "recordOrder", line(sku="s" * 129), "TOO_LONG", ["lines", "0", "sku"]),
        (RECORD_ORDER, "recordOrder", line(category="c" * 129), "TOO_LONG",
         ["lines", "0", "category"]),
        (RECORD_ORDER, "recordOrder", order(currency="E" * 300), "UNKNOWN_CURRENCY",
         ["currency"]),
        (REDEEM, "redeemReward", redemption(idempotencyKey="k" * 256), "TOO_LONG",
         ["idempotencyKey"]),
        (REDEEM, "redeemReward", redemption(memberId="m" * 300), "INVALID_ID", ["memberId"]),
        (REDEEM, "redeemReward", redemption(rewardId="r" * 300), "INVALID_ID", ["rewardId"]),
        (ADJUST, "adjustPoints", adjustment(reason="r" * 501), "TOO_LONG", ["reason"]),
        (ADJUST, "adjustPoints", adjustment(idempotencyKey="k" * 256), "TOO_LONG",
         ["idempotencyKey"]),
        (ADJUST, "adjustPoints", adjustment(memberId="m" * 300), "INVALID_ID", ["memberId"]),
    ]  # fmt: skip
    before = await snapshot()
    for document, name, variables, code, field in cases:
        response = await api.post(document, variables)

        assert response.status_code == 200, (name, field)
        body = response.json()
        assert "errors" not in body, (name, field, body)
        errors = body["data"][name]["userErrors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, ["input", *field])], (
            name,
            field,
        )
    assert await snapshot() == before


async def test_huge_strings_are_user_errors_too(api: Api) -> None:
    await create_program(api)
    before = await snapshot()
    huge = "x" * 100_000

    response = await api.post(ENROLL, {"input": {"programSlug": "shop", "customerId": huge}})

    assert response.status_code == 200
    body = response.json()
    assert body["data"]["enrollMember"]["userErrors"][0]["code"] == "TOO_LONG"
    assert huge not in response.text
    assert await snapshot() == before


async def test_an_idempotency_key_padded_with_spaces_is_not_a_server_error(api: Api) -> None:
    """The limit is checked on the trimmed key (255 here) but the key is stored as sent."""
    await create_program(api)
    member = await enroll(api)

    response = await api.post(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": 5,
                "reason": "x",
                "idempotencyKey": "  " + "k" * 255,
            }
        },
    )

    body = response.json()
    assert "errors" not in body, body


async def test_a_nul_character_in_text_is_not_a_server_error(api: Api) -> None:
    """PostgreSQL text cannot hold NUL; the input must be refused or stored, never a crash."""
    await create_program(api)

    body = await api.gql(ENROLL, {"input": {"programSlug": "shop", "customerId": "cust\x001"}})

    assert "errors" not in body, body
