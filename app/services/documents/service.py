"""Automatic persisted queries: a client sends a document's SHA-256 alone, and sends the
document with its hash the first time (when Laurel answers PERSISTED_QUERY_NOT_FOUND). A hash
names its text forever, so what was found once is kept in the process."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from app.db import utc_now
from app.services.documents import repository

# Documents kept in each process, newest use last.
CACHED_DOCUMENTS = 2048


class DocumentStore:
    def __init__(self, cached: int = CACHED_DOCUMENTS) -> None:
        self._cached = cached
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def find(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is None:
            document = await repository.document_of(sha256)
            if document is None:
                return None
            self._keep(sha256, document)
        else:
            self._documents.move_to_end(sha256)
        return document

    async def register(self, sha256: str, document: str) -> None:
        """Stores `document` under `sha256`, which the caller has checked (`sha256_of`)."""
        if sha256 in self._documents:
            return
        await repository.insert_document(sha256, document, utc_now())
        self._keep(sha256, document)

    def _keep(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        while len(self._documents) > self._cached:
            self._documents.popitem(last=False)


def sha256_of(document: str) -> str:
    """The hex SHA-256 of the UTF-8 text (UnicodeEncodeError for text UTF-8 cannot hold)."""
    return hashlib.sha256(document.encode()).hexdigest()
