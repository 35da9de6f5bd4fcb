"""GraphQL over HTTP, between the gateway (keys, limits, the body parsed once into
`request_json`) and the query plans / Strawberry behind it:

1. the request: one JSON object (a batch array, a body that is no JSON object, `variables` or
   `extensions` that are no objects, or no `query` are 400 with a JSON error and a code; a GET
   request's query string was made into the same object by the gateway);
2. automatic persisted queries: `extensions.persistedQuery.sha256Hash` without a query runs the
   document registered under that hash, or answers PERSISTED_QUERY_NOT_FOUND so the client
   sends the document with its hash, which is checked and registered; a publishable key of a
   program in trusted-documents mode runs only that program's trusted documents, by that hash
   (TRUSTED_DOCUMENT_REQUIRED without one, TRUSTED_DOCUMENT_NOT_FOUND for another);
3. the operation: a document that does not parse is GRAPHQL_PARSE_FAILED; one with several
   operations and no `operationName`, or an `operationName` it does not hold, is
   OPERATION_RESOLUTION_FAILURE; a mutation sent by GET is 405 (GET is for cacheable reads);
4. the answer: `application/graphql-response+json` when the client asks for it (Apollo Client 4
   does), with 400 for a request that failed before execution (no `data`), else
   `application/json` with 200 as before; errors Strawberry raises for invalid documents or
   variables get their codes (GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT); a GET answer carries a
   weak ETag, and 304 when the client already holds it.

What comes out is still Strawberry's request shape, so the query plans and Strawberry read the
request as they always have (a rewritten request is re-encoded for them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLSyntaxError, OperationDefinitionNode, OperationType, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.graphql.encoding import encode_answer
from app.services.documents.service import DocumentStore, sha256_of

logger = logging.getLogger("laurel.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Parsed documents kept per process: a storefront sends a few dozen, again and again.
PARSED_DOCUMENTS = 1024
# What a GET answer varies with besides its URL: who asks, and how they want it.
GET_VARY = b"Accept, Accept-Language, Authorization, X-Member-Token"


@dataclass(frozen=True)
class ProtocolError(Exception):
    status: int
    code: str
    message: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def wants_graphql_response(accept: str) -> bool:
    """Whether the client prefers `application/graphql-response+json` (by order, then q)."""
    best: tuple[float, int] | None = None
    chosen = ""
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if media not in (GRAPHQL_RESPONSE, JSON, "application/*", "*/*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        rank = (quality, -position)
        if quality > 0 and (best is None or rank > best):
            best, chosen = rank, media
    return chosen == GRAPHQL_RESPONSE


@functools.lru_cache(maxsize=PARSED_DOCUMENTS)
def _parsed(document: str) -> DocumentNode | GraphQLSyntaxError:
    try:
        return parse(document)
    except GraphQLSyntaxError as error:
        return error


def operation_of(document: str, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs (ProtocolError when it cannot be told); None when the
    document does not parse, which Strawberry reports with its locations."""
    parsed = _parsed(document)
    if isinstance(parsed, GraphQLSyntaxError):
        return None
    operations = [
        definition
        for definition in parsed.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    if operation_name is None:
        if len(operations) == 1:
            return operations[0]
        raise ProtocolError(
            400,
            "OPERATION_RESOLUTION_FAILURE",
            f"the document has {len(operations)} operations: name one with operationName",
        )
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    raise ProtocolError(
        400, "OPERATION_RESOLUTION_FAILURE", f"the document has no operation {operation_name!r}"
    )


class PersistedQueries:
    """Automatic persisted queries (Apollo's protocol, version 1)."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def resolve(
        self, request: dict[str, Any], trusted_documents_of: int | None = None
    ) -> dict[str, Any]:
        """The request with its query filled in from the hash, or registered under it. With
        `trusted_documents_of` (a publishable key of a program in trusted-documents mode) only
        that program's trusted documents run, and nothing is registered."""
        extensions = request.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            if trusted_documents_of is not None:
                raise ProtocolError(
                    400,
                    "TRUSTED_DOCUMENT_REQUIRED",
                    "this program's publishable keys send only trusted documents, by id in"
                    " extensions.persistedQuery.sha256Hash",
                )
            return request
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise ProtocolError(
                400, "PERSISTED_QUERY_NOT_SUPPORTED", "persistedQuery must be version 1"
            )
        sha256 = persisted.get("sha256Hash")
        if not isinstance(sha256, str) or len(sha256) != 64:
            raise ProtocolError(
                400, "PERSISTED_QUERY_HASH_MISMATCH", "sha256Hash must be 64 hex digits"
            )
        sha256 = sha256.lower()
        query = request.get("query")
        if trusted_documents_of is not None:
            trusted = await self.store.find_trusted(trusted_documents_of, sha256)
            if trusted is None or (query is not None and query != trusted):
                # Not PERSISTED_QUERY_NOT_FOUND: the client must not answer with the text.
                raise ProtocolError(
                    400,
                    "TRUSTED_DOCUMENT_NOT_FOUND",
                    f"{sha256} is not one of the program's trusted documents",
                )
            return {**request, "query": trusted}
        if query is None:
            document = await self.store.find(sha256)
            if document is None:
                # Apollo's link reads this code (or the message) and sends the document.
                raise ProtocolError(200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
            return {**request, "query": document}
        if not isinstance(query, str):
            return request  # NO_QUERY is told below
        try:
            matches = sha256_of(query) == sha256
        except UnicodeEncodeError:
            matches = False
        if not matches:
            raise ProtocolError(
                400,
                "PERSISTED_QUERY_HASH_MISMATCH",
                "sha256Hash is not the SHA-256 of the query's UTF-8 text",
            )
        # Only a document that parses is kept (what does not parse is refused below anyway).
        if not isinstance(_parsed(query), GraphQLSyntaxError):
            await self.store.register(sha256, query)
        return request


def _checked(request: object) -> dict[str, Any]:
    if request is None:
        raise ProtocolError(400, "BODY_NOT_JSON", "the body is not JSON")
    if isinstance(request, list):
        raise ProtocolError(400, "BATCH_NOT_SUPPORTED", "send one GraphQL request per HTTP request")
    if not isinstance(request, dict):
        raise ProtocolError(400, "BODY_NOT_AN_OBJECT", "the body must be a JSON object")
    return request


def _shape_checked(request: dict[str, Any]) -> tuple[str, str | None]:
    query = request.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ProtocolError(400, "NO_QUERY", "the request has no GraphQL query")
    if not isinstance(request.get("variables"), dict | None):
        raise ProtocolError(400, "VARIABLES_NOT_AN_OBJECT", "variables must be a JSON object")
    if not isinstance(request.get("extensions"), dict | None):
        raise ProtocolError(400, "EXTENSIONS_NOT_AN_OBJECT", "extensions must be a JSON object")
    operation_name = request.get("operationName")
    if not isinstance(operation_name, str | None):
        raise ProtocolError(400, "OPERATION_NAME_NOT_A_STRING", "operationName must be a string")
    return query, operation_name


def error_body(code: str, message: str, request_id: str) -> bytes:
    return encode_answer(
        {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    )


def _error_code_of(message: str) -> str:
    if message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def _with_request_error_codes(body: bytes, media: str) -> tuple[bytes, bool]:
    """Strawberry's answer with codes on the errors of a request that never executed, and
    whether it was one. As graphql-response+json such an answer has no `data`; as
    application/json it keeps Strawberry's `"data": null`, which clients of it expect."""
    if not body.startswith((b'{"data":null', b'{"errors"')):
        return body, False
    answer = json.loads(body)
    if not isinstance(answer, dict) or answer.get("data") is not None:
        return body, False
    errors = answer.get("errors")
    if not isinstance(errors, list) or not errors:
        return body, False
    executed = any(error.get("path") for error in errors if isinstance(error, dict))
    if executed:
        return body, False
    for error in errors:
        if isinstance(error, dict):
            extensions = error.setdefault("extensions", {})
            if isinstance(extensions, dict):
                extensions.setdefault("code", _error_code_of(str(error.get("message", ""))))
    if media == GRAPHQL_RESPONSE:
        answer.pop("data", None)
    return encode_answer(answer), True


def _weak_etag(body: bytes) -> bytes:
    return b'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def _etag_matches(if_none_match: str, etag: bytes) -> bool:
    wanted = etag.decode()
    return any(tag.strip() in (wanted, wanted[2:], "*") for tag in if_none_match.split(",") if tag)


class GraphQLOverHttp:
    def __init__(self, app: ASGIApp, persisted: PersistedQueries) -> None:
        self.app = app
        self.persisted = persisted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        method = scope["method"]
        graphql_response = wants_graphql_response(_header(scope, b"accept"))
        media = GRAPHQL_RESPONSE if graphql_response else JSON
        try:
            request = _checked(state.get("request_json"))
            resolved = await self.persisted.resolve(request, state.get("trusted_documents_of"))
            query, operation_name = _shape_checked(resolved)
            operation = operation_of(query, operation_name)
            if (
                method == "GET"
                and operation is not None
                and operation.operation is not OperationType.QUERY
            ):
                raise ProtocolError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"a {operation.operation.value} is sent by POST; GET is for queries",
                    ((b"allow", b"POST"),),
                )
        except ProtocolError as refusal:
            await _send_error(send, refusal, media, str(state.get("request_id", "-")))
            return

        if resolved is not request or method == "GET":
            state["request_json"] = resolved
            body = encode_answer(resolved)
            scope = {
                **scope,
                "method": "POST",
                "headers": [
                    *(item for item in scope["headers"] if item[0] != b"content-type"),
                    (b"content-type", JSON.encode()),
                ],
            }
            replayed = False

            async def receive_resolved() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = receive_resolved

        await self.app(scope, receive, _Answer(send, media, method == "GET", scope).send)


class _Answer:
    """The answer on its way out: its media type, request error codes and status, ETags."""

    def __init__(self, send: Send, media: str, cacheable: bool, scope: Scope) -> None:
        self._send = send
        self._media = media
        self._cacheable = cacheable
        self._if_none_match = _header(scope, b"if-none-match")
        self._start: Message | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            self._chunks: list[bytes] = []
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        start, self._start = self._start, None
        body = b"".join(self._chunks)
        status = int(start["status"])
        original_type = dict(start.get("headers", [])).get(b"content-type", b"")
        if not original_type.startswith(JSON.encode()):
            await self._send(start)
            await self._send({"type": "http.response.body", "body": body})
            return
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name not in (b"content-type", b"content-length")
        ]
        if status == 200:
            body, request_error = _with_request_error_codes(body, self._media)
            if request_error and self._media == GRAPHQL_RESPONSE:
                status = 400
        if self._cacheable and status == 200:
            etag = _weak_etag(body)
            headers += [
                (b"etag", etag),
                (b"cache-control", b"private, no-cache"),
                (b"vary", GET_VARY),
            ]
            if self._if_none_match and _etag_matches(self._if_none_match, etag):
                status, body = 304, b""
        if status != 304:
            headers += [
                (b"content-type", self._media.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
        await self._send({**start, "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, refusal: ProtocolError, media: str, request_id: str) -> None:
    body = error_body(refusal.code, refusal.message, request_id)
    headers: Iterable[tuple[bytes, bytes]] = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        *refusal.headers,
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
