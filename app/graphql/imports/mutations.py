"""Import mutations (admin): upload a file to import in the background."""

from __future__ import annotations

import strawberry

from app.graphql.core.context import Info
from app.graphql.core.errors import UserError
from app.graphql.core.jobs import admin_job
from app.graphql.core.mutations import mutation
from app.graphql.imports.types import ImportFileFormatEnum, ImportJob, ImportKindEnum
from app.services.imports import jobs as jobs_service


@strawberry.input
class ImportFileInput:
    program_slug: str
    kind: ImportKindEnum  # type: ignore[valid-type]
    format: ImportFileFormatEnum  # type: ignore[valid-type]
    content: str = strawberry.field(
        description="The file's text (CSV with a header row, or JSON Lines), within the"
        " request size limit; larger files go through `laurel import`."
    )
    dry_run: bool = strawberry.field(
        default=False, description="Check and count every record; write nothing."
    )


@strawberry.type
class ImportFilePayload:
    import_job: ImportJob | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(
    description="Admin only: import members, orders (replayed as of their time) or opening"
    " balances from a file, as a job: follow it with `importJob` (or `node`). Safe to send"
    " again: what is there already is skipped."
)
async def import_file(info: Info, input: ImportFileInput) -> ImportFilePayload:
    queued = jobs_service.QueueImportInput(
        program_slug=input.program_slug,
        kind=input.kind,
        file_format=input.format,
        content=input.content,
        dry_run=input.dry_run,
    )
    job = await admin_job(
        info,
        ImportJob,
        lambda principal: jobs_service.queue_import(queued, principal.program_scope),
    )
    return ImportFilePayload(import_job=job)
