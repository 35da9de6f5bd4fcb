"""The public endpoint under hostile clients: JSON only, body limit, per-key rate limits, CORS,
no GET, query cost, introspection in production, masked errors with a request id, the request
time limit; and the audit log of admin writes.

Settings that differ from the defaults get their own app (`client(settings, ...)`), built like
`tests/graphql/conftest.py` builds the default one. Tests that never reach the database (refused
before the API key is looked up) run once, without one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager as ContextManager
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
import jwt
import pytest

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.main import create_app
from app.services.access.api_keys import create_api_key, list_api_keys, set_rate_limit
from app.services.core import idempotency as idempotency_service
from app.services.programs import service as programs_service
from app.web import gateway as gateway_module
from tests.graphql.conftest import Api
from tests.graphql.factories import (
    ADJUST,
    RECORD_ORDER,
    REDEEM,
    create_program,
    create_reward,
    enroll,
    everything,
    grant_points,
    member_token,
    order_input,
    post_as,
    program_key,
    record_order,
    rotate_signing_secret,
    update_program_settings,
)
from tests.graphql.helpers import codes, rows, top_level_codes

BASE_URL = "http://laurel.test"
PROGRAMS = "{ programs { slug } }"


@asynccontextmanager
async def client(settings: Settings, **overrides: Any) -> AsyncIterator[Api]:
    """An app with `overrides` applied to the settings, and a fresh admin key (which needs
    Tortoise initialised: the `db` fixture)."""
    app = create_app(replace(settings, **overrides), manage_database=False)
    admin = await create_api_key(KeyKind.ADMIN, None, "hardening tests")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield Api(http=http, admin_key=admin.secret)


@asynccontextmanager
async def bare_client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app without a database, for refusals that come before the API key is looked up."""
    settings = replace(Settings(database_url="sqlite://:memory:"), **overrides)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of a gateway refusal, whose request id is the header's."""
    [error] = response.json()["errors"]
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert response.headers["content-type"] == "application/json"
    return response.status_code, error["extensions"]["code"], error["message"]


BAD_KEY = {"Authorization": "Bearer not-a-key"}


# --- JSON only, body limit, no GET ------------------------------------------------------------


async def test_only_json_bodies_are_accepted() -> None:
    body = json.dumps({"query": PROGRAMS}).encode()
    async with bare_client() as http:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/graphql",
            None,
        ):
            headers = dict(BAD_KEY)
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = await http.post("/graphql", content=body, headers=headers)
            assert refusal(response) == (
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the request as application/json",
            ), content_type
        # JSON with parameters or in capitals passes on to the key check.
        for content_type in ("application/json; charset=utf-8", "Application/JSON"):
            response = await http.post(
                "/graphql", content=body, headers={**BAD_KEY, "Content-Type": content_type}
            )
            assert refusal(response)[:2] == (401, "UNAUTHENTICATED"), content_type


async def test_a_declared_body_over_the_limit_is_refused_before_the_key() -> None:
    async with bare_client(max_body_bytes=1024) as http:

        async def post(size: int) -> httpx.Response:
            padding = "x" * (size - len(json.dumps({"query": PROGRAMS, "p": ""})))
            content = json.dumps({"query": PROGRAMS, "p": padding}).encode()
            assert len(content) == size
            return await http.post(
                "/graphql",
                content=content,
                headers={**BAD_KEY, "Content-Type": "application/json"},
            )

        over = await post(1025)
        at_limit = await post(1024)

    assert refusal(over) == (413, "BODY_TOO_LARGE", "the body is over 1024 bytes")
    assert refusal(at_limit)[:2] == (401, "UNAUTHENTICATED")


