"""Setting translations (admin)."""

from __future__ import annotations

import strawberry

from app.domain.locales import TYPE_NAME_OF
from app.graphql.core.context import Info, admin
from app.graphql.core.errors import UserError
from app.graphql.core.ids import decode_id
from app.graphql.core.mutations import mutation, optional_idempotency_key
from app.graphql.translations.types import (
    TranslatableFieldEnum,
    TranslatableKindEnum,
    Translation,
    translation_of,
)
from app.services.translations import service


@strawberry.input(description="One field of one configured thing in one locale.")
class TranslationInput:
    kind: TranslatableKindEnum  # type: ignore[valid-type]
    id: strawberry.ID = strawberry.field(description="The global id of the thing, of `kind`.")
    field: TranslatableFieldEnum  # type: ignore[valid-type]
    locale: str = strawberry.field(description="A language tag: sv, sv-SE, ro, ru-RU.")
    text: str | None = strawberry.field(
        description="The text; PERKS: one perk a line. null removes the translation (the"
        " fallback applies again)."
    )


@strawberry.input
class SetTranslationsInput:
    program_slug: str
    translations: list[TranslationInput] = strawberry.field(
        description="At most 500, written together or not at all."
    )
    idempotency_key: str | None = optional_idempotency_key()


@strawberry.type
class SetTranslationsPayload:
    translations: list[Translation] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@mutation(
    description="Admin only: translate names, descriptions and perks of a program's rewards,"
    " tiers, rules, challenges and badges (and the program itself) into other locales."
)
async def set_translations(info: Info, input: SetTranslationsInput) -> SetTranslationsPayload:
    admin(info)
    changes = tuple(
        service.TranslationChange(
            kind=item.kind,
            entity_id=decode_id(
                item.id, TYPE_NAME_OF[item.kind], ["input", "translations", str(index), "id"]
            ),
            field=item.field,
            locale=item.locale,
            text=item.text,
        )
        for index, item in enumerate(input.translations)
    )
    records = await service.set_translations(
        service.SetTranslationsInput(
            program_slug=input.program_slug,
            translations=changes,
            idempotency_key=input.idempotency_key,
        )
    )
    return SetTranslationsPayload(translations=[translation_of(record) for record in records])
