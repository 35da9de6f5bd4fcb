"""Everything a request to the API passes before GraphQL sees it, in this order:

1. a request id (the `X-Request-Id` response header, in logs and in masked errors);
2. CORS: preflights are answered for origins some program allows, with the requested headers
   that are allowed (ALLOWED_HEADERS and those programs' own); a cross-origin request is refused
   (403) unless its key's program lists the origin, and only then gets CORS headers;
3. POST takes JSON only (415) and a body size limit (413), also enforced while the body streams
   in; GET (queries, cacheable) carries the request in its query string; other methods are 405;
4. the API key (401), then the origin check of 2;
5. the key's token bucket, shared by every process (429 with `Retry-After`;
   `X-RateLimit-Limit` and `X-RateLimit-Remaining` on every answer), then with a publishable
   key an optional member token (401 if invalid) and the shopper's own bucket, by member token
   or else by client address (app/auth/rate_limit.py);
6. a time limit on the whole request (503 `TIMEOUT` with `Retry-After`), which cancels its
   database work, until its first COMMIT starts: from there the request runs to its end, so a
   TIMEOUT answer is only ever given for a request of which nothing was kept;
7. the body read whole and parsed once: invalid UTF-8 (400 `BODY_NOT_UTF8`) and JSON nested
   deeper than `MAX_JSON_NESTING` (400 `BODY_TOO_DEEP`) are refused here, before a decoder or
   GraphQL's recursive value coercion behind it fails on them. The parsed body (for GET, the
   query string's `query`, `operationName`, `variables` and `extensions`) is left in the request
   state (`request_json`, None when it is not JSON) for app/web/http_protocol.py, which checks the
   request's shape and answers in GraphQL-over-HTTP's terms.

A pure ASGI wrapper rather than Starlette middleware: it runs on every API request, and this
shape adds no task or stream copying around the app.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.api_keys import ApiKeyResolver, KeyKind, Principal
from app.auth.member_tokens import TOKEN_HEADER, MemberTokenError, MemberTokenVerifier
from app.auth.rate_limit import DEFAULT_LIMITS, Decision, RateLimit, RateLimiter, SharedBuckets
from app.db import connection, fetch_all, from_json
from app.db import on_commit_start as on_commit_start

logger = logging.getLogger("laurel.gateway")

# What browsers may send cross-origin: the API's own headers and what common clients add
# (Apollo Client's name and version, Sentry's tracing); If-None-Match for cached GETs. A
# preflight is answered with the requested headers that are among these.
ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "x-member-token",
        "if-none-match",
        "apollographql-client-name",
        "apollographql-client-version",
        "sentry-trace",
        "baggage",
    }
)
PREFLIGHT_MAX_AGE = "600"
# The refusal's code on a member-token refusal (MEMBER_TOKEN_EXPIRED: get a new token).
ERROR_CODE_HEADER = b"x-laurel-error"
# When a client may try again after a 503 (a timeout, or the server at capacity).
RETRY_AFTER_SECONDS = b"1"
# Far above what any input of the schema needs, far below what a recursive decoder survives.
MAX_JSON_NESTING = 32


class BodyTooLargeError(Exception):
    pass


@dataclass(frozen=True)
class WebPolicy:
    """What a program lets browsers and its publishable keys do."""

    origins: frozenset[str]
    # Request headers allowed beyond ALLOWED_HEADERS.
    allowed_headers: frozenset[str]
    trusted_documents_only: bool


class ProgramWebPolicies:
    """Every program's web policy, re-read every few seconds (a change reaches every process
    within that time)."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._by_program: dict[int, WebPolicy] = {}
        self._fetched = -float("inf")

    async def _refresh(self) -> None:
        if time.monotonic() - self._fetched < self._ttl:
            return
        rows = await fetch_all(
            connection(),
            "SELECT id, cors_origins, cors_allowed_headers, trusted_documents_only FROM programs",
        )
        self._by_program = {
            int(row["id"]): WebPolicy(
                origins=frozenset(str(o) for o in from_json(row["cors_origins"]) or []),
                allowed_headers=frozenset(
                    str(h) for h in from_json(row["cors_allowed_headers"]) or []
                ),
                trusted_documents_only=bool(row["trusted_documents_only"]),
            )
            for row in rows
        }
        self._fetched = time.monotonic()

    async def headers_allowed_from(self, origin: str) -> frozenset[str] | None:
        """The request headers a preflight from `origin` may be granted: the API's own and
        those of every program that allows the origin (the preflight names no key); None when
        no program allows it."""
        await self._refresh()
        extra = [
            policy.allowed_headers
            for policy in self._by_program.values()
            if origin in policy.origins
        ]
        return None if not extra else ALLOWED_HEADERS.union(*extra)

    async def program_allows(self, program_id: int | None, origin: str) -> bool:
        if program_id is None:
            return False
        await self._refresh()
        policy = self._by_program.get(program_id)
        return policy is not None and origin in policy.origins

    async def trusted_documents_only(self, program_id: int | None) -> bool:
        if program_id is None:
            return False
        await self._refresh()
        policy = self._by_program.get(program_id)
        return policy is not None and policy.trusted_documents_only


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


