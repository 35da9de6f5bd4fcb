"""Translated texts: the `locale` argument of every translatable field, and how it is read.

A field such as `Reward.name(locale: "sv-SE")` answers the reward's name in the first locale of
the fallback chain that has one (`sv-SE`, `sv`, the program's default locale), else the name as
configured (app/domain/locales.py). Without `locale`, the request's `Accept-Language` is used.
The translations of a whole page come in one statement (the `texts` loader).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import strawberry

from app.domain.errors import DomainError
from app.domain.ids import encode_id
from app.domain.locales import (
    TYPE_NAME_OF,
    TranslatableField,
    TranslatableKind,
    checked_locale,
    pick,
)
from app.graphql.core.context import Info
from app.graphql.core.errors import query_error
from app.services.messages.catalogue import Messages, messages_for
from app.services.translations.service import TranslationRecord

TranslatableKindEnum = strawberry.enum(
    TranslatableKind,
    name="TranslatableKind",
    description="The configured things whose texts can be translated.",
)
TranslatableFieldEnum = strawberry.enum(
    TranslatableField,
    name="TranslatableField",
    description="NAME and DESCRIPTION; PERKS (tiers): one perk a line, in the order configured.",
)

LOCALE_ARGUMENT = (
    "A language tag (sv, sv-SE, ro, ru-RU): the text in it, else in its language, else in the"
    " program's default locale. Without it, the request's Accept-Language is used."
)


def messages_of(info: Info, locale: str | None) -> Messages:
    """Laurel's own texts (app/services/messages/) for the locale the reader wants."""
    return messages_for(wanted_locales(info, locale))


def wanted_locales(info: Info, locale: str | None) -> tuple[str, ...]:
    """The locales the reader wants, most wanted first: `locale` when given (INVALID_LOCALE when
    it is none), else the request's Accept-Language."""
    if locale is None:
        return info.context.accept_language
    try:
        return (checked_locale(locale, ["locale"]),)
    except DomainError as exc:
        raise query_error(exc) from exc


async def localized(
    info: Info,
    kind: TranslatableKind,
    entity_id: int,
    program_id: int,
    field: TranslatableField,
    configured: str,
    locale: str | None,
) -> str:
    """One text of a configured thing as the reader wants it."""
    wanted = wanted_locales(info, locale)
    texts = await info.context.loaders.texts.load((kind, entity_id, program_id))
    return pick(texts.of(field), wanted, texts.default_locale, configured)


async def localized_lines(
    info: Info,
    kind: TranslatableKind,
    entity_id: int,
    program_id: int,
    field: TranslatableField,
    configured: list[str],
    locale: str | None,
) -> list[str]:
    """A list of texts (a tier's perks), translated as one, one item a line."""
    text = await localized(info, kind, entity_id, program_id, field, "\n".join(configured), locale)
    return [line for line in text.split("\n") if line]


@strawberry.type(description="One field of one configured thing in one locale.")
class Translation:
    kind: TranslatableKindEnum  # type: ignore[valid-type]
    entity_id: strawberry.ID = strawberry.field(description="The global id of the thing.")
    field: TranslatableFieldEnum  # type: ignore[valid-type]
    locale: str
    text: str | None = strawberry.field(description="null: the translation was removed.")


Locale = Annotated[str | None, strawberry.argument(description=LOCALE_ARGUMENT)]


@strawberry.type
class TranslatedName:
    """The `name(locale)` of a configured thing: a type mixes it in and sets `translatable`."""

    pk: strawberry.Private[int]
    program_pk: strawberry.Private[int]
    name_value: strawberry.Private[str]
    translatable: ClassVar[TranslatableKind]

    @strawberry.field(description="In the locale asked for (see `locale`).")
    async def name(self, info: Info, locale: Locale = None) -> str:
        return await self.translated_name(info, locale)

    async def translated_name(self, info: Info, locale: str | None) -> str:
        """The name as the field answers it, for other fields that say it."""
        return await localized(
            info,
            self.translatable,
            self.pk,
            self.program_pk,
            TranslatableField.NAME,
            self.name_value,
            locale,
        )


@strawberry.type
class TranslatedNameAndDescription(TranslatedName):
    description_value: strawberry.Private[str]

    @strawberry.field(description="In the locale asked for (see `locale`).")
    async def description(self, info: Info, locale: Locale = None) -> str:
        return await localized(
            info,
            self.translatable,
            self.pk,
            self.program_pk,
            TranslatableField.DESCRIPTION,
            self.description_value,
            locale,
        )


def translation_of(record: TranslationRecord) -> Translation:
    return Translation(
        kind=record.kind,
        entity_id=strawberry.ID(encode_id(TYPE_NAME_OF[record.kind], record.entity_id)),
        field=record.field,
        locale=record.locale,
        text=record.text,
    )
