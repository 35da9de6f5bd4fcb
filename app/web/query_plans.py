"""The ASGI layer in front of Strawberry that answers known query documents by their plans.

It sits behind the gateway (keys, rate limits, body limits and timeout are already applied),
which has parsed the JSON body once into the request state. A query document with a plan
(app/graphql/compiled.py) is answered here, inside the schema extensions' operation and
execution hooks as Strawberry would run them; everything else, and every request whose plan
gives up, goes to Strawberry with the same body.
A document Strawberry answers without an error is planned for the next request; a mutation's
plan gives up only before it writes, so a request it takes is answered by it, errors and all.
docs/decisions/0001-fast-reads.md says why reads are answered this way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.graphql.compiled import GiveUpError
from app.graphql.plan_cache import PlanCache


@dataclass(frozen=True)
class _GraphQLRequest:
    query: str
    operation_name: str | None
    variables: Any
    extensions: dict[str, Any] | None


def _graphql_request(data: object) -> _GraphQLRequest | None:
    """The request, when the body is a single GraphQL request in the shape Strawberry reads."""
    if not isinstance(data, dict):
        return None
    query = data.get("query")
    operation_name = data.get("operationName")
    extensions = data.get("extensions")
    if not isinstance(query, str) or not (
        operation_name is None or isinstance(operation_name, str)
    ):
        return None
    if not (extensions is None or isinstance(extensions, dict)):
        return None
    return _GraphQLRequest(query, operation_name, data.get("variables"), extensions)


def _answered_without_errors(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and "errors" not in answer and answer.get("data") is not None


class QueryPlans:
    def __init__(
        self,
        app: ASGIApp,
        plans: PlanCache,
        context_of: Callable[[dict[str, Any]], Any],
    ) -> None:
        self.app = app
        self.plans = plans
        self.context_of = context_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = _graphql_request(scope["state"]["request_json"])
        if request is not None:
            plan = self.plans.get(request.query, request.operation_name)
            if plan is not None:
                try:
                    answer = await plan.answer(
                        self.plans.schema,
                        request.variables,
                        self.context_of(scope["state"]),
                        request.extensions,
                    )
                except GiveUpError:
                    self.plans.failed(request.query, request.operation_name)
                else:
                    self.plans.answered(request.query, request.operation_name)
                    await _send_json(send, answer)
                    return

        if request is None or self.plans.knows(request.query, request.operation_name):
            await self.app(scope, receive, send)
            return
        status = 0
        answer_chunks: list[bytes] = []

        async def send_and_keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answer_chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, send_and_keep)
        if _answered_without_errors(status, b"".join(answer_chunks)):
            self.plans.learn(request.query, request.operation_name)
        else:
            self.plans.failed(request.query, request.operation_name)


async def _send_json(send: Send, body: bytes) -> None:
    # The headers Starlette's JSON response gives Strawberry's answers, in its order.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
