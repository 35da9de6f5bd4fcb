"""The audit log as the API shows it: the writes made with admin keys (services/audit/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.graphql.core.connection import Connection, Edges, keyset_page
from app.graphql.core.context import Info
from app.graphql.core.query_checks import admin_in_query
from app.graphql.core.records import from_record
from app.services.audit import service as audit_service
from app.services.audit.service import AuditRecord


@strawberry.type(description="One write made with an admin key, or by a command on the server.")
class AuditEntry:
    id: strawberry.ID
    api_key_id: int = strawberry.field(
        description="The key that made it (laurel list-api-keys); 0 when actor is COMMAND_LINE."
    )
    actor: str = strawberry.field(
        description="API_KEY (apiKeyId names the key) or COMMAND_LINE (a laurel command run on"
        " the server, such as laurel bulk, which has no key)."
    )
    operation: str = strawberry.field(description="The mutation.")
    target_type: str | None
    target_id: str | None = strawberry.field(description="Its global id, or the program slug.")
    input: JSON = strawberry.field(description="The arguments, secrets redacted.")
    before: JSON | None
    after: JSON | None
    succeeded: bool = strawberry.field(description="False when it ended in userErrors or errors.")
    request_id: str
    created_at: datetime

    @classmethod
    def from_record(cls, record: AuditRecord) -> AuditEntry:
        return from_record(cls, record, id=strawberry.ID(str(record.id)), actor=record.actor)


@strawberry.field(description="Admin only: writes made with admin keys, newest first.")
async def audit_log(
    info: Info,
    first: int = 50,
    after: str | None = None,
    target_id: Annotated[
        str | None,
        strawberry.argument(description="Only writes to this object (global id or program slug)."),
    ] = None,
    operation: Annotated[
        str | None, strawberry.argument(description="Only this mutation, e.g. adjustPoints.")
    ] = None,
    api_key_id: Annotated[
        int | None, strawberry.argument(description="Only the writes of this key.")
    ] = None,
) -> Connection[AuditEntry] | None:
    admin_in_query(info)
    return await keyset_page(
        lambda position, limit: audit_service.list_audit_log(
            before_id=position,
            limit=limit,
            target_id=target_id,
            operation=operation,
            api_key_id=api_key_id,
        ),
        first=first,
        after=after,
        edges=Edges("AuditEntry", AuditEntry.from_record),
    )