async def test_methods_other_than_get_and_post_are_not_allowed() -> None:
    async with bare_client() as http:
        query = await http.get("/graphql", params={"query": PROGRAMS}, headers=BAD_KEY)
        put = await http.put("/graphql", json={"query": PROGRAMS}, headers=BAD_KEY)

    # A GET is a request like a POST: its key is checked.
    assert query.status_code == 401
    assert put.status_code == 405
    assert set(put.headers["allow"].split(", ")) == {"GET", "POST"}
    assert put.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_get_with_an_admin_key_writes_nothing(api: Api) -> None:
    await create_program(api)
    before = await everything()

    response = await api.http.get(
        "/graphql",
        params={
            "query": 'mutation { createReward(input: {programSlug: "shop", name: "M",'
            ' kind: FREE_PRODUCT, costPoints: 1, skus: ["X"]}) { reward { id } } }'
        },
        headers={"Authorization": f"Bearer {api.admin_key}"},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert await everything() == before


async def test_a_streamed_body_over_the_limit_is_refused_and_writes_nothing(
    db: None, settings: Settings
) -> None:
    async with client(settings, max_body_bytes=1024) as api:
        await create_program(api)
        before = await everything()

        def body(name_length: int) -> bytes:
            return json.dumps(
                {
                    "query": "mutation($input: EnrollMemberInput!) { enrollMember(input: $input)"
                    " { member { customerId } userErrors { code } } }",
                    "variables": {
                        "input": {
                            "programSlug": "shop",
                            "customerId": "cust-big",
                            "name": "n" * name_length,
                        }
                    },
                }
            ).encode()

        async def chunks(content: bytes) -> AsyncIterator[bytes]:
            for start in range(0, len(content), 100):
                yield content[start : start + 100]

        headers = {"Authorization": f"Bearer {api.admin_key}", "Content-Type": "application/json"}
        big = body(2000)
        response = await api.http.post("/graphql", content=chunks(big), headers=headers)

        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert refusal(response) == (413, "BODY_TOO_LARGE", "the body is over 1024 bytes")
        assert await everything() == before

        small = await api.http.post("/graphql", content=chunks(body(50)), headers=headers)
        assert small.status_code == 200, small.text
        assert small.json()["data"]["enrollMember"] == {
            "member": {"customerId": "cust-big"},
            "userErrors": [],
        }


PLANNED = 'query Planned($v: String! = "shop") { program(slug: $v) { slug } }'


async def post_raw(api: Api, http: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api.admin_key}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"query":"{ programs { slug \xff\xfe } }"}',
        b'{"query":"query Planned($v: String!) { program(slug: $v) { slug } }",'
        b'"variables":{"v":"\xff\xfe"}}',
    ],
    ids=["in the query", "in a variable"],
)
async def test_a_body_that_is_not_utf8_is_refused_with_400_json(api: Api, body: bytes) -> None:
    await api.data(PLANNED)  # planned, so that both the plan and Strawberry would see the body
    for http in (api.http, api.without_plans):
        assert http is not None
        response = await post_raw(api, http, body)
        assert refusal(response) == (400, "BODY_NOT_UTF8", "the body is not valid UTF-8")


def nested(levels: int) -> bytes:
    """A request whose JSON nests `levels` deep: the body, `variables`, then lists."""
    lists = "[" * (levels - 2) + "]" * (levels - 2)
    return json.dumps({"query": PLANNED, "variables": {"v": "-"}}).replace('"-"', lists).encode()


async def test_json_nested_deeper_than_the_limit_is_refused_with_400_json(api: Api) -> None:
    await api.data(PLANNED)
    for http in (api.http, api.without_plans):
        assert http is not None
        for levels in (33, 1000, 100_000):
            response = await post_raw(api, http, nested(levels))
            assert refusal(response) == (
                400,
                "BODY_TOO_DEEP",
                "the JSON body nests deeper than 32 levels",
            ), levels
        # At the limit the request reaches GraphQL, which refuses the list given for a String.
        at_limit = await post_raw(api, http, nested(32))
        assert at_limit.status_code == 200, at_limit.text
        assert top_level_codes(at_limit.json()) == ["BAD_USER_INPUT"]


# --- Rate limits ------------------------------------------------------------------------------


