"""Locales: canonical tags, Accept-Language, and the fallback chain of translated texts."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.locales import (
    accepted_locales,
    canonical_locale,
    checked_locale,
    fallback_chain,
    pick,
)


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("sv", "sv"),
        ("SV-se", "sv-SE"),
        ("sv_SE", "sv-SE"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("ru-RU", "ru-RU"),
    ],
)
def test_a_locale_is_kept_in_canonical_case(tag: str, canonical: str) -> None:
    assert canonical_locale(tag) == canonical


@pytest.mark.parametrize(
    "tag", ["", "s", "svenska", "sv-", "sv-SE-extra", "1234", "sv SE", "sv;q=1", "../etc"]
)
def test_what_is_no_language_tag_is_invalid_locale(tag: str) -> None:
    assert canonical_locale(tag) is None
    with pytest.raises(DomainError) as raised:
        checked_locale(tag, ["locale"])
    assert raised.value.code is ErrorCode.INVALID_LOCALE
    assert raised.value.field == ["locale"]


def test_accept_language_is_read_by_weight_and_skips_what_is_malformed() -> None:
    header = "ro;q=0.5, sv-SE, xx-???, ru;q=0.9, *;q=0.1, de;q=0, en;q=abc"
    assert accepted_locales(header) == ("sv-SE", "ru", "ro")
    assert accepted_locales(None) == ()
    assert accepted_locales("") == ()


def test_the_fallback_chain_goes_from_region_to_language_to_the_program_default() -> None:
    assert fallback_chain(("sv-SE",), "en") == ("sv-SE", "sv", "en")
    assert fallback_chain(("sv-FI", "ru"), "ro-RO") == ("sv-FI", "sv", "ru", "ro-RO", "ro")
    assert fallback_chain((), "sv") == ("sv",)


def test_pick_takes_the_first_translation_along_the_chain_else_the_configured_text() -> None:
    names = {"sv": "Tygpåse", "ru": "Сумка", "sv-FI": "Kasse"}
    assert pick(names, ("sv-SE",), "en", "Tote bag") == "Tygpåse"
    assert pick(names, ("sv-FI",), "en", "Tote bag") == "Kasse"
    assert pick(names, ("ro",), "en", "Tote bag") == "Tote bag"
    assert pick(names, ("ro",), "ru", "Tote bag") == "Сумка"
    assert pick({}, ("sv",), "en", "Tote bag") == "Tote bag"
