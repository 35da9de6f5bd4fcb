"""GraphQL over HTTP (app/web/http_protocol.py): media types and status codes, protocol errors
as JSON with codes, operation choice, GET with ETags, compression, and automatic persisted
queries, through the whole app."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import httpx

from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, enroll, grant_points

PROGRAMS = "query Programs { programs { slug } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _headers(api: Api, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.admin_key}", **extra}


async def _post(api: Api, body: bytes | str, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await api.http.post(
        "/graphql",
        content=content,
        headers=_headers(api, **{"Content-Type": "application/json", **headers}),
    )


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_protocol_errors_are_json_with_codes(api: Api) -> None:
    cases = {
        "{not json": "BODY_NOT_JSON",
        json.dumps([{"query": PROGRAMS}]): "BATCH_NOT_SUPPORTED",
        json.dumps("a string"): "BODY_NOT_AN_OBJECT",
        json.dumps({"variables": {}}): "NO_QUERY",
        json.dumps({"query": PROGRAMS, "variables": [1]}): "VARIABLES_NOT_AN_OBJECT",
        json.dumps({"query": PROGRAMS, "extensions": "x"}): "EXTENSIONS_NOT_AN_OBJECT",
        json.dumps({"query": PROGRAMS, "operationName": 3}): "OPERATION_NAME_NOT_A_STRING",
        json.dumps({"query": PROGRAMS, "operationName": "Other"}): "OPERATION_RESOLUTION_FAILURE",
        json.dumps({"query": f"{PROGRAMS} query Two {{ programs {{ slug }} }}"}): (
            "OPERATION_RESOLUTION_FAILURE"
        ),
    }
    for body, code in cases.items():
        response = await _post(api, body)
        assert (response.status_code, _code(response)) == (400, code), body
        assert response.headers["content-type"] == "application/json"
        assert (
            response.json()["errors"][0]["extensions"]["requestId"]
            == (response.headers["x-request-id"])
        )


async def test_two_operations_run_when_one_is_named(api: Api) -> None:
    await create_program(api)
    document = f"{PROGRAMS} query Two {{ programs {{ slug }} }}"
    response = await _post(api, json.dumps({"query": document, "operationName": "Two"}))
    assert response.status_code == 200
    assert response.json() == {"data": {"programs": [{"slug": "shop"}]}}


async def test_graphql_response_json_when_asked_with_400_for_request_errors(api: Api) -> None:
    await create_program(api)
    asked = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    ok = await _post(api, json.dumps({"query": PROGRAMS}), **asked)
    invalid = await _post(api, json.dumps({"query": "{ programs { nope } }"}), **asked)
    syntax = await _post(api, json.dumps({"query": "{ programs { "}), **asked)
    bad_variable = await _post(
        api,
        json.dumps({"query": "query($s: String!) { program(slug: $s) { slug } }"}),
        **asked,
    )

    assert (ok.status_code, ok.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"programs": [{"slug": "shop"}]}}
    for response, code in (
        (invalid, "GRAPHQL_VALIDATION_FAILED"),
        (syntax, "GRAPHQL_PARSE_FAILED"),
        (bad_variable, "BAD_USER_INPUT"),
    ):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        assert "data" not in response.json()
        assert _code(response) == code
    # As application/json, the same request error keeps 200 and Strawberry's "data": null.
    legacy = await _post(api, json.dumps({"query": "{ programs { nope } }"}))
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, "application/json")
    assert legacy.json()["data"] is None
    assert _code(legacy) == "GRAPHQL_VALIDATION_FAILED"


async def test_a_query_by_get_has_an_etag_and_304_when_unchanged(api: Api) -> None:
    await create_program(api)
    params = {"query": PROGRAMS}
    first = await api.http.get("/graphql", params=params, headers=_headers(api))
    etag = first.headers["etag"]
    again = await api.http.get(
        "/graphql", params=params, headers=_headers(api, **{"If-None-Match": etag})
    )
    await create_program(api, slug="other")
    changed = await api.http.get(
        "/graphql", params=params, headers=_headers(api, **{"If-None-Match": etag})
    )

    assert first.status_code == 200
    assert first.json() == {"data": {"programs": [{"slug": "shop"}]}}
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in first.headers["vary"]
    assert (again.status_code, again.content) == (304, b"")
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


async def test_get_variables_come_from_the_query_string(api: Api) -> None:
    await create_program(api)
    response = await api.http.get(
        "/graphql",
        params={
            "query": "query One($slug: String!) { program(slug: $slug) { slug } }",
            "variables": json.dumps({"slug": "shop"}),
            "operationName": "One",
        },
        headers=_headers(api),
    )
    not_json = await api.http.get(
        "/graphql", params={"query": PROGRAMS, "variables": "{x"}, headers=_headers(api)
    )

    assert response.json() == {"data": {"program": {"slug": "shop"}}}
    assert (not_json.status_code, _code(not_json)) == (400, "PARAMETER_NOT_JSON")


async def test_large_answers_are_gzipped_when_accepted(api: Api) -> None:
    await create_program(api)
    member = await enroll(api)
    for _ in range(30):
        await grant_points(api, member["id"], 5)
    query = json.dumps(
        {
            "query": "query($id: ID!) { member(id: $id) { activity(first: 30) {"
            " edges { cursor node { id kind points description createdAt } } } } }",
            "variables": {"id": member["id"]},
        }
    )
    zipped = await _post(api, query, **{"Accept-Encoding": "gzip"})
    plain = await _post(api, query, **{"Accept-Encoding": "identity"})

    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    # httpx decodes the body: both answers say the same.
    assert zipped.json() == plain.json()
    assert len(gzip.compress(plain.content)) < len(plain.content) / 2


def _apq(query: str | None, sha256: str) -> str:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}
    if query is not None:
        body["query"] = query
    return json.dumps(body)


async def test_automatic_persisted_queries_register_once_then_run_by_hash(api: Api) -> None:
    await create_program(api)
    sha256 = hashlib.sha256(PROGRAMS.encode()).hexdigest()

    unknown = await _post(api, _apq(None, sha256))
    registered = await _post(api, _apq(PROGRAMS, sha256))
    by_hash = await _post(api, _apq(None, sha256))
    by_get = await api.http.get(
        "/graphql",
        params={"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256}})},
        headers=_headers(api),
    )

    assert (unknown.status_code, _code(unknown)) == (200, "PERSISTED_QUERY_NOT_FOUND")
    assert registered.json() == {"data": {"programs": [{"slug": "shop"}]}}
    assert by_hash.json() == registered.json()
    assert by_get.json() == registered.json()


async def test_a_persisted_query_with_the_wrong_hash_is_refused_and_not_kept(api: Api) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    refused = await _post(api, _apq(PROGRAMS, wrong))
    still_unknown = await _post(api, _apq(None, wrong))
    bad_version = await _post(
        api,
        json.dumps({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": wrong}}}),
    )

    assert (refused.status_code, _code(refused)) == (400, "PERSISTED_QUERY_HASH_MISMATCH")
    assert _code(still_unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert (bad_version.status_code, _code(bad_version)) == (400, "PERSISTED_QUERY_NOT_SUPPORTED")


async def test_a_persisted_mutation_by_get_is_refused(api: Api) -> None:
    mutation = (
        'mutation { createProgram(input: {slug: "x", name: "X", currency: "EUR"})'
        " { program { id } } }"
    )
    sha256 = hashlib.sha256(mutation.encode()).hexdigest()
    await _post(api, _apq(mutation, sha256))
    response = await api.http.get(
        "/graphql",
        params={"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256}})},
        headers=_headers(api),
    )
    assert (response.status_code, _code(response)) == (405, "METHOD_NOT_ALLOWED")
