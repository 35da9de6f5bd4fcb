"""Bulk operation queries (admin): an operation's progress and row errors."""

from __future__ import annotations

import strawberry

from app.graphql.bulk.types import BulkOperation
from app.graphql.core.context import Info
from app.graphql.core.query_checks import admin_in_query, decoded_in_query
from app.services.bulk import service as bulk_service


@strawberry.field(
    description="Admin only: a bulk operation, with its progress; null when not found."
)
async def bulk_operation(info: Info, id: strawberry.ID) -> BulkOperation | None:
    principal = admin_in_query(info)
    record = await bulk_service.get_bulk_operation(
        decoded_in_query(id, "BulkOperation"), principal.program_scope
    )
    return None if record is None else BulkOperation.from_record(record)
