"""Query documents kept by their SHA-256.

Automatic persisted queries: a client sends a document's SHA-256 alone, and sends the document
with its hash the first time (when Laurel answers PERSISTED_QUERY_NOT_FOUND). A hash names its
text forever, so what was found once is kept in the process.

Trusted documents: a store registers the documents its storefront and apps were built with (a
persisted-query manifest, by `registerTrustedDocuments` or `laurel documents register`); with the
program's `trustedDocumentsOnly` on, its publishable keys may run only those, so a leaked key
cannot be used to explore the schema or send expensive queries of its own.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSyntaxError, parse

from app.db import in_transaction, utc_now
from app.domain.errors import DomainError, ErrorCode
from app.domain.validation import NAME_MAX, Checker, has_control_characters
from app.services.core.events import append_event
from app.services.core.idempotency import checked_key, keyed_write, once_if_keyed
from app.services.documents import repository
from app.services.programs.service import require_program

# Documents kept in each process, newest use last.
CACHED_DOCUMENTS = 2048
# A manifest of a large storefront holds a few hundred operations.
MAX_DOCUMENTS_PER_REGISTRATION = 5000
MAX_DOCUMENT_CHARS = 100_000


class DocumentStore:
    def __init__(self, cached: int = CACHED_DOCUMENTS) -> None:
        self._cached = cached
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._trusted: OrderedDict[tuple[int, str], str] = OrderedDict()

    async def find(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is None:
            document = await repository.document_of(sha256)
            if document is None:
                return None
            _keep(self._documents, sha256, document, self._cached)
        else:
            self._documents.move_to_end(sha256)
        return document

    async def register(self, sha256: str, document: str) -> None:
        """Stores `document` under `sha256`, which the caller has checked (`sha256_of`)."""
        if sha256 in self._documents:
            return
        await repository.insert_document(sha256, document, utc_now())
        _keep(self._documents, sha256, document, self._cached)

    async def find_trusted(self, program_id: int, sha256: str) -> str | None:
        """The program's trusted document with this id. Only found ones are kept: a document
        registered a moment ago is found at once by every process."""
        key = (program_id, sha256)
        document = self._trusted.get(key)
        if document is None:
            document = await repository.trusted_document_of(program_id, sha256)
            if document is None:
                return None
            _keep(self._trusted, key, document, self._cached)
        else:
            self._trusted.move_to_end(key)
        return document


def _keep(kept: OrderedDict[Any, str], key: Any, document: str, most: int) -> None:
    kept[key] = document
    kept.move_to_end(key)
    while len(kept) > most:
        kept.popitem(last=False)


def sha256_of(document: str) -> str:
    """The hex SHA-256 of the UTF-8 text (UnicodeEncodeError for text UTF-8 cannot hold)."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class ManifestDocument:
    """One operation of a persisted-query manifest: its id is the SHA-256 of `body`."""

    id: str
    body: str
    name: str | None = None


@dataclass(frozen=True)
class RegisterTrustedDocumentsInput:
    program_slug: str
    documents: tuple[ManifestDocument, ...]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class RegisteredDocuments:
    added: int
    already_registered: int
    # The program's trusted documents after the registration.
    total: int


def _checked_documents(documents: tuple[ManifestDocument, ...]) -> list[ManifestDocument]:
    """The documents as stored (ids in lowercase, names trimmed), every problem told at once.
    A body is kept exactly as sent: its id is the hash of those very characters."""
    check = Checker()
    check.batch(
        ["input", "documents"],
        documents,
        MAX_DOCUMENTS_PER_REGISTRATION,
        f"register at most {MAX_DOCUMENTS_PER_REGISTRATION} documents at a time",
    )
    checked = []
    for index, document in enumerate(documents):
        field = ["input", "documents", str(index)]
        name = check.text([*field, "name"], document.name, NAME_MAX, required=False)
        body = document.body
        if has_control_characters(body):
            check.add(
                ErrorCode.INVALID_VALUE,
                "body contains control characters or invalid unicode",
                [*field, "body"],
            )
            continue
        if len(body) > MAX_DOCUMENT_CHARS:
            check.add(
                ErrorCode.TOO_LONG,
                f"body is longer than {MAX_DOCUMENT_CHARS} characters",
                [*field, "body"],
            )
            continue
        try:
            parse(body)
        except GraphQLSyntaxError as error:
            check.add(
                ErrorCode.INVALID_VALUE,
                f"body is no GraphQL document: {error.message}",
                [*field, "body"],
            )
            continue
        sha256 = document.id.strip().lower()
        if sha256 != sha256_of(body):
            check.add(
                ErrorCode.DOCUMENT_ID_MISMATCH,
                f"id {document.id[:80]!r} is not the SHA-256 of the body's UTF-8 text",
                [*field, "id"],
            )
            continue
        checked.append(ManifestDocument(id=sha256, body=body, name=name))
    check.raise_if_any()
    return checked


