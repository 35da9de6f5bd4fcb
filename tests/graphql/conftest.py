"""An HTTP GraphQL client against the ASGI app, and plain factory functions for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.graphql.plan_cache import PlanCache
from app.main import create_app
from app.services.access.api_keys import create_api_key, set_rate_limit


def _comparable(response: httpx.Response) -> tuple[int, str | None, bytes]:
    """Status, content type and the body's bytes, with the request id (different in any two
    answers) replaced."""
    content = response.content
    request_id = response.headers.get("x-request-id")
    if request_id:
        content = content.replace(request_id.encode(), b"<request id>")
    return response.status_code, response.headers.get("content-type"), content


@dataclass
class Api:
    """Posts GraphQL documents over HTTP; `key` defaults to an admin key.

    Every query is also sent to a second app with query plans off (app/graphql/compiled.py),
    and the answers must be the same bytes. A query that has just been planned is sent once
    more, so that its plan answers too: the whole suite checks the plans against Strawberry.
    """

    http: httpx.AsyncClient
    admin_key: str
    without_plans: httpx.AsyncClient | None = None
    plans: PlanCache | None = None
    # Off for tests that count what resolvers do: the check runs queries more than once.
    check_plans: bool = True

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}", **(headers or {})}
        body = {"query": query, "variables": variables or {}}
        is_query = query.lstrip().startswith(("query", "{"))
        if not (self.check_plans and is_query and self.without_plans and self.plans):
            return await self.http.post("/graphql", json=body, headers=headers)
        planned_before = self.plans.get(query, None) is not None
        response = await self.http.post("/graphql", json=body, headers=headers)
        reference = await self.without_plans.post("/graphql", json=body, headers=headers)
        assert _comparable(response) == _comparable(reference), (
            "an answer with query plans on differs from Strawberry's"
        )
        if not planned_before and self.plans.get(query, None) is not None:
            answers_before = self.plans.plan_answers
            planned = await self.http.post("/graphql", json=body, headers=headers)
            assert self.plans.plan_answers == answers_before + 1, "the new plan gave up"
            assert _comparable(planned) == _comparable(reference), (
                "a query's planned answer differs from Strawberry's"
            )
        return response

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a request that must succeed at the HTTP level."""
        response = await self.post(query, variables, key=key, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """`data` of a request that must have no top-level errors."""
        body = await self.gql(query, variables, key=key, headers=headers)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[Api]:
    """A client of the app on an initialised database, with a fresh admin key."""
    app = create_app(settings, manage_database=False)
    admin = await create_api_key(KeyKind.ADMIN, None, "tests")
    # Tests fire hundreds of requests at once; the rate limit has tests of its own.
    await set_rate_limit(admin.id, 100_000.0, 100_000)
    reference_app = create_app(replace(settings, query_plans=False), manage_database=False)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://laurel.test"
        ) as http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reference_app), base_url="http://laurel.test"
        ) as without_plans,
    ):
        yield Api(
            http=http,
            admin_key=admin.secret,
            without_plans=without_plans,
            plans=app.state.query_plans,
        )


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client
