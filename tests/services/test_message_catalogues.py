"""Laurel's message catalogues (app/services/messages/locales): every message the code marks is
translated in every shipped language with the same placeholders, the plural rules are CLDR's,
and numbers, money and dates follow the locale."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from app.domain.errors import ErrorCode
from app.domain.ledger import TransactionKind
from app.domain.tiers import TierMetric
from app.services.messages.catalogue import LOCALES_DIR, SHIPPED_LANGUAGES, Messages
from app.services.messages.texts import (
    MEMBER_FACING_CODES,
    activity_summary,
    error_message,
    points_text,
    reach_requirement,
)
from app.services.messages.widget import PLURALS, TEXTS, widget_messages

MESSAGES_DIR = Path(LOCALES_DIR).parent
KEYWORDS = {**DEFAULT_KEYWORDS, "NP_": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_messages() -> set[str | tuple[str, ...]]:
    """What the code marks for translation, as `pybabel extract` finds it."""
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(MESSAGES_DIR), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def catalogue(language: str) -> Catalog:
    with (LOCALES_DIR / language / "LC_MESSAGES" / "laurel.po").open("rb") as source:
        return read_po(source, locale=language)


def key_of(message_id: object) -> str | tuple[str, ...]:
    return message_id if isinstance(message_id, str) else tuple(message_id)  # type: ignore[arg-type]


def test_the_code_marks_messages_and_the_widget_words_are_among_them() -> None:
    used = used_messages()
    assert len(used) > 80
    assert set(TEXTS.values()) <= used
    assert set(PLURALS.values()) <= used


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    cat = catalogue(language)
    entries = {key_of(message.id): message for message in cat if message.id}
    used = used_messages()
    assert sorted(map(str, used - entries.keys())) == [], "missing in the catalogue"
    assert sorted(map(str, entries.keys() - used)) == [], "no longer used by the code"
    for key, message in entries.items():
        assert not message.fuzzy, key
        source = key if isinstance(key, str) else key[1]
        wanted = set(PLACEHOLDER.findall(source))
        forms = [message.string] if isinstance(message.string, str) else list(message.string or ())
        assert len(forms) == (1 if isinstance(key, str) else cat.num_plurals), key
        for form in forms:
            assert form.strip(), f"{key!r} is not translated into {language}"
            assert set(PLACEHOLDER.findall(form)) == wanted, (key, form)


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_the_plural_rule_of_each_catalogue_is_the_one_cldr_gives(language: str) -> None:
    rule = get_plural(language)
    cat = catalogue(language)
    assert cat.num_plurals == rule.num_plurals
    assert cat.plural_expr.replace(" ", "") == rule.plural_expr.replace(" ", "")


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 балл"), (2, "2 балла"), (5, "5 баллов"), (21, "21 балл")]
)
def test_russian_counts_take_their_plural_form(count: int, text: str) -> None:
    assert points_text(Messages("ru"), count) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [(1, "1 punct"), (2, "2 puncte"), (19, "19 puncte"), (20, "20 de puncte"), (101, "101 puncte")],
)
def test_romanian_counts_take_their_plural_form(count: int, text: str) -> None:
    assert points_text(Messages("ro"), count) == text


def test_numbers_money_and_dates_follow_the_locale() -> None:
    assert points_text(Messages("sv-SE"), 1500) == "1\xa0500 poäng"
    assert points_text(Messages("en"), 1500) == "1,500 points"
    assert points_text(Messages("ro"), 1500) == "1.500 de puncte"
    assert Messages("sv").money(12050, "SEK") == "120,50\xa0kr"
    assert Messages("ro").money(4495, "RON") == "44,95\xa0RON"
    assert Messages("ru").money(4495, "RUB") == "44,95\xa0₽"
    assert Messages("en").money(500, "JPY") == "¥500"
    assert Messages("ru").date(date(2026, 12, 31)) == "31 декабря 2026\u202fг."
    assert Messages("sv").date(date(2026, 12, 31)) == "31 december 2026"
    text = reach_requirement(Messages("ru"), TierMetric.MONEY_SPENT, 12050, "RUB", "Золото")
    assert text == "Потратьте ещё 120,50\xa0₽, чтобы получить уровень Золото"


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_every_activity_kind_and_member_facing_error_is_said(language: str) -> None:
    messages = Messages(language)
    for kind in TransactionKind:
        assert activity_summary(messages, kind, 7, "1001")
    for code in MEMBER_FACING_CODES:
        assert error_message(messages, code)
    assert error_message(messages, ErrorCode.SLUG_TAKEN) is None


def test_the_widget_gets_a_text_for_every_plural_category_of_the_language() -> None:
    assert widget_messages("ru")["plurals"]["points"] == {  # type: ignore[index]
        "one": "{count} балл",
        "few": "{count} балла",
        "many": "{count} баллов",
    }
    assert set(widget_messages("ro")["plurals"]["points"]) == {"one", "few", "other"}  # type: ignore[index]
    assert widget_messages("sv")["texts"]["redeem"] == "Lös in"  # type: ignore[index]