async def test_a_key_over_its_burst_gets_429_with_retry_after(db: None, settings: Settings) -> None:
    # No key cache: a new limit applies to the next request.
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        await enroll(api, "shop", "cust-1")
        key = await create_api_key(KeyKind.SECRET, "shop", "limited")

        first = await api.post(PROGRAMS, key=key.secret)
        assert first.status_code == 200
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == (
            "400",
            "399",
        )

        await set_rate_limit(key.id, 0.01, 2)
        allowed = [await api.post(PROGRAMS, key=key.secret) for _ in range(2)]
        before = await everything()
        limited = await api.post(RECORD_ORDER, {"input": order_input()}, key=key.secret)

        assert [r.status_code for r in allowed] == [200, 200]
        assert [
            (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) for r in allowed
        ] == [("2", "1"), ("2", "0")]
        status, code, message = refusal(limited)
        assert (status, code) == (429, "RATE_LIMITED")
        # One token every 100 s: the next one is (almost exactly) 100 s away.
        retry_after = int(limited.headers["retry-after"])
        assert 99 <= retry_after <= 100
        assert message == f"too many requests for this key; retry in {retry_after} s"
        assert (limited.headers["x-ratelimit-limit"], limited.headers["x-ratelimit-remaining"]) == (
            "2",
            "0",
        )
        assert await everything() == before

        # Buckets are per key: the admin key and another key of the program still work.
        other = await program_key("shop")
        assert (await api.post(PROGRAMS)).status_code == 200
        assert (await api.post(PROGRAMS, key=other)).status_code == 200
        assert (await api.post(PROGRAMS, key=key.secret)).status_code == 429


async def test_a_faster_refill_lets_requests_through_again(db: None, settings: Settings) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        key = await create_api_key(KeyKind.PUBLISHABLE, "shop", "storefront")
        # A token each second: the second request comes well within it even on a loaded
        # machine, and the third after it.
        await set_rate_limit(key.id, 1.0, 1)

        first = await api.post(PROGRAMS, key=key.secret)
        second = await api.post(PROGRAMS, key=key.secret)
        await asyncio.sleep(1.1)
        third = await api.post(PROGRAMS, key=key.secret)

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["retry-after"] == "1"
    assert third.status_code == 200


async def test_invalid_member_tokens_use_up_the_key_budget(db: None, settings: Settings) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        key = await create_api_key(KeyKind.PUBLISHABLE, "shop", "storefront")
        await set_rate_limit(key.id, 0.01, 2)
        junk = jwt.encode(
            {"program": "shop", "sub": "c", "iat": 0, "exp": 1}, "x" * 32, headers={"kid": "ts_x"}
        )

        statuses = [
            (await post_as(api, PROGRAMS, key=key.secret, token=junk)).status_code for _ in range(4)
        ]

    assert statuses == [401, 401, 429, 429]


# --- CORS -------------------------------------------------------------------------------------


async def test_cors_allows_the_program_origins_only(db: None, settings: Settings) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api, "shop")
        await create_program(api, "other")
        program = await update_program_settings(
            api, "shop", corsOrigins=["https://shop.example", "http://localhost:3000"]
        )
        assert sorted(program["corsOrigins"]) == ["http://localhost:3000", "https://shop.example"]
        await update_program_settings(api, "other", corsOrigins=["https://other.example"])
        publishable = await program_key("shop", KeyKind.PUBLISHABLE)

        async def preflight(origin: str | None) -> httpx.Response:
            headers = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, x-member-token",
            }
            if origin is not None:
                headers["Origin"] = origin
            return await api.http.options("/graphql", headers=headers)

        allowed = await preflight("https://shop.example")
        assert allowed.status_code == 204
        assert allowed.content == b""
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        assert allowed.headers["access-control-allow-methods"] == "GET, POST"
        assert set(allowed.headers["access-control-allow-headers"].split(", ")) == {
            "authorization",
            "content-type",
            "x-member-token",
        }
        assert allowed.headers["access-control-max-age"] == "600"
        assert allowed.headers["vary"] == "Origin"

        for origin in ("https://evil.example", "null", "https://shop.example.evil.example", None):
            refused = await preflight(origin)
            assert refusal(refused)[:2] == (403, "ORIGIN_NOT_ALLOWED"), origin
            assert "access-control-allow-origin" not in refused.headers, origin

        async def post(origin: str, key: str) -> httpx.Response:
            return await post_as(api, PROGRAMS, key=key, headers={"Origin": origin})

        ok = await post("https://shop.example", publishable)
        assert ok.status_code == 200
        assert ok.json() == {"data": {"programs": [{"slug": "shop"}]}}
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        assert "x-request-id" in ok.headers["access-control-expose-headers"]
        assert "x-ratelimit-remaining" in ok.headers["access-control-expose-headers"]

        for origin, key in (
            ("https://evil.example", publishable),
            # Allowed by another program: not by this key's.
            ("https://other.example", publishable),
            # An admin key belongs to no program, so to no storefront.
            ("https://shop.example", api.admin_key),
        ):
            forbidden = await post(origin, key)
            status, code, message = refusal(forbidden)
            assert (status, code) == (403, "ORIGIN_NOT_ALLOWED"), origin
            assert message == f"the program does not allow the origin {origin}"
            # A refused origin cannot read even the refusal.
            assert "access-control-allow-origin" not in forbidden.headers, origin

        # The API's own origin is not cross-origin, whatever the key.
        same = await post(BASE_URL, api.admin_key)
        assert same.status_code == 200
        assert "access-control-allow-origin" not in same.headers
        same_preflight = await preflight(BASE_URL)
        assert same_preflight.status_code == 204

        # Replacing the list takes the origin away at once (no cache in this app).
        await update_program_settings(api, "shop", corsOrigins=["http://localhost:3000"])
        assert refusal(await post("https://shop.example", publishable))[:2] == (
            403,
            "ORIGIN_NOT_ALLOWED",
        )
        assert refusal(await preflight("https://shop.example"))[0] == 403
        assert (await post("http://localhost:3000", publishable)).status_code == 200


