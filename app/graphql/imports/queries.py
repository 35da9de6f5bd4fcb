"""Import queries (admin): an import job's progress and report."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.query_checks import admin_in_query, decoded_in_query
from app.graphql.imports.types import ImportJob
from app.services.imports import jobs as jobs_service


@strawberry.field(description="Admin only: an import job, with its progress; null when not found.")
async def import_job(info: Info, id: strawberry.ID) -> ImportJob | None:
    principal = admin_in_query(info)
    record = await jobs_service.get_import_job(
        decoded_in_query(id, "ImportJob"), principal.program_scope
    )
    return None if record is None else ImportJob.from_record(record)
