"""Rate limits that fit storefronts (app/auth/rate_limit.py): under one publishable key each
shopper has a bucket of their own (by member token, else by address) below the store's ceiling,
and a key's bucket is shared by every process, so two workers do not double a key's rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from app.auth import rate_limit
from app.auth.api_keys import KeyKind
from app.auth.rate_limit import RateLimit, SharedBuckets
from app.config import Settings
from app.main import create_app
from app.services.access.api_keys import CreatedApiKey, create_api_key, set_rate_limit
from app.web.gateway import ClientAddresses
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, member_token

ME = "{ me { customerId } }"
# The test client's peer is 127.0.0.1, as a proxy in front would be: X-Forwarded-For names
# the shopper's address.
SHOPPER = {"shopper_per_second": 1.0, "shopper_burst": 3, "trusted_proxies": ("127.0.0.1",)}


@asynccontextmanager
async def _app(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(settings, api_key_cache_seconds=0, **overrides), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://laurel.test") as http:
        yield http


async def _post(
    http: httpx.AsyncClient, key: str, token: str | None = None, address: str = "10.0.0.1"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": address}
    if token is not None:
        headers["X-Member-Token"] = token
    return await http.post("/graphql", json={"query": ME}, headers=headers)


@asynccontextmanager
async def _storefront(settings: Settings) -> AsyncIterator[tuple[Api, CreatedApiKey]]:
    async with _app(settings) as admin_http:
        admin = await create_api_key(KeyKind.ADMIN, None, "shopper limits")
        await set_rate_limit(admin.id, 100_000.0, 100_000)
        api = Api(http=admin_http, admin_key=admin.secret)
        await create_program(api)
        yield api, await create_api_key(KeyKind.PUBLISHABLE, "shop", "storefront")


async def test_300_shoppers_with_their_own_tokens_are_not_limited_below_the_ceiling(
    db: None, settings: Settings
) -> None:
    async with _storefront(settings) as (api, created):
        key = created.secret
        tokens = [await member_token(api, f"shopper-{n}") for n in range(300)]
        async with _app(settings, **SHOPPER) as storefront:
            # Each shopper loads a page: three requests at once, all 900 together.
            answers = await asyncio.gather(
                *(_post(storefront, key, token) for token in tokens for _ in range(3))
            )

    refused = [answer.text for answer in answers if answer.status_code != 200]
    assert refused == []


async def test_one_shopper_over_their_rate_is_limited_alone(db: None, settings: Settings) -> None:
    async with _storefront(settings) as (api, created):
        key = created.secret
        busy, quiet = await member_token(api, "busy"), await member_token(api, "quiet")
        async with _app(settings, **SHOPPER) as storefront:
            busy_answers = [await _post(storefront, key, busy) for _ in range(5)]
            quiet_answer = await _post(storefront, key, quiet)
            anonymous = [await _post(storefront, key, address="10.0.0.9") for _ in range(4)]
            elsewhere = await _post(storefront, key, address="10.0.0.10")

    assert [answer.status_code for answer in busy_answers] == [200, 200, 200, 429, 429]
    limited = busy_answers[3]
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["errors"][0]["message"].startswith("too many requests for this shopper")
    assert quiet_answer.status_code == 200
    # Without a token a shopper is their address.
    assert [answer.status_code for answer in anonymous] == [200, 200, 200, 429]
    assert elsewhere.status_code == 200


async def test_the_store_ceiling_holds_over_all_shoppers(db: None, settings: Settings) -> None:
    async with _storefront(settings) as (api, created):
        key = created.secret
        await set_rate_limit(created.id, 0.01, 5)
        tokens = [await member_token(api, f"shopper-{n}") for n in range(8)]
        async with _app(settings, **SHOPPER) as storefront:
            answers = [await _post(storefront, key, token) for token in tokens]

    assert [answer.status_code for answer in answers] == [200] * 5 + [429] * 3
    assert answers[-1].json()["errors"][0]["message"].startswith("too many requests for this key")


@pytest.mark.parametrize("requests", [24])
async def test_two_workers_share_a_keys_rate(db: None, settings: Settings, requests: int) -> None:
    """Two apps (as two worker processes) on one database: a key with a burst of 10 and almost
    no refill gets 10 requests in all, not 10 each."""
    admin = await create_api_key(KeyKind.ADMIN, None, "two workers")
    await set_rate_limit(admin.id, 0.01, 10)
    async with _app(settings) as first, _app(settings) as second:
        answers = await asyncio.gather(
            *(
                (first if n % 2 else second).post(
                    "/graphql",
                    json={"query": "{ programs { slug } }"},
                    headers={"Authorization": f"Bearer {admin.secret}"},
                )
                for n in range(requests)
            )
        )

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 10
    assert statuses.count(429) == requests - 10


def test_addresses_behind_trusted_proxies_and_ipv6_prefixes() -> None:
    direct = ClientAddresses()
    behind = ClientAddresses(["10.0.0.0/8"])

    def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
        headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
        return {"client": (peer, 1234), "headers": headers}

    assert direct.of(scope("203.0.113.5", "198.51.100.1")) == "203.0.113.5"
    assert behind.of(scope("10.1.2.3", "198.51.100.1, 10.0.0.7")) == "198.51.100.1"
    # A forged first hop does not help: the nearest untrusted hop counts.
    assert behind.of(scope("10.1.2.3", "1.1.1.1, 198.51.100.1")) == "198.51.100.1"
    assert direct.of(scope("2001:db8:1:2:3:4:5:6")) == direct.of(scope("2001:db8:1:2:ffff::1"))
    assert direct.of(scope("2001:db8:1:2::1")) != direct.of(scope("2001:db8:1:3::1"))


async def test_a_key_over_its_limit_is_refused_from_memory_until_its_next_token(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An over-limit client must not cost a database write per request."""
    leases = 0
    lease_tokens = rate_limit._lease_tokens

    async def counted(bucket: str, limit: RateLimit, wanted: int) -> tuple[int, float]:
        nonlocal leases
        leases += 1
        return await lease_tokens(bucket, limit, wanted)

    monkeypatch.setattr(rate_limit, "_lease_tokens", counted)
    buckets = SharedBuckets()
    limit = RateLimit(per_second=4.0, burst=1)

    first = await buckets.take("key:memory", limit)
    refusals = [await buckets.take("key:memory", limit) for _ in range(100)]
    leases_while_empty = leases
    await asyncio.sleep(0.3)  # past the next token (0.25 s)
    later = await buckets.take("key:memory", limit)

    assert first.allowed
    assert not any(decision.allowed for decision in refusals)
    assert {decision.retry_after for decision in refusals} == {1}
    assert leases_while_empty == 2, "the first refusal asks the database, the rest do not"
    assert later.allowed
