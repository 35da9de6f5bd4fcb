"""An HTTP GraphQL client against the ASGI app, and plain factory functions for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.main import create_app
from app.services.api_keys import create_api_key, set_rate_limit


@dataclass
class Api:
    """Posts GraphQL documents over HTTP; `key` defaults to an admin key."""

    http: httpx.AsyncClient
    admin_key: str

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The JSON body of a request that must succeed at the HTTP level."""
        response = await self.post(query, variables, key=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """`data` of a request that must have no top-level errors."""
        body = await self.gql(query, variables, key=key)
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
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://laurel.test") as http:
        yield Api(http=http, admin_key=admin.secret)


@pytest.fixture
async def api(db: None, settings: Settings) -> AsyncIterator[Api]:
    async with api_client(settings) as client:
        yield client
