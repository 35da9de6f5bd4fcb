"""Bulk operation queries (admin): an operation's progress and row errors."""

from __future__ import annotations

import strawberry

from app.graphql.bulk.types import BulkOperation
from app.graphql.core.context import Info
from app.graphql.core.jobs import find_job
from app.services.bulk import service as bulk_service


@strawberry.field(
    description="Admin only: a bulk operation, with its progress; null when not found."
)
async def bulk_operation(info: Info, id: strawberry.ID) -> BulkOperation | None:
    return await find_job(info, id, BulkOperation, bulk_service.get_bulk_operation)