_PAGE_SCHEMES = {"ws": "http", "wss": "https"}


def _own_origin(scope: Scope) -> str | None:
    host = _header(scope, b"host")
    scheme = str(scope.get("scheme", "http"))
    return None if host is None else f"{_PAGE_SCHEMES.get(scheme, scheme)}://{host}"


def _nests_deeper_than(value: object, limit: int) -> bool:
    """Whether `value` has containers more than `limit` deep, walked level by level (no
    recursion, so no depth can overflow the walk itself)."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for container in level
            if isinstance(container, dict | list)
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return any(isinstance(deepest, dict | list) for deepest in level)


def _parsed_body(body: bytes) -> object:
    """The body's JSON (None when it is not JSON: Strawberry answers that), or its refusal."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        return _BodyRefusal("BODY_NOT_UTF8", "the body is not valid UTF-8")
    except RecursionError:
        return _TOO_DEEP
    except ValueError:
        return None
    # Every level of nesting opens a bracket, so a body with few brackets needs no walk: the
    # count is a scan in C, the walk costs about 15 us for an ordinary request.
    brackets = body.count(b"{") + body.count(b"[")
    if brackets > MAX_JSON_NESTING and _nests_deeper_than(data, MAX_JSON_NESTING):
        return _TOO_DEEP
    return data


def _query_string_request(query_string: bytes) -> dict[str, Any] | _BodyRefusal:
    """A GET request's GraphQL request, as a POST body would hold it."""
    try:
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return _BodyRefusal("BODY_NOT_UTF8", "the query string is not valid UTF-8")
    request: dict[str, Any] = {}
    for name, value in pairs:
        if name in ("query", "operationName"):
            request[name] = value
        elif name in ("variables", "extensions"):
            parsed = _parsed_body(value.encode())
            if isinstance(parsed, _BodyRefusal):
                return parsed
            if parsed is None:
                return _BodyRefusal("PARAMETER_NOT_JSON", f"{name} is not JSON")
            request[name] = parsed
    return request


@dataclass(frozen=True)
class _BodyRefusal:
    code: str
    message: str


_TOO_DEEP = _BodyRefusal(
    "BODY_TOO_DEEP", f"the JSON body nests deeper than {MAX_JSON_NESTING} levels"
)


def _error_body(code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    ).encode()


class ApiGateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        resolver: ApiKeyResolver,
        tokens: MemberTokenVerifier,
        policies: ProgramWebPolicies,
        key_buckets: SharedBuckets,
        shopper_buckets: RateLimiter,
        shopper_limit: RateLimit,
        client_addresses: ClientAddresses,
        max_body_bytes: int,
        timeout_seconds: float,
    ) -> None:
        self.app = app
        self.resolver = resolver
        self.tokens = tokens
        self.policies = policies
        self.key_buckets = key_buckets
        self.shopper_buckets = shopper_buckets
        self.shopper_limit = shopper_limit
        self.client_addresses = client_addresses
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        extra_headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def refuse(
            status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
        ) -> None:
            body = _error_body(code, message, request_id)
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})

        origin = _header(scope, b"origin")
        cross_origin = origin is not None and origin != _own_origin(scope)
        if scope["method"] == "OPTIONS":
            allowed = (
                None
                if origin is None
                else await self.policies.headers_allowed_from(origin)
                if cross_origin
                else ALLOWED_HEADERS
            )
            if allowed is None:
                await refuse(403, "ORIGIN_NOT_ALLOWED", "this origin may not call the API")
                return
            assert origin is not None
            extra_headers.extend(_cors_headers(origin))
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-methods", b"GET, POST"),
                        (b"access-control-allow-headers", _allowed_headers(scope, allowed)),
                        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": b""})
            return
        method = scope["method"]
        if method not in ("GET", "POST"):
            await refuse(
                405, "METHOD_NOT_ALLOWED", "send queries by GET or POST", [(b"allow", b"GET, POST")]
            )
            return
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if method == "POST" and content_type != "application/json":
            await refuse(415, "UNSUPPORTED_MEDIA_TYPE", "send the request as application/json")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await refuse(413, "BODY_TOO_LARGE", f"the body is over {self.max_body_bytes} bytes")
            return
        principal = await self._key_principal(scope)
        if isinstance(principal, tuple):
            status, code, message = principal
            await refuse(status, code, message, [(b"www-authenticate", b"Bearer")])
            return
        if cross_origin:
            assert origin is not None
            if not await self.policies.program_allows(principal.program_id, origin):
                await refuse(
                    403, "ORIGIN_NOT_ALLOWED", f"the program does not allow the origin {origin}"
                )
                return
            # Only an allowed origin may read the answer (refusals above stay opaque to it).
            extra_headers.extend(_cors_headers(origin))
        # The key's budget (a storefront's: the store's ceiling) is spent before the member
        # token is checked: a public key sent with junk tokens is limited like any other use.
        decision = await self.key_buckets.take(f"key:{principal.key_id}", _limit_of(principal))
        if not decision.allowed:
            await self._refuse_limited(refuse, extra_headers, decision, "this key")
            return
        with_member = await self._with_member(scope, principal)
        if principal.kind is KeyKind.PUBLISHABLE:
            # Each shopper's own budget: their token's member, else (no token, or a bad one)
            # their address, so junk tokens are limited per address too.
            shopper = (
                ("member", with_member.program_id, with_member.member_customer_id)
                if not isinstance(with_member, tuple) and with_member.member_customer_id
                else ("address", self.client_addresses.of(scope))
            )
            shopper_decision = self.shopper_buckets.take(shopper, self.shopper_limit)
            if not shopper_decision.allowed:
                await self._refuse_limited(refuse, extra_headers, shopper_decision, "this shopper")
                return
            if shopper_decision.remaining < decision.remaining:
                decision = shopper_decision
        extra_headers.extend(
            [
                (b"x-ratelimit-limit", str(decision.limit).encode()),
                (b"x-ratelimit-remaining", str(decision.remaining).encode()),
            ]
        )
        if isinstance(with_member, tuple):
            status, code, message = with_member
            # The code in a header too, so a client's HTTP layer can refresh the token and
            # retry without reading the body (RFC 6750's invalid_token).
            challenge = f'Bearer error="invalid_token", error_description="{code}"'
            await refuse(
                status,
                code,
                message,
                [
                    (b"www-authenticate", challenge.encode()),
                    (ERROR_CODE_HEADER, code.encode()),
                ],
            )
            return
        principal = with_member
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["request_id"] = request_id
        state["accept_language"] = _header(scope, b"accept-language")
        if principal.kind is KeyKind.PUBLISHABLE and await self.policies.trusted_documents_only(
            principal.program_id
        ):
            state["trusted_documents_of"] = principal.program_id

        async def pass_on() -> None:
            if method == "GET":
                from_query_string = _query_string_request(scope["query_string"])
                if isinstance(from_query_string, _BodyRefusal):
                    await refuse(400, from_query_string.code, from_query_string.message)
                    return
                state["request_json"] = from_query_string
                await self.app(scope, receive, send_with_headers)
                return
            body = await self._read_body(receive)
            if body is None:
                return  # the client went away before its body was read
            parsed = _parsed_body(body)
            if isinstance(parsed, _BodyRefusal):
                await refuse(400, parsed.code, parsed.message)
                return
            state["request_json"] = parsed
            replayed = False

            async def receive_again() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, receive_again, send_with_headers)

        try:
            async with asyncio.timeout(self.timeout_seconds) as deadline:
                # Past its first COMMIT a request runs to its end: cut off there, its answer
                # would say nothing was kept of a write that was.
                with on_commit_start(lambda: deadline.reschedule(None)):
                    await pass_on()
        except BodyTooLargeError:
            if not started:
                await refuse(413, "BODY_TOO_LARGE", f"the body is over {self.max_body_bytes} bytes")
        except TimeoutError:
            logger.error(
                "request %s passed %s s and was cancelled", request_id, self.timeout_seconds
            )
            if not started:
                await refuse(
                    503,
                    "TIMEOUT",
                    f"the request took longer than {self.timeout_seconds:g} s; nothing of it"
                    " was kept",
                    [(b"retry-after", RETRY_AFTER_SECONDS)],
                )

    async def socket_refusal(self, scope: Scope, principal: Principal) -> str | None:
        """The error code that refuses a subscription socket whose `connection_init` named
        `principal`, or None. A socket is held to what a request is: the program's origins
        (a page of another site must not open one with a visitor's key: cross-site WebSocket
        hijacking) and the key's and the shopper's budgets, one request per socket."""
        origin = _header(scope, b"origin")
        if (
            origin is not None
            and origin != _own_origin(scope)
            and not await self.policies.program_allows(principal.program_id, origin)
        ):
            return "ORIGIN_NOT_ALLOWED"
        decision = await self.key_buckets.take(f"key:{principal.key_id}", _limit_of(principal))
        if not decision.allowed:
            return "RATE_LIMITED"
        if principal.kind is KeyKind.PUBLISHABLE:
            shopper = (
                ("member", principal.program_id, principal.member_customer_id)
                if principal.member_customer_id
                else ("address", self.client_addresses.of(scope))
            )
            if not self.shopper_buckets.take(shopper, self.shopper_limit).allowed:
                return "RATE_LIMITED"
        return None

    @staticmethod
    async def _refuse_limited(
        refuse: Any, extra_headers: list[tuple[bytes, bytes]], decision: Decision, whom: str
    ) -> None:
        extra_headers.extend(
            [
                (b"x-ratelimit-limit", str(decision.limit).encode()),
                (b"x-ratelimit-remaining", b"0"),
            ]
        )
        await refuse(
            429,
            "RATE_LIMITED",
            f"too many requests for {whom}; retry in {decision.retry_after} s",
            [(b"retry-after", str(decision.retry_after).encode())],
        )

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _key_principal(self, scope: Scope) -> Principal | tuple[int, str, str]:
        authorization = _header(scope, b"authorization") or ""
        scheme, _, secret = authorization.partition(" ")
        principal = (
            await self.resolver.resolve(secret.strip()) if scheme.lower() == "bearer" else None
        )
        if principal is None:
            return (
                401,
                "UNAUTHENTICATED",
                "send an API key as `Authorization: Bearer <key>`"
                if not authorization
                else "the API key is not valid",
            )
        return principal

    async def _with_member(
        self, scope: Scope, principal: Principal
    ) -> Principal | tuple[int, str, str]:
        token = _header(scope, TOKEN_HEADER)
        if token is None:
            return principal
        if principal.kind is not KeyKind.PUBLISHABLE or principal.program_id is None:
            return (401, "UNAUTHENTICATED", "a member token goes with a publishable key")
        try:
            identity = await self.tokens.verify(token.strip(), principal.program_id)
        except MemberTokenError as exc:
            return (401, exc.code, str(exc))
        return replace(
            principal, member_customer_id=identity.customer_id, member_id=identity.member_id
        )


