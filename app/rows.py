"""Rows to records, and pages of rows: one generic mapper instead of a hand-written function
per record type, and one way to write keyset paging in SQL.

A record is a frozen dataclass whose field names are the columns it is read from. The mapper
converts each column by the field's declared type, once worked out per class: the drivers
differ (SQLite hands timestamps back as text and JSON as text, PostgreSQL as datetimes and
decoded values), and the record should not care which one read it.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

from app.db import as_date, as_datetime, from_json

RecordT = TypeVar("RecordT")
KeyT = TypeVar("KeyT")
Converter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _optional(convert: Converter) -> Converter:
    def convert_unless_null(value: Any) -> Any:
        return None if value is None else convert(value)

    return convert_unless_null


def _converter_for(annotation: Any) -> Converter:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in arguments:
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _optional(_converter_for(inner))
    if annotation is bool:
        return bool
    if annotation is int:
        return int
    if annotation is datetime:
        return as_datetime
    if annotation is date:
        return as_date
    if annotation is Decimal:
        return lambda value: value if isinstance(value, Decimal) else Decimal(str(value))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    if origin is tuple:
        return lambda value: tuple(from_json(value))
    if origin in (dict, list) or annotation in (dict, list):
        return from_json
    return _identity


class RowMapper(Generic[RecordT]):
    """Makes `record_type` from a row whose keys are its field names.

    `renamed` maps a field to the column it comes from when the two differ (an aliased join).
    `columns` is the SELECT list in field order, so a query and its record cannot drift apart;
    `column_names` the same list for a queryset's `.values(*column_names)`.
    """

    def __init__(self, record_type: type[RecordT], *, renamed: Mapping[str, str] | None = None):
        if not dataclasses.is_dataclass(record_type):
            raise TypeError(f"{record_type.__name__} is not a dataclass")
        renamed = renamed or {}
        hints = typing.get_type_hints(record_type)
        self._record_type = record_type
        self._fields = tuple(
            (field.name, renamed.get(field.name, field.name), _converter_for(hints[field.name]))
            for field in dataclasses.fields(record_type)
            if field.init
        )
        self.column_names = tuple(column for _, column, _ in self._fields)
        self.columns = ", ".join(self.column_names)

    def __call__(self, row: Mapping[str, Any]) -> RecordT:
        return self._record_type(
            **{name: convert(row[column]) for name, column, convert in self._fields}
        )

    def all(self, rows: typing.Iterable[Mapping[str, Any]]) -> list[RecordT]:
        return [self(row) for row in rows]


def grouped(
    records: Iterable[RecordT], key: Callable[[RecordT], KeyT]
) -> dict[KeyT, list[RecordT]]:
    """The records by `key`, each key's in the order they came (a batch read for many keys)."""
    groups: dict[KeyT, list[RecordT]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


# Above every id a table will hold: the position of "no cursor yet" in a newest-first page.
_BEFORE_EVERY_ID = 2**63 - 1


@dataclass(frozen=True)
class Keyset:
    """Keyset paging in SQL: the clause that ends a page's WHERE, and its parameters.

    A page continues after the last `key` the client saw, so its cost does not grow with the
    pages before it. `within` names a column the query already fixes with `=` (the member of an
    activity feed): comparing and ordering by the pair `(within, key)` makes PostgreSQL walk a
    `(within, key)` index even when its statistics suggest scanning the primary key instead.
    """

    newest_first: bool
    key: str = "id"
    within: str | None = None

    @functools.cached_property
    def clause(self) -> str:
        direction, comparison = ("DESC", "<") if self.newest_first else ("ASC", ">")
        if self.within is None:
            return f" AND {self.key} {comparison} ? ORDER BY {self.key} {direction} LIMIT ?"
        return (
            f" AND ({self.within}, {self.key}) {comparison} (?, ?)"
            f" ORDER BY {self.within} {direction}, {self.key} {direction} LIMIT ?"
        )

    def params(self, position: int | None, limit: int, within: Any = None) -> tuple[Any, ...]:
        """`position`: the last key of the page before (None for the first page)."""
        if position is None:
            position = _BEFORE_EVERY_ID if self.newest_first else 0
        if self.within is None:
            return (position, limit)
        return (within, position, limit)
