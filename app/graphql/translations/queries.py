"""Reading translations (admin)."""

from __future__ import annotations

import strawberry

from app.domain.locales import TYPE_NAME_OF
from app.graphql.core.context import Info
from app.graphql.core.errors import as_query_errors
from app.graphql.core.ids import decode_id
from app.graphql.core.query_checks import admin_in_query
from app.graphql.translations.types import (
    TranslatableKindEnum,
    Translation,
    translation_of,
)
from app.services.translations import service


@strawberry.field(description="Admin only: every translation of one thing, by field and locale.")
async def translations(
    info: Info,
    kind: TranslatableKindEnum,  # type: ignore[valid-type]
    id: strawberry.ID,
) -> list[Translation]:
    principal = admin_in_query(info)
    with as_query_errors():
        entity_id = decode_id(id, TYPE_NAME_OF[kind], ["id"])
    records = await service.translations_of(kind, entity_id, principal.program_scope)
    return [translation_of(record) for record in records]
