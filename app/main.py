"""The ASGI application: `create_app(settings)` wires the database, auth and the GraphQL API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType
from tortoise.contrib.starlette import RegisterTortoise

from app.auth.api_keys import ApiKeyResolver, KeyKind, Principal
from app.auth.member_tokens import MemberTokenError, MemberTokenVerifier
from app.auth.rate_limit import RateLimit, RateLimiter, SharedBuckets
from app.config import Settings
from app.db import tortoise_config
from app.domain.locales import accepted_locales
from app.graphql.core.context import Context
from app.graphql.encoding import encode_answer
from app.graphql.plan_cache import PlanCache
from app.graphql.schema import schema
from app.services.analytics import open_snapshots
from app.services.documents.service import DocumentStore
from app.services.webhooks import service as webhooks_service
from app.web.admission import Admission
from app.web.console import console_routes
from app.web.gateway import ApiGateway, ClientAddresses, ProgramWebPolicies, request_id_of
from app.web.graphiql import graphiql_routes
from app.web.http_protocol import GraphQLOverHttp, PersistedQueries
from app.web.query_plans import QueryPlans
from app.web.widget import widget_routes

logger = logging.getLogger("laurel")

GRAPHQL_PATH = "/graphql"
COMPRESS_FROM_BYTES = 1024
# How often the server looks for uploads queued by another process (its own wake it at once).
IMPORT_POLL_SECONDS = 60.0


class LaurelGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        if request.scope["type"] == "websocket":
            # Nobody until `connection_init` names a key (on_ws_connect).
            return Context(
                principal=Principal(key_id=0, kind=KeyKind.PUBLISHABLE, program_id=None),
                production=self.production,
                code_checks=self.code_checks,
                connection_params={},
                socket_scope=request.scope,
            )
        return self.context_of(request.scope["state"])

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A subscription socket's key and member token, from the `connection_init` payload
        (`{"authorization": "Bearer <key>", "memberToken": "<token>"}`); anything wrong
        closes the socket (4403) before any subscription starts."""
        params = {str(k).lower(): v for k, v in (context.connection_params or {}).items()}
        authorization = params.get("authorization")
        token = params.get("membertoken", params.get("x-member-token"))
        if not isinstance(authorization, str) or not isinstance(token, str | None):
            raise ConnectionRejectionError
        scheme, _, secret = authorization.partition(" ")
        principal = await self.keys.resolve(secret.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise ConnectionRejectionError
        if token is not None:
            if principal.kind is not KeyKind.PUBLISHABLE or principal.program_id is None:
                raise ConnectionRejectionError
            try:
                identity = await self.tokens.verify(token.strip(), principal.program_id)
            except MemberTokenError as exc:
                raise ConnectionRejectionError({"code": exc.code}) from exc
            principal = replace(
                principal, member_customer_id=identity.customer_id, member_id=identity.member_id
            )
            context.token_expires_at = identity.expires_at
        assert context.socket_scope is not None
        refusal = await self.gateway.socket_refusal(context.socket_scope, principal)
        if refusal is not None:
            raise ConnectionRejectionError({"code": refusal})
        context.principal = principal
        acknowledged: UnsetType = UNSET
        return acknowledged

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        """Any page may open the socket: which origins a program allows is known only once
        `connection_init` names its key, and on_ws_connect checks it then (the gateway's rule,
        the same as for requests)."""
        return True

    def context_of(self, state: dict[str, Any]) -> Context:
        """The context of a request the gateway let through; query plans use it too."""
        principal: Principal = state["principal"]
        return Context(
            principal=principal,
            request_id=request_id_of(state),
            accept_language=accepted_locales(state.get("accept_language")),
            production=self.production,
            code_checks=self.code_checks,
        )

    def encode_json(self, data: object) -> str:
        # Text, as Strawberry's own encoder gives: a WebSocket would send bytes as binary frames.
        return encode_answer(data).decode()

    production = False
    code_checks: RateLimiter | None = None
    keys: ApiKeyResolver
    tokens: MemberTokenVerifier
    gateway: ApiGateway


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
                    RegisterTortoise(app, config=tortoise_config(settings, serving_requests=True))
                )
            # Refreshes of the open months' analytics snapshots end before the database closes.
            stack.push_async_callback(open_snapshots.stop_refreshes)
            if settings.jobs_interval_seconds > 0:
                from app.jobs.runner import JobOptions, run_forever

                runner = asyncio.create_task(
                    run_forever(
                        settings.jobs_interval_seconds,
                        JobOptions(idempotency_retention_days=settings.idempotency_retention_days),
                    )
                )
                stack.push_async_callback(_stop, runner)
            elif manage_database and settings.tier_recalculation_seconds > 0:
                # The job runner above includes it; without one, configureTiers still reaches
                # every member in the background.
                from app.jobs.tiers import recalculate_after_changes_forever

                watcher = asyncio.create_task(
                    recalculate_after_changes_forever(settings.tier_recalculation_seconds)
                )
                stack.push_async_callback(_stop, watcher)
            if manage_database and settings.jobs_interval_seconds <= 0:
                # Uploaded imports (importFile) run in the background; the job runner above
                # runs them itself when there is one.
                from app.jobs.imports import run_queued_imports_forever

                imports = asyncio.create_task(run_queued_imports_forever(IMPORT_POLL_SECONDS))
                stack.push_async_callback(_stop, imports)
            if manage_database and settings.webhook_worker:
                from app.jobs.webhooks import WebhookWorker, options_of, stop_worker

                stop = asyncio.Event()
                options = options_of(settings)
                worker = asyncio.create_task(WebhookWorker(options).run_until(stop))
                stack.push_async_callback(stop_worker, stop, worker, options.timeout_seconds + 5)
            if manage_database:
                # What start-up built (modules, the schema, caches) lives as long as the
                # process: frozen out of the collector, a full collection no longer walks it
                # in the middle of a request (the p99 of a small query).
                gc.collect()
                gc.freeze()
            yield

    webhooks_service.allow_private_addresses(settings.webhooks_allow_private)
    open_snapshots.configure(open_snapshots.policy_of(settings))
    graphql_app = LaurelGraphQL(
        schema,
        graphql_ide=None,
        allow_queries_via_get=False,
        # Only graphql-transport-ws: the legacy graphql-ws protocol is not offered.
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        keep_alive=True,
        keep_alive_interval=15,
    )
    graphql_app.keys = ApiKeyResolver(ttl_seconds=settings.api_key_cache_seconds)
    graphql_app.tokens = MemberTokenVerifier(ttl_seconds=settings.api_key_cache_seconds)
    graphql_app.production = settings.production
    graphql_app.code_checks = RateLimiter()
    api: ASGIApp = graphql_app
    plans = PlanCache(schema) if settings.query_plans else None
    if plans is not None:
        api = QueryPlans(graphql_app, plans, graphql_app.context_of)
    api = GraphQLOverHttp(api, PersistedQueries(DocumentStore()))
    gateway = build_gateway(api, settings)
    graphql_app.gateway = gateway
    routes = [
        # Every method reaches the gateway, which answers the ones it does not serve (405, JSON).
        Route(
            GRAPHQL_PATH,
            Admission(
                _compressed(gateway),
                max_in_flight=settings.max_in_flight,
                max_queued=settings.max_queued,
                max_queue_seconds=settings.max_queue_seconds,
            ),
        ),
        # Subscriptions (graphql-transport-ws): authenticated by their connection_init.
        WebSocketRoute(GRAPHQL_PATH, graphql_app),
        Route("/healthz", health),
        # In production GraphiQL is served only when asked for; introspection (which it needs)
        # stays for admin keys either way.
        *(
            graphiql_routes(GRAPHQL_PATH)
            if not settings.production or settings.graphiql_in_production
            else []
        ),
        # The rewards widget's script is for every store; its demo page is served like GraphiQL.
        *widget_routes(demo_page=not settings.production or settings.graphiql_in_production),
        # The admin console likewise: off in production unless asked for (LAUREL_CONSOLE).
        *(
            console_routes(GRAPHQL_PATH)
            if not settings.production or settings.console_in_production
            else []
        ),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.query_plans = plans
    return app


def build_gateway(api: ASGIApp, settings: Settings) -> ApiGateway:
    """The gateway in front of `api` (app/web/gateway.py), configured by `settings`."""
    return ApiGateway(
        api,
        resolver=ApiKeyResolver(ttl_seconds=settings.api_key_cache_seconds),
        tokens=MemberTokenVerifier(ttl_seconds=settings.api_key_cache_seconds),
        policies=ProgramWebPolicies(ttl_seconds=settings.api_key_cache_seconds),
        key_buckets=SharedBuckets(),
        shopper_buckets=RateLimiter(max_keys=100_000),
        shopper_limit=RateLimit(
            per_second=settings.shopper_per_second, burst=settings.shopper_burst
        ),
        client_addresses=ClientAddresses(settings.trusted_proxies),
        max_body_bytes=settings.max_body_bytes,
        timeout_seconds=settings.request_timeout_seconds,
    )


def _compressed(app: ASGIApp) -> ASGIApp:
    """Answers of 1 KiB or more gzipped when the client accepts it: a member's page of activity
    shrinks about 5x; below that the header costs more than it saves."""
    return GZipMiddleware(app, minimum_size=COMPRESS_FROM_BYTES)


def app_from_env() -> Starlette:
    """The factory `laurel serve` gives Uvicorn, so every worker builds its own app."""
    return create_app(Settings.from_env())
