"""Import queries (admin): an import job's progress and report."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.jobs import find_job
from app.graphql.imports.types import ImportJob
from app.services.imports import jobs as jobs_service


@strawberry.field(description="Admin only: an import job, with its progress; null when not found.")
async def import_job(info: Info, id: strawberry.ID) -> ImportJob | None:
    return await find_job(info, id, ImportJob, jobs_service.get_import_job)