async def test_a_refused_cross_origin_write_writes_nothing(db: None, settings: Settings) -> None:
    async with client(settings, api_key_cache_seconds=0) as api:
        await create_program(api)
        secret = await program_key("shop")
        await enroll(api, "shop", "cust-1")
        before = await everything()

        response = await post_as(
            api,
            RECORD_ORDER,
            {"input": order_input()},
            key=secret,
            headers={"Origin": "https://evil.example"},
        )

        assert refusal(response)[:2] == (403, "ORIGIN_NOT_ALLOWED")
        assert await everything() == before


# --- Query cost, introspection ----------------------------------------------------------------


async def test_a_costly_query_is_refused_before_any_resolver_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    nested = """{
      referrals(programSlug: "shop", first: 100) {
        edges { node { referrer { activity(first: 100) { edges { node { id } } } } } }
      }
    }"""
    events = 'e{n}: events(programSlug: "shop", first: 100) {{ edges {{ node {{ id }} }} }}'
    cheap = "{ " + " ".join(events.format(n=n) for n in range(16)) + " }"
    costly = "{ " + " ".join(events.format(n=n) for n in range(17)) + " }"
    by_variable = """query($n: Int!) {
      referrals(programSlug: "shop", first: $n) {
        edges { node { referrer { activity(first: 100) { edges { node { id } } } } } }
      }
    }"""

    calls: list[str] = []
    real = programs_service.get_program_by_slug

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("get_program_by_slug")
        return await real(*args, **kwargs)

    monkeypatch.setattr(programs_service, "get_program_by_slug", counting)
    api.check_plans = False

    for query, variables, cost in (
        (nested, {}, 30401),
        (costly, {}, 17 * 301),
        (by_variable, {"n": 1}, 30401),
    ):
        body = await api.gql(query, variables)
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": "QUERY_TOO_COSTLY"}
        assert error["message"] == (
            f"the query costs {cost}, more than the limit of 5000: ask for fewer items"
            " (`first`) or fewer fields"
        )
    assert calls == []

    # 16 x 301 = 4816 is within the limit and runs.
    body = await api.gql(cheap)
    assert "errors" not in body, body
    assert len(body["data"]) == 16
    assert len(calls) == 16


async def test_a_left_out_first_counts_as_its_default_page(api: Api) -> None:
    await create_program(api)
    selection = """{{
      referrals(programSlug: "shop"{first}) {{ edges {{ node {{ referrer {{
        activity(first: 100) {{ edges {{ node {{
          id kind points description orderId createdAt
        }} }} }}
      }} }} }} }}
    }}"""

    explicit = await api.gql(selection.format(first=", first: 20"))
    implicit = await api.gql(selection.format(first=""))

    assert top_level_codes(explicit) == ["QUERY_TOO_COSTLY"]
    assert "costs 16081" in explicit["errors"][0]["message"]
    # The same query with `first` at its default of 20 returns as many items.
    assert top_level_codes(implicit) == ["QUERY_TOO_COSTLY"]