def _allowed_headers(scope: Scope, allowed: frozenset[str]) -> bytes:
    """The headers a preflight asked for that are allowed (all of them when it asked for
    none), in the order asked."""
    requested = [
        name.strip().lower()
        for name in (_header(scope, b"access-control-request-headers") or "").split(",")
        if name.strip()
    ]
    granted = [name for name in requested if name in allowed] or sorted(allowed)
    return ", ".join(dict.fromkeys(granted)).encode()


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"vary", b"Origin"),
        (
            b"access-control-expose-headers",
            b"x-request-id, x-ratelimit-limit, x-ratelimit-remaining, retry-after, etag,"
            b" x-laurel-error, www-authenticate",
        ),
    ]


def _limit_of(principal: Principal) -> RateLimit:
    default = DEFAULT_LIMITS[principal.kind]
    return RateLimit(
        per_second=principal.rate_per_second or default.per_second,
        burst=principal.rate_burst or default.burst,
    )


class ClientAddresses:
    """Who a request comes from, for the shoppers' rate limits: the peer's address, or the
    nearest address in `X-Forwarded-For` that is not one of the trusted proxies when the peer
    is one. IPv6 addresses count by their /64 (one household or phone gets a whole /64)."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.trusted)

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if self.trusted and self._is_trusted(address):
            forwarded = _header(scope, b"x-forwarded-for") or ""
            for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
                address = hop
                if not self._is_trusted(hop):
                    break
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return address
        if parsed.version == 6:
            return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        return str(parsed)


def request_id_of(state: dict[str, Any]) -> str:
    return str(state.get("request_id", "-"))