async def register_trusted_documents(data: RegisterTrustedDocumentsInput) -> RegisteredDocuments:
    """Adds the documents to the program's trusted ones; those it holds already stay as they
    are, so a build's whole manifest can be registered at every deploy."""
    key = checked_key(data.idempotency_key)
    distinct = list(
        {document.id: document for document in _checked_documents(data.documents)}.values()
    )
    program = await require_program(data.program_slug, None)
    now = utc_now()
    async with in_transaction() as conn:

        async def perform() -> RegisteredDocuments:
            added = 0
            for document in distinct:
                added += await repository.insert_trusted_document(
                    conn, program.id, document.id, document.name, document.body, now
                )
            total = await repository.count_trusted_documents(program.id, conn)
            if added:
                await append_event(
                    conn,
                    program_id=program.id,
                    member_id=None,
                    event_type="trusted_documents.registered",
                    payload={"slug": program.slug, "added": added, "total": total},
                    now=now,
                )
            return RegisteredDocuments(
                added=added, already_registered=len(distinct) - added, total=total
            )

        async def replay(stored: dict[str, Any]) -> RegisteredDocuments:
            return RegisteredDocuments(
                added=int(stored["added"]),
                already_registered=int(stored["alreadyRegistered"]),
                total=int(stored["total"]),
            )

        return await once_if_keyed(
            conn,
            **keyed_write(program.id, key, "registerTrustedDocuments", data, now),
            perform=perform,
            remember=lambda made: {
                "added": made.added,
                "alreadyRegistered": made.already_registered,
                "total": made.total,
            },
            replay=replay,
        )


async def trusted_document_count(program_id: int) -> int:
    return await repository.count_trusted_documents(program_id)


APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def manifest_documents(manifest: object) -> tuple[ManifestDocument, ...]:
    """The documents of a persisted-query manifest: Apollo's (`{"format":
    "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "body"}]}`)
    or an id-to-text map (Relay's `persisted_queries.json`, GraphQL Codegen's)."""
    if isinstance(manifest, dict) and manifest.get("format") == APOLLO_MANIFEST_FORMAT:
        operations = manifest.get("operations")
        if manifest.get("version") != 1 or not isinstance(operations, list):
            raise DomainError(
                ErrorCode.INVALID_VALUE,
                "an Apollo manifest of version 1 with a list of operations is expected",
                ["manifest"],
            )
        documents = []
        for index, operation in enumerate(operations):
            if not (
                isinstance(operation, dict)
                and isinstance(operation.get("id"), str)
                and isinstance(operation.get("body"), str)
                and isinstance(operation.get("name"), str | None)
            ):
                raise DomainError(
                    ErrorCode.INVALID_VALUE,
                    f"operation {index} needs a string id and body",
                    ["manifest", "operations", str(index)],
                )
            documents.append(
                ManifestDocument(
                    id=operation["id"], body=operation["body"], name=operation.get("name")
                )
            )
        return tuple(documents)
    if isinstance(manifest, dict) and all(
        isinstance(key, str) and isinstance(value, str) for key, value in manifest.items()
    ):
        return tuple(ManifestDocument(id=key, body=value) for key, value in manifest.items())
    raise DomainError(
        ErrorCode.INVALID_VALUE,
        "not a persisted-query manifest: expected Apollo's format or a map of id to document",
        ["manifest"],
    )