async def test_introspection_is_for_admin_keys_in_production(db: None, settings: Settings) -> None:
    schema_query = "{ __schema { queryType { name } } }"
    type_query = '{ __type(name: "Member") { name } }'
    in_fragment = "{ ...F } fragment F on Query { __schema { types { name } } }"
    async with client(settings, production=True) as production:
        await create_program(production)
        publishable = await program_key("shop", KeyKind.PUBLISHABLE)
        secret = await program_key("shop")

        # The admin first, so the same documents are in the validation cache afterwards.
        admin_schema = await production.data(schema_query)
        admin_type = await production.data(type_query)
        assert admin_schema == {"__schema": {"queryType": {"name": "Query"}}}
        assert admin_type == {"__type": {"name": "Member"}}

        for key in (publishable, secret):
            for query in (schema_query, type_query, in_fragment):
                body = await production.gql(query, key=key)
                assert body.get("data") is None, (query, body)
                assert body["errors"], (query, body)
                assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
                assert {e["message"] for e in body["errors"]} == {
                    "introspection is for admin keys in production"
                }
        # `__typename` is not introspection.
        assert await production.data("{ __typename }", key=publishable) == {"__typename": "Query"}

    async with client(settings, production=False) as development:
        assert await development.data(schema_query, key=publishable) == admin_schema
        assert await development.data(type_query, key=publishable) == admin_type


# --- Masked errors and the time limit ---------------------------------------------------------

SECRET_DETAIL = "password=hunter2 at db.internal"


async def explode(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError(SECRET_DETAIL)


async def test_an_unexpected_error_carries_the_request_id_of_the_header_and_the_log(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await create_program(api)
    monkeypatch.setattr(programs_service, "list_programs", explode)
    api.check_plans = False

    with caplog.at_level(logging.ERROR, logger="laurel.graphql"):
        response = await api.post(PROGRAMS)
        again = await api.post(PROGRAMS)

    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert again.headers["x-request-id"] != request_id
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": f"Unexpected error; report request id {request_id}.",
                "locations": [{"line": 1, "column": 3}],
                "path": ["programs"],
                "extensions": {"code": "INTERNAL_ERROR", "requestId": request_id},
            }
        ],
    }
    assert SECRET_DETAIL not in response.text
    records = [r for r in caplog.records if r.name == "laurel.graphql"]
    assert [request_id in r.getMessage() for r in records] == [True, False]
    assert again.headers["x-request-id"] in records[1].getMessage()
    assert records[0].exc_info is not None
    assert str(records[0].exc_info[1]) == SECRET_DETAIL
    # Syntax and validation errors stay readable.
    readable = await api.gql("{ programs { qqq } }")
    assert readable["errors"][0]["message"] == ("Cannot query field 'qqq' on type 'Program'.")


