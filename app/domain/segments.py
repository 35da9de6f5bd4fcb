"""Segments: groups of members described by conditions on what Laurel knows of them.

A segment's definition is data: a tree whose leaves compare one fact of a member with a value
and whose inner nodes combine their children with AND (`all`) or OR (`any`). The same JSON is
the GraphQL input, the stored definition and each saved version:

    {"all": [
        {"field": "DAYS_SINCE_LAST_ORDER", "operator": "GTE", "value": 90},
        {"any": [{"field": "TIER", "operator": "IN", "value": ["Gold"]},
                 {"field": "SPEND", "operator": "GTE", "value": 50000, "windowDays": 365}]}]}

A member who has no value for a fact (no order yet, no birthday, an attribute never sent)
matches no comparison of it, NE and NOT_IN included: "not in Gold" is a statement about members
who have a tier, and ORDER_COUNT EQ 0 is how "never ordered" is said.

This module parses and validates a definition; services/segments turns it into SQL, so one
definition answers for one member at earn time and for a million in a refresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from app.domain.errors import ErrorCode
from app.domain.member_profile import TAG_MAX, AttributeDefinition, AttributeType
from app.domain.orders import OrderChannel
from app.domain.validation import NAME_MAX, Checker, has_control_characters

SEGMENT_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_DEPTH = 5
MAX_COMPARISONS = 50
MAX_VALUES = 100
MAX_WINDOW_DAYS = 3650
MAX_DAYS = 36500
MAX_NUMBER = 10**15


class SegmentField(StrEnum):
    # Recency, frequency and monetary value (RFM), each optionally within the last windowDays.
    DAYS_SINCE_LAST_ORDER = "DAYS_SINCE_LAST_ORDER"
    ORDER_COUNT = "ORDER_COUNT"
    SPEND = "SPEND"
    TIER = "TIER"
    TAG = "TAG"
    ATTRIBUTE = "ATTRIBUTE"
    CHANNEL = "CHANNEL"
    ENROLLED_DAYS = "ENROLLED_DAYS"
    BIRTHDAY_MONTH = "BIRTHDAY_MONTH"
    POINTS_AVAILABLE = "POINTS_AVAILABLE"
    REFERRAL_COUNT = "REFERRAL_COUNT"
    STATUS = "STATUS"


class SegmentOperator(StrEnum):
    EQ = "EQ"
    NE = "NE"
    LT = "LT"
    LTE = "LTE"
    GT = "GT"
    GTE = "GTE"
    IN = "IN"
    NOT_IN = "NOT_IN"


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    OPTED_OUT = "OPTED_OUT"


ORDERING = frozenset(
    {
        SegmentOperator.EQ,
        SegmentOperator.NE,
        SegmentOperator.LT,
        SegmentOperator.LTE,
        SegmentOperator.GT,
        SegmentOperator.GTE,
    }
)
EQUALITY = frozenset({SegmentOperator.EQ, SegmentOperator.NE})
MEMBERSHIP = frozenset({SegmentOperator.IN, SegmentOperator.NOT_IN})
# Counts and amounts compared with a whole number.
NUMBER_FIELDS = frozenset(
    {
        SegmentField.DAYS_SINCE_LAST_ORDER,
        SegmentField.ORDER_COUNT,
        SegmentField.SPEND,
        SegmentField.ENROLLED_DAYS,
        SegmentField.POINTS_AVAILABLE,
        SegmentField.REFERRAL_COUNT,
    }
)
# Facts that change with the clock alone: the refresh job re-evaluates segments that use them.
_WINDOWED = frozenset({SegmentField.ORDER_COUNT, SegmentField.SPEND, SegmentField.CHANNEL})
_AGES = frozenset({SegmentField.DAYS_SINCE_LAST_ORDER, SegmentField.ENROLLED_DAYS})


@dataclass(frozen=True)
class Comparison:
    field: SegmentField
    operator: SegmentOperator
    # An int for number fields and NUMBER attributes, a bool for BOOLEAN attributes, a text
    # for STRING and DATE (ISO) attributes compared with EQ..GTE, and a tuple for IN / NOT_IN.
    value: Any
    window_days: int | None = None
    attribute: str | None = None
    # The attribute's type, from the program's schema when the segment was saved.
    attribute_type: AttributeType | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "field": self.field.value,
            "operator": self.operator.value,
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
        }
        if self.window_days is not None:
            data["windowDays"] = self.window_days
        if self.attribute is not None:
            data["attribute"] = self.attribute
        return data


@dataclass(frozen=True)
class Group:
    """Its conditions combined: every one must hold (`all`), or at least one (`any`)."""

    any: bool
    conditions: tuple[Condition, ...]

    def as_json(self) -> dict[str, Any]:
        return {("any" if self.any else "all"): [item.as_json() for item in self.conditions]}


Condition = Comparison | Group


def depends_on_time(condition: Condition) -> bool:
    """Whether the clock alone can move a member in or out (a job re-evaluates these)."""
    if isinstance(condition, Group):
        return any(depends_on_time(item) for item in condition.conditions)
    return condition.field in _AGES or (
        condition.field in _WINDOWED and condition.window_days is not None
    )


def comparisons(condition: Condition) -> list[Comparison]:
    if isinstance(condition, Comparison):
        return [condition]
    return [leaf for item in condition.conditions for leaf in comparisons(item)]


class _Parser:
    """Reads a definition from its JSON shape, collecting every problem with its path."""

    def __init__(self, check: Checker, attributes: dict[str, AttributeDefinition]) -> None:
        self.check = check
        self.attributes = attributes
        self.count = 0

    def error(
        self, path: list[str], message: str, code: ErrorCode = ErrorCode.INVALID_VALUE
    ) -> None:
        self.check.add(code, message, path)

    def condition(self, raw: Any, path: list[str], depth: int) -> Condition | None:
        if not isinstance(raw, dict):
            self.error(path, "a condition is an object")
            return None
        given = [key for key in ("all", "any", "field") if raw.get(key) is not None]
        if len(given) != 1:
            self.error(path, "a condition has exactly one of all, any and field")
            return None
        if given[0] == "field":
            return self.comparison(raw, path)
        if depth >= MAX_DEPTH:
            self.error(path, f"conditions nest at most {MAX_DEPTH} deep", ErrorCode.TOO_MANY)
            return None
        items = raw[given[0]]
        if not isinstance(items, list) or not items:
            self.error([*path, given[0]], f"{given[0]} needs at least one condition")
            return None
        parsed = [
            self.condition(item, [*path, given[0], str(index)], depth + 1)
            for index, item in enumerate(items)
        ]
        if any(item is None for item in parsed):
            return None
        return Group(any=given[0] == "any", conditions=tuple(item for item in parsed if item))

    def comparison(self, raw: dict[str, Any], path: list[str]) -> Comparison | None:
        self.count += 1
        if self.count == MAX_COMPARISONS + 1:
            self.error(
                path, f"a segment has at most {MAX_COMPARISONS} comparisons", ErrorCode.TOO_MANY
            )
        try:
            field = SegmentField(str(raw["field"]))
            operator = SegmentOperator(str(raw.get("operator")))
        except ValueError:
            self.error(path, "unknown field or operator")
            return None
        window = raw.get("windowDays")
        if window is not None:
            if field not in _WINDOWED:
                self.error([*path, "windowDays"], f"{field.value} takes no windowDays")
                return None
            if not _is_int(window) or not 1 <= window <= MAX_WINDOW_DAYS:
                self.error([*path, "windowDays"], f"windowDays must be 1 to {MAX_WINDOW_DAYS}")
                return None
        attribute = raw.get("attribute")
        if field is SegmentField.ATTRIBUTE:
            return self.attribute_comparison(raw, path, operator, attribute)
        if attribute is not None:
            self.error([*path, "attribute"], f"{field.value} takes no attribute")
            return None
        value = self.value(field, operator, raw.get("value"), [*path, "value"])
        if value is None:
            return None
        return Comparison(field=field, operator=operator, value=value, window_days=window)

    def value(
        self, field: SegmentField, operator: SegmentOperator, raw: Any, path: list[str]
    ) -> Any:
        if field in NUMBER_FIELDS:
            if operator not in ORDERING:
                self.error(path, f"{field.value} is compared with EQ, NE, LT, LTE, GT or GTE")
                return None
            high = MAX_DAYS if field in _AGES else MAX_NUMBER
            if not _is_int(raw) or not 0 <= raw <= high:
                self.error(path, f"{field.value} is compared with a whole number from 0 to {high}")
                return None
            return int(raw)
        if operator not in MEMBERSHIP:
            self.error(path, f"{field.value} is compared with IN or NOT_IN")
            return None
        items = self.items(raw, path)
        if items is None:
            return None
        allowed: frozenset[Any] | None = None
        if field is SegmentField.CHANNEL:
            allowed = frozenset(OrderChannel)
        elif field is SegmentField.STATUS:
            allowed = frozenset(MemberStatus)
        elif field is SegmentField.BIRTHDAY_MONTH:
            allowed = frozenset(range(1, 13))
        if field is SegmentField.TAG:
            items = tuple(str(item).strip().lower() for item in items)
        for index, item in enumerate(items):
            bad_type = (field is SegmentField.BIRTHDAY_MONTH) != _is_int(item)
            if bad_type or (allowed is not None and item not in allowed):
                expected = (
                    "a month from 1 to 12"
                    if field is SegmentField.BIRTHDAY_MONTH
                    else "one of " + ", ".join(sorted(str(option) for option in allowed))
                    if allowed is not None
                    else "a text"
                )
                self.error([*path, str(index)], f"{field.value} values are {expected}")
                return None
            if isinstance(item, str) and not self.text_ok(item, [*path, str(index)]):
                return None
        return tuple(sorted(set(items), key=str))

    def items(self, raw: Any, path: list[str]) -> tuple[Any, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.error(path, "IN and NOT_IN take a list of at least one value")
            return None
        if len(raw) > MAX_VALUES:
            self.error(path, f"a list has at most {MAX_VALUES} values", ErrorCode.TOO_MANY)
            return None
        return tuple(raw)

    def text_ok(self, text: str, path: list[str]) -> bool:
        if not text or len(text) > max(NAME_MAX, TAG_MAX) or has_control_characters(text):
            self.error(path, f"a value is 1 to {NAME_MAX} characters, no control characters")
            return False
        return True

    def attribute_comparison(
        self, raw: dict[str, Any], path: list[str], operator: SegmentOperator, attribute: Any
    ) -> Comparison | None:
        definition = self.attributes.get(attribute) if isinstance(attribute, str) else None
        if definition is None:
            self.error(
                [*path, "attribute"],
                "attribute must name one of the program's member attributes",
                ErrorCode.UNKNOWN_ATTRIBUTE,
            )
            return None
        kind = definition.type
        value_path = [*path, "value"]
        value = raw.get("value")
        allowed = {
            AttributeType.STRING: ORDERING | MEMBERSHIP,
            AttributeType.DATE: ORDERING,
            AttributeType.NUMBER: ORDERING,
            AttributeType.BOOLEAN: EQUALITY,
        }[kind]
        if operator not in allowed:
            names = ", ".join(sorted(operator.value for operator in allowed))
            self.error(value_path, f"a {kind.value} attribute is compared with {names}")
            return None
        checked: Any = None
        if operator in MEMBERSHIP:
            items = self.items(value, value_path)
            if items is None:
                return None
            if not all(isinstance(item, str) and self.text_ok(item, value_path) for item in items):
                self.error(value_path, "a STRING attribute is compared with texts")
                return None
            checked = tuple(sorted(set(items)))
        elif kind is AttributeType.NUMBER:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or abs(value) > MAX_NUMBER
            ):
                self.error(value_path, "a NUMBER attribute is compared with a number")
                return None
            checked = value
        elif kind is AttributeType.BOOLEAN:
            if not isinstance(value, bool):
                self.error(value_path, "a BOOLEAN attribute is compared with true or false")
                return None
            checked = value
        elif kind is AttributeType.DATE:
            try:
                checked = date.fromisoformat(value).isoformat() if isinstance(value, str) else None
            except ValueError:
                checked = None
            if checked is None:
                self.error(value_path, "a DATE attribute is compared with a date, e.g. 2026-03-01")
                return None
        else:
            if not isinstance(value, str) or not self.text_ok(value, value_path):
                self.error(value_path, "a STRING attribute is compared with a text")
                return None
            checked = value
        return Comparison(
            field=SegmentField.ATTRIBUTE,
            operator=operator,
            value=checked,
            attribute=definition.name,
            attribute_type=kind,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_condition(
    check: Checker,
    raw: Any,
    path: list[str],
    attributes: list[AttributeDefinition],
) -> Condition | None:
    """The definition `raw` describes, or None with the problems added to `check`."""
    parser = _Parser(check, {item.name: item for item in attributes})
    return parser.condition(raw, path, 0)


def stored_condition(raw: Any, attributes: list[AttributeDefinition]) -> Condition | None:
    """A saved definition read back. None when it no longer fits the program (an attribute
    it compares was removed or changed type): such a segment matches nobody until it is
    saved again, rather than comparing values of another type."""
    check = Checker()
    condition = parse_condition(check, raw, ["condition"], attributes)
    return None if check.errors else condition
