"""The ASGI application: `create_app(settings)` wires the database, auth and the GraphQL API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from tortoise.contrib.starlette import RegisterTortoise

from app.auth.api_keys import ApiKeyResolver, Principal
from app.config import Settings
from app.db import tortoise_config
from app.graphql.context import Context
from app.graphql.schema import schema
from app.web.graphiql import graphiql_routes

logger = logging.getLogger("laurel")

GRAPHQL_PATH = "/graphql"


class LaurelGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        principal: Principal = request.scope["state"]["principal"]
        return Context(principal=principal)


def _unauthenticated(message: str) -> bytes:
    body = {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return json.dumps(body).encode()


class ApiKeyAuth:
    """Finds the caller's principal from `Authorization: Bearer <key>`; refuses with 401 if none.

    A pure ASGI wrapper rather than Starlette middleware: it runs on every API request, and
    this shape adds no task or stream copying around the app.
    """

    def __init__(self, app: ASGIApp, resolver: ApiKeyResolver) -> None:
        self.app = app
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        scheme, _, secret = authorization.partition(" ")
        principal = (
            await self.resolver.resolve(secret.strip()) if scheme.lower() == "bearer" else None
        )
        if principal is None:
            message = (
                "send an API key as `Authorization: Bearer <key>`"
                if not authorization
                else "the API key is not valid"
            )
            response = Response(
                _unauthenticated(message),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings, *, manage_database: bool = True) -> Starlette:
    """The app; with `manage_database=False` the caller (a test) has initialised Tortoise."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if manage_database:
                await stack.enter_async_context(
                    RegisterTortoise(app, config=tortoise_config(settings))
                )
            if settings.jobs_interval_seconds > 0:
                from app.jobs.runner import JobOptions, run_forever

                runner = asyncio.create_task(
                    run_forever(
                        settings.jobs_interval_seconds,
                        JobOptions(idempotency_retention_days=settings.idempotency_retention_days),
                    )
                )
                stack.push_async_callback(_stop, runner)
            yield

    graphql_app = LaurelGraphQL(schema, graphql_ide=None, allow_queries_via_get=False)
    resolver = ApiKeyResolver(ttl_seconds=settings.api_key_cache_seconds)
    routes = [
        Route(GRAPHQL_PATH, ApiKeyAuth(graphql_app, resolver), methods=["POST"]),
        Route("/healthz", health),
        *graphiql_routes(GRAPHQL_PATH),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def app_from_env() -> Starlette:
    """The factory `laurel serve` gives Uvicorn, so every worker builds its own app."""
    return create_app(Settings.from_env())
