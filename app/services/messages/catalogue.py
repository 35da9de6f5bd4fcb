"""The text Laurel itself writes for members (activity summaries, tier requirements, the
messages of user errors), from gettext message catalogues, with numbers, money and dates
formatted for the reader's locale (Babel).

The catalogues are `locales/<language>/LC_MESSAGES/laurel.po` beside this file: English,
Swedish, Romanian and Russian. They are read and compiled in memory once per process (no
build step, nothing to compile at install); `tests/services/test_message_catalogues.py` fails
when a message the code uses is missing or untranslated in any of them, or when a catalogue's
plural rule is not the one CLDR gives its language.

Messages are written `messages.gettext("... {name} ...", name=...)` and
`messages.ngettext("{count} point", "{count} points", n)`, so that `pybabel extract` and the
test find them; parameters are filled in with `str.format` after translation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.support import Translations

from app.domain.locales import DEFAULT_LOCALE, language_of

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "laurel"
# The languages Laurel ships catalogues for; English is the source language.
SHIPPED_LANGUAGES = ("en", "sv", "ro", "ru")


@cache
def catalogue_translations(language: str) -> Translations:
    """The compiled catalogue of a shipped language (read once per process)."""
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(language_of(locale))


@dataclass(frozen=True)
class Messages:
    """Laurel's texts in one locale: `locale` formats numbers and dates (sv-FI, ru-RU...), its
    language chooses the catalogue."""

    locale: str

    @property
    def language(self) -> str:
        return language_of(self.locale)

    def gettext(self, message: str, /, **params: object) -> str:
        return catalogue_translations(self.language).gettext(message).format(**params)

    def ngettext(self, singular: str, plural: str, count: int, /, **params: object) -> str:
        """The plural form of the language for `count`; `{count}` is the number, formatted."""
        text = catalogue_translations(self.language).ngettext(singular, plural, count)
        return text.format(count=self.number(count), **params)

    def number(self, value: int | Decimal) -> str:
        return str(format_decimal(value, locale=_babel_locale(self.locale)))

    def money(self, minor: int, currency: str) -> str:
        """An amount in minor units (4495 EUR) as the locale writes money (44,95 €)."""
        digits = get_currency_precision(currency)
        amount = Decimal(minor).scaleb(-digits)
        return str(format_currency(amount, currency, locale=_babel_locale(self.locale)))

    def date(self, day: date | datetime) -> str:
        """A day as the locale writes it in full (7 december 2026 in Swedish)."""
        value = day.date() if isinstance(day, datetime) else day
        return str(format_date(value, format="long", locale=_babel_locale(self.locale)))


def N_(message: str) -> str:  # noqa: N802 (gettext's name for a marked message)
    """Marks a message for the catalogues where it is written; it is translated where used."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    """Marks a message with a plural for the catalogues (extracted with keyword NP_:1,2)."""
    return (singular, plural)


def messages_for(wanted: tuple[str, ...]) -> Messages:
    """The texts for a reader who wants `wanted` (most wanted first): the first locale whose
    language Laurel ships, else English."""
    for locale in wanted:
        if language_of(locale) in SHIPPED_LANGUAGES:
            return Messages(locale)
    return Messages(DEFAULT_LOCALE)


def ships_any(wanted: tuple[str, ...]) -> bool:
    """Whether one of `wanted` is in a shipped language."""
    return any(language_of(locale) in SHIPPED_LANGUAGES for locale in wanted)