async def test_a_request_over_the_time_limit_is_cancelled_with_503(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(*args: object, **kwargs: object) -> NoReturn:
        await asyncio.sleep(30)
        raise AssertionError("not cancelled")

    async with client(settings, request_timeout_seconds=2.0) as api:
        await create_program(api)
        monkeypatch.setattr(programs_service, "list_programs", slow)

        started = time.monotonic()
        response = await api.post(PROGRAMS)
        elapsed = time.monotonic() - started

    assert elapsed < 15
    assert refusal(response) == (
        503,
        "TIMEOUT",
        "the request took longer than 2 s; nothing of it was kept",
    )
    assert response.headers["retry-after"] == "1"


async def test_a_write_whose_commit_crosses_the_time_limit_is_answered_and_kept(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its COMMIT's start a request is not cut off: it is answered with what it did."""
    async with client(settings, request_timeout_seconds=2.0) as api:
        await create_program(api)
        member = await enroll(api, "shop", "cust-1")
        await grant_points(api, member["id"], 300)
        reward = await create_reward(api, "shop", cost_points=100)
        watch_commits = gateway_module.on_commit_start

        def with_slow_commits(deadline_off: Callable[[], None]) -> ContextManager[None]:
            def then_wait() -> None:
                deadline_off()
                # The COMMIT takes longer than the whole time limit (a slow disk).
                time.sleep(2.5)

            return watch_commits(then_wait)

        monkeypatch.setattr(gateway_module, "on_commit_start", with_slow_commits)
        redeem = {
            "input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}
        }
        response = await api.post(REDEEM, redeem)

    assert response.status_code == 200, response.text
    payload = response.json()["data"]["redeemReward"]
    assert payload["userErrors"] == []
    assert payload["redemption"]["member"]["points"]["available"] == 200


async def test_a_write_cut_off_by_the_time_limit_is_rolled_back(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client(settings, request_timeout_seconds=2.0) as api:
        await create_program(api)
        member = await enroll(api, "shop", "cust-1")
        await grant_points(api, member["id"], 300)
        reward = await create_reward(api, "shop", cost_points=100)
        before = await everything()
        real = idempotency_service.store_response

        async def hang(*args: Any, **kwargs: Any) -> None:
            # Inside the redemption's transaction, after the points and stock were taken.
            await asyncio.sleep(30)

        monkeypatch.setattr(idempotency_service, "store_response", hang)
        redeem = {
            "input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}
        }
        response = await api.post(REDEEM, redeem)

        assert refusal(response)[:2] == (503, "TIMEOUT")
        assert response.headers["retry-after"] == "1"
        # Nothing of the redemption stayed; the attempt itself is in the audit log.
        after = await everything()
        assert after["all_counts"].pop("audit_log") == before["all_counts"].pop("audit_log") + 1
        assert after == before
        attempt = (await api.data(AUDIT, {"first": 1}))["auditLog"]["edges"][0]["node"]
        assert (attempt["operation"], attempt["succeeded"]) == ("redeemReward", False)

        # The database is usable afterwards, and the same key redeems once.
        monkeypatch.setattr(idempotency_service, "store_response", real)
        done = await api.data(REDEEM, redeem)
        assert done["redeemReward"]["userErrors"] == []
        assert done["redeemReward"]["redemption"]["member"]["points"]["available"] == 200


# --- Audit log --------------------------------------------------------------------------------

AUDIT = """
query($first: Int!, $target: String) {
  auditLog(first: $first, targetId: $target) {
    edges { node {
      apiKeyId operation targetType targetId input before after succeeded requestId createdAt
    } }
    pageInfo { hasNextPage }
  }
}"""


async def audit_entries(
    api: Api, first: int = 50, target: str | None = None
) -> list[dict[str, Any]]:
    data = await api.data(AUDIT, {"first": first, "target": target})
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def admin_key_id(name: str = "tests") -> int:
    [key] = [k for k in await list_api_keys() if k.name == name]
    return key.id


def changed(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before, after = entry["before"], entry["after"]
    return {
        name: (before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


async def test_admin_writes_are_audited_with_before_and_after(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, "shop", "cust-1")
    key_id = await admin_key_id()
    started = datetime.now(UTC)

    settings_response = await api.post(
        """mutation($input: UpdateProgramSettingsInput!) {
          updateProgramSettings(input: $input) { program { name } userErrors { code } }
        }""",
        {
            "input": {
                "programSlug": "shop",
                "name": "Shop Club",
                "corsOrigins": ["https://shop.example"],
            }
        },
    )
    assert settings_response.json()["data"]["updateProgramSettings"]["userErrors"] == []
    adjust_response = await api.post(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": 50,
                "reason": "goodwill",
                "idempotencyKey": "adj-1",
            }
        },
    )
    assert adjust_response.json()["data"]["adjustPoints"]["userErrors"] == []
    rule = await api.data(
        """mutation($input: CreateEarningRuleInput!) {
          createEarningRule(input: $input) { rule { id paused } userErrors { code } }
        }""",
        {
            "input": {
                "programSlug": "shop",
                "rule": {"name": "Double", "kind": "MULTIPLIER", "multiplier": "2"},
            }
        },
    )
    rule_id = rule["createEarningRule"]["rule"]["id"]
    paused = await api.post(
        """mutation($input: SetEarningRulePausedInput!) {
          setEarningRulePaused(input: $input) { rule { paused } userErrors { code } }
        }""",
        {"input": {"id": rule_id, "paused": True}},
    )
    assert paused.json()["data"]["setEarningRulePaused"]["rule"] == {"paused": True}

    entries = await audit_entries(api)
    # Newest first: setEarningRulePaused, createEarningRule, adjustPoints, updateProgramSettings,
    # enrollMember, createProgram (the API key itself was made outside the API).
    assert [e["operation"] for e in entries] == [
        "setEarningRulePaused",
        "createEarningRule",
        "adjustPoints",
        "updateProgramSettings",
        "enrollMember",
        "createProgram",
    ]
    assert all(e["apiKeyId"] == key_id and e["succeeded"] is True for e in entries)
    assert all(
        started.timestamp() - 1
        <= datetime.fromisoformat(e["createdAt"]).timestamp()
        <= time.time() + 1
        for e in entries
    )
    pause_entry, create_rule_entry, adjust_entry, settings_entry, enroll_entry, create_entry = (
        entries
    )

    assert (settings_entry["targetType"], settings_entry["targetId"]) == ("Program", "shop")
    assert settings_entry["requestId"] == settings_response.headers["x-request-id"]
    assert settings_entry["input"] == {
        "input": {
            "programSlug": "shop",
            "name": "Shop Club",
            "corsOrigins": ["https://shop.example"],
        }
    }
    assert changed(settings_entry) == {
        "name": ("shop rewards", "Shop Club"),
        "cors_origins": ([], ["https://shop.example"]),
    }

    assert (adjust_entry["targetType"], adjust_entry["targetId"]) == ("Member", member["id"])
    assert adjust_entry["requestId"] == adjust_response.headers["x-request-id"]
    assert adjust_entry["before"]["points_available"] == 0
    assert adjust_entry["after"]["points_available"] == 50
    assert set(changed(adjust_entry)) <= {"points_available", "lifetime_earned"}

    assert (pause_entry["targetType"], pause_entry["targetId"]) == ("EarningRule", rule_id)
    assert (pause_entry["before"]["paused"], pause_entry["after"]["paused"]) == (False, True)
    assert set(changed(pause_entry)) == {"paused", "updated_at"}

    assert (create_entry["targetType"], create_entry["targetId"]) == ("Program", "shop")
    assert create_entry["before"] is None
    assert create_entry["after"]["name"] == "shop rewards"
    assert enroll_entry["before"]["name"] == enroll_entry["after"]["name"] == "shop rewards"
    assert create_rule_entry["targetType"] == "Program"

    # Filtered by target, paged.
    for_member = await audit_entries(api, target=member["id"])
    assert [e["operation"] for e in for_member] == ["adjustPoints"]
    page = await api.data(AUDIT, {"first": 2, "target": None})
    assert len(page["auditLog"]["edges"]) == 2
    assert page["auditLog"]["pageInfo"] == {"hasNextPage": True}


async def test_a_refused_admin_write_is_audited_as_failed(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, "shop", "cust-1")

    debit = await api.data(
        ADJUST,
        {
            "input": {
                "memberId": member["id"],
                "points": -1000,
                "reason": "oops",
                "idempotencyKey": "adj-x",
            }
        },
    )
    bad_settings = await api.data(
        """mutation($input: UpdateProgramSettingsInput!) {
          updateProgramSettings(input: $input) { program { name } userErrors { code } }
        }""",
        {"input": {"programSlug": "shop", "name": "Other", "memberTokenMaxSeconds": 5}},
    )

    assert debit["adjustPoints"]["userErrors"] != []
    assert codes(bad_settings["updateProgramSettings"]["userErrors"]) == ["INVALID_VALUE"]
    settings_entry, debit_entry, *_ = await audit_entries(api)
    assert (debit_entry["operation"], debit_entry["succeeded"]) == ("adjustPoints", False)
    assert debit_entry["before"] == debit_entry["after"]
    assert debit_entry["before"]["points_available"] == 0
    assert (settings_entry["operation"], settings_entry["succeeded"]) == (
        "updateProgramSettings",
        False,
    )
    assert settings_entry["before"] == settings_entry["after"]
    assert settings_entry["after"]["name"] == "shop rewards"


async def test_a_refused_admin_write_is_failed_even_without_selecting_user_errors(
    api: Api,
) -> None:
    await create_program(api)
    member = await enroll(api, "shop", "cust-1")

    data = await api.data(
        """mutation($input: AdjustPointsInput!) {
          adjustPoints(input: $input) { member { id } }
        }""",
        {
            "input": {
                "memberId": member["id"],
                "points": -1000,
                "reason": "oops",
                "idempotencyKey": "adj-y",
            }
        },
    )

    assert data["adjustPoints"] == {"member": None}
    [entry, *_] = await audit_entries(api)
    assert (entry["operation"], entry["succeeded"]) == ("adjustPoints", False)


async def test_an_admin_write_inside_a_fragment_is_audited(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, "shop", "cust-1")
    before = len(await audit_entries(api))

    data = await api.data(
        """mutation($input: AdjustPointsInput!) { ...Write }
        fragment Write on Mutation {
          adjustPoints(input: $input) { member { id } userErrors { code } }
        }""",
        {
            "input": {
                "memberId": member["id"],
                "points": 10,
                "reason": "fragment",
                "idempotencyKey": "adj-f",
            }
        },
    )

    assert data["adjustPoints"]["userErrors"] == []
    entries = await audit_entries(api)
    assert len(entries) == before + 1
    assert entries[0]["operation"] == "adjustPoints"


async def test_two_writes_to_one_target_in_one_mutation_are_audited_in_order(api: Api) -> None:
    await create_program(api)

    data = await api.data(
        """mutation {
          a: updateProgramSettings(input: {programSlug: "shop", name: "A"}) { userErrors { code } }
          b: updateProgramSettings(input: {programSlug: "shop", name: "B"}) { userErrors { code } }
        }"""
    )

    assert data == {"a": {"userErrors": []}, "b": {"userErrors": []}}
    b, a, *_ = await audit_entries(api)
    assert (a["before"]["name"], a["after"]["name"]) == ("shop rewards", "A")
    assert (b["before"]["name"], b["after"]["name"]) == ("A", "B")


async def test_writes_with_other_keys_and_queries_are_not_audited(api: Api) -> None:
    await create_program(api)
    member = await enroll(api, "shop", "cust-1")
    await grant_points(api, member["id"], 300)
    reward = await create_reward(api, "shop", cost_points=100)
    secret = await program_key("shop")
    publishable = await program_key("shop", KeyKind.PUBLISHABLE)
    count = len(await audit_entries(api))

    recorded = await record_order(api, customer_id="cust-1", order_id="o-1")
    assert recorded["userErrors"] == []  # admin: audited
    assert len(await audit_entries(api)) == count + 1

    by_secret = await api.data(RECORD_ORDER, {"input": order_input(order_id="o-2")}, key=secret)
    enrolled = await api.data(
        'mutation { enrollMember(input: {programSlug: "shop", customerId: "cust-2"})'
        " { userErrors { code } } }",
        key=secret,
    )
    token = await member_token(api, "cust-1", key=secret)
    redeemed = await post_as(
        api,
        REDEEM,
        {"input": {"memberId": member["id"], "rewardId": reward["id"], "idempotencyKey": "r"}},
        key=publishable,
        token=token,
    )
    await api.data("{ programs { slug } }")

    assert by_secret["recordOrder"]["userErrors"] == []
    assert enrolled["enrollMember"]["userErrors"] == []
    assert redeemed.json()["data"]["redeemReward"]["userErrors"] == []
    entries = await audit_entries(api)
    assert len(entries) == count + 1
    assert entries[0]["operation"] == "recordOrder"
    assert entries[0]["input"]["input"]["orderId"] == "o-1"


async def test_secrets_never_reach_the_audit_log(api: Api) -> None:
    await create_program(api)
    rotated = await rotate_signing_secret(api, "shop", overlap_seconds=60)
    token = await member_token(api, "cust-1")

    entries = await audit_entries(api)
    stored = await rows("SELECT * FROM audit_log")
    stored_text = json.dumps(stored, default=str)

    assert [e["operation"] for e in entries] == [
        "createMemberToken",
        "rotateTokenSigningSecret",
        "createProgram",
    ]
    rotate_entry = entries[1]
    assert rotate_entry["succeeded"] is True
    assert rotate_entry["input"] == {"input": {"programSlug": "shop", "overlapSeconds": 60}}
    assert (rotate_entry["targetType"], rotate_entry["targetId"]) == ("Program", "shop")
    for secret in (rotated["secret"], token, token.split(".")[2]):
        assert secret not in json.dumps(entries)
        assert secret not in stored_text
    assert len(stored) == 3


async def test_graphiql_is_off_in_production_unless_asked_for() -> None:
    async with bare_client() as development:
        assert (await development.get("/graphiql")).status_code == 200
    async with bare_client(production=True) as production:
        assert (await production.get("/graphiql")).status_code == 404
    async with bare_client(production=True, graphiql_in_production=True) as asked:
        assert (await asked.get("/graphiql")).status_code == 200
