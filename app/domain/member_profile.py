"""A member's profile: what the store may send beyond its customer id, and the rules each
field meets. Attributes are the program's own fields (`member_attributes`: a name, a type and
a description each); a member's values are checked against them, so a segment or a rule can
rely on an attribute's type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.domain.errors import ErrorCode
from app.domain.validation import NAME_MAX, TEXT_MAX, Checker, has_control_characters

# The member's contact details and consent, as the API's inputs and the import files name them.
CONTACT_FIELDS = ("email", "name", "birthday", "phone", "locale", "marketing_consent")
PHONE_MAX = 32
LOCALE_MAX = 35
CARD_NUMBER_MAX = 64
TAG_MAX = 64
MAX_TAGS = 50
MAX_ATTRIBUTES = 100
ATTRIBUTE_NAME_MAX = 64

# E.164: a plus, then up to 15 digits, the first not 0. Stores send what their checkout took;
# spaces, dashes and brackets are dropped before the check.
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
# BCP 47 as browsers and apps send it: a language, then subtags (en, en-GB, zh-Hant-TW).
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-zA-Z0-9_]{0,63}$")
_CARD_NUMBER = re.compile(r"^[A-Za-z0-9-]{4,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def is_email(value: str) -> bool:
    return _EMAIL.match(value) is not None


class AttributeType(StrEnum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"


@dataclass(frozen=True)
class AttributeDefinition:
    name: str
    type: AttributeType
    description: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type.value, "description": self.description}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> AttributeDefinition:
        return cls(
            name=str(value["name"]),
            type=AttributeType(value["type"]),
            description=str(value.get("description", "")),
        )


def normalised_phone(text: str) -> str:
    """A number as stored: without the spaces, dashes, brackets and dots people write."""
    return _PHONE_SEPARATORS.sub("", text.strip())


def checked_phone(check: Checker, field: list[str], value: str | None) -> str | None:
    text = check.text(field, value, PHONE_MAX, required=False)
    if text is None:
        return None
    phone = normalised_phone(text)
    if not _PHONE.match(phone):
        check.add(
            ErrorCode.INVALID_VALUE,
            "phone must be an international number, e.g. +46701234567",
            field,
        )
    return phone


def checked_locale(check: Checker, field: list[str], value: str | None) -> str | None:
    text = check.text(field, value, LOCALE_MAX, required=False)
    if text is not None and not _LOCALE.match(text):
        check.add(ErrorCode.INVALID_VALUE, "locale must be a language tag, e.g. sv-SE", field)
    return text


def checked_card_number(check: Checker, field: list[str], value: str | None) -> str | None:
    text = check.text(field, value, CARD_NUMBER_MAX, required=False)
    if text is not None and not _CARD_NUMBER.match(text):
        check.add(
            ErrorCode.INVALID_VALUE,
            "cardNumber must be 4 to 64 letters, digits or dashes",
            field,
        )
    return text


def checked_tags(check: Checker, field: list[str], values: tuple[str, ...]) -> list[str]:
    """Distinct tags in the order given, each trimmed and lowercased (tags are labels)."""
    tags = check.text_list(field, values, TAG_MAX, MAX_TAGS)
    seen: list[str] = []
    for value in values:
        tag = value.strip().lower()
        if tag in {t.lower() for t in tags} and tag not in seen:
            seen.append(tag)
    return seen


def checked_definitions(
    check: Checker, field: list[str], definitions: tuple[AttributeDefinition, ...]
) -> list[AttributeDefinition]:
    if len(definitions) > MAX_ATTRIBUTES:
        check.add(ErrorCode.TOO_MANY, f"at most {MAX_ATTRIBUTES} attributes", field)
        return []
    names: set[str] = set()
    for index, definition in enumerate(definitions):
        at = [*field, str(index)]
        if not _ATTRIBUTE_NAME.match(definition.name):
            check.add(
                ErrorCode.INVALID_VALUE,
                "an attribute's name is a letter, then letters, digits or _ (up to 64),"
                " e.g. favouriteStore",
                [*at, "name"],
            )
        elif definition.name in names:
            check.add(
                ErrorCode.INVALID_VALUE, f"attribute {definition.name!r} twice", [*at, "name"]
            )
        names.add(definition.name)
        check.text([*at, "description"], definition.description or None, TEXT_MAX, required=False)
    return list(definitions)


def checked_attributes(
    check: Checker,
    field: list[str],
    values: dict[str, Any],
    definitions: list[AttributeDefinition],
) -> dict[str, Any]:
    """The values, each of its attribute's type; null removes an attribute's value."""
    by_name = {definition.name: definition for definition in definitions}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        at = [*field, name]
        definition = by_name.get(name)
        if definition is None:
            check.add(
                ErrorCode.UNKNOWN_ATTRIBUTE,
                f"the program has no member attribute {name!r} (setMemberAttributes adds one)",
                at,
            )
            continue
        if value is None:
            checked[name] = None
            continue
        problem = _type_problem(definition.type, value)
        if problem is not None:
            check.add(ErrorCode.INVALID_VALUE, f"{name} {problem}", at)
            continue
        if definition.type is AttributeType.DATE:
            # Stored as YYYY-MM-DD whatever ISO form was sent (20260301 too), so that dates
            # compare as text in segments' conditions.
            value = date.fromisoformat(value).isoformat()
        checked[name] = value
    return checked


def _type_problem(kind: AttributeType, value: Any) -> str | None:
    if kind is AttributeType.BOOLEAN:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if abs(value) < 1e15 else "is out of range"
    if not isinstance(value, str):
        return "must be text" if kind is AttributeType.STRING else "must be a date, YYYY-MM-DD"
    if has_control_characters(value) or len(value) > NAME_MAX:
        return f"must be text of at most {NAME_MAX} characters, without control characters"
    if kind is AttributeType.DATE:
        try:
            date.fromisoformat(value)
        except ValueError:
            return "must be a date, YYYY-MM-DD"
    return None


def merged_attributes(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**current, **changes}
    return {name: value for name, value in merged.items() if value is not None}
