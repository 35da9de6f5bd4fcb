"""Locales: which language a reader gets, and the order in which translations are tried.

A locale is a BCP 47 language tag as browsers send it, limited to what a shop's languages
need: a language (2-3 letters), optionally a script (4 letters) and a region (2 letters or 3
digits): `sv`, `sv-SE`, `sr-Latn-RS`, `es-419`. It is kept in canonical case (`sv-SE`,
`sr-Latn-RS`); `sv_SE` is read as `sv-SE`.

Fallbacks: `sv-SE` -> `sv` -> the program's default locale (-> its language) -> the text as
configured (which is in the program's default locale).
"""

from __future__ import annotations

import re
from enum import StrEnum

from app.domain.errors import DomainError, ErrorCode

LOCALE_MAX = 35
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")
# Accept-Language may list many; only the first few are tried.
ACCEPT_LANGUAGE_MAX = 8
DEFAULT_LOCALE = "en"


class TranslatableKind(StrEnum):
    """The configured things whose texts can be translated, as GraphQL names them."""

    PROGRAM = "PROGRAM"
    REWARD = "REWARD"
    TIER = "TIER"
    EARNING_RULE = "EARNING_RULE"
    ACTION_RULE = "ACTION_RULE"
    CHALLENGE = "CHALLENGE"
    BADGE = "BADGE"


class TranslatableField(StrEnum):
    NAME = "NAME"
    DESCRIPTION = "DESCRIPTION"
    # A tier's perks: one perk a line, in the order configured.
    PERKS = "PERKS"


# The GraphQL type of each kind (its global ids).
TYPE_NAME_OF: dict[TranslatableKind, str] = {
    TranslatableKind.PROGRAM: "Program",
    TranslatableKind.REWARD: "Reward",
    TranslatableKind.TIER: "Tier",
    TranslatableKind.EARNING_RULE: "EarningRule",
    TranslatableKind.ACTION_RULE: "ActionRule",
    TranslatableKind.CHALLENGE: "Challenge",
    TranslatableKind.BADGE: "Badge",
}

# Which fields each kind has.
FIELDS_OF: dict[TranslatableKind, frozenset[TranslatableField]] = {
    TranslatableKind.PROGRAM: frozenset({TranslatableField.NAME, TranslatableField.DESCRIPTION}),
    TranslatableKind.REWARD: frozenset({TranslatableField.NAME, TranslatableField.DESCRIPTION}),
    TranslatableKind.TIER: frozenset({TranslatableField.NAME, TranslatableField.PERKS}),
    TranslatableKind.EARNING_RULE: frozenset({TranslatableField.NAME}),
    TranslatableKind.ACTION_RULE: frozenset({TranslatableField.NAME}),
    TranslatableKind.CHALLENGE: frozenset({TranslatableField.NAME, TranslatableField.DESCRIPTION}),
    TranslatableKind.BADGE: frozenset({TranslatableField.NAME, TranslatableField.DESCRIPTION}),
}


def canonical_locale(tag: str) -> str | None:
    """`tag` in canonical case, or None when it is no locale."""
    match = _TAG.match(tag.strip())
    if match is None:
        return None
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def checked_locale(tag: str, field: list[str] | None = None) -> str:
    """`tag` in canonical case; INVALID_LOCALE when it is none."""
    locale = canonical_locale(tag) if len(tag) <= LOCALE_MAX else None
    if locale is None:
        shown = tag[:40]
        raise DomainError(
            ErrorCode.INVALID_LOCALE,
            f"{shown!r} is no locale: use a language tag such as sv, sv-SE or ru-RU",
            field,
        )
    return locale


def language_of(locale: str) -> str:
    return locale.split("-", 1)[0]


def accepted_locales(header: str | None) -> tuple[str, ...]:
    """The locales of an Accept-Language header, most wanted first. The header comes from any
    browser: what is malformed in it is skipped, never an error; `*` means no preference."""
    if not header:
        return ()
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[: ACCEPT_LANGUAGE_MAX * 2]):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        locale = canonical_locale(tag) if len(tag) <= LOCALE_MAX else None
        if locale is not None and weight > 0:
            weighted.append((-weight, index, locale))
    weighted.sort()
    return tuple(locale for _, _, locale in weighted[:ACCEPT_LANGUAGE_MAX])


def fallback_chain(wanted: tuple[str, ...], default_locale: str) -> tuple[str, ...]:
    """The locales to try, in order, for readers who want `wanted` (most wanted first) of a
    program whose texts are in `default_locale`: each locale then its language, then the
    default. No locale twice."""
    chain: list[str] = []
    for locale in (*wanted, default_locale):
        for candidate in (locale, language_of(locale)):
            if candidate not in chain:
                chain.append(candidate)
    return tuple(chain)


def pick(
    translations: dict[str, str], wanted: tuple[str, ...], default_locale: str, configured: str
) -> str:
    """The text for readers who want `wanted`: the first translation along the fallback chain,
    else the text as configured. A translation of the default locale itself overrides it."""
    for locale in fallback_chain(wanted, default_locale):
        text = translations.get(locale)
        if text is not None:
            return text
    return configured
