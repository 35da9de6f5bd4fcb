"""The generic row mapper converts each column by the record field's declared type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from app.rows import Keyset, RowMapper


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Sample:
    id: int
    label: str
    colour: Colour
    active: bool
    created_at: datetime
    ended_at: datetime | None
    birthday: date | None
    rate: Decimal
    settings: dict[str, Any]
    names: tuple[str, ...]
    parent_id: int | None


MAPPER = RowMapper(Sample, renamed={"label": "sample_label"})


def test_sqlite_shaped_row_becomes_a_typed_record() -> None:
    row = {
        "id": "7",
        "sample_label": "x",
        "colour": "red",
        "active": 1,
        "created_at": "2026-01-02 03:04:05",
        "ended_at": None,
        "birthday": "1990-05-06",
        "rate": "1.25",
        "settings": '{"a": 1}',
        "names": '["p", "q"]',
        "parent_id": None,
    }

    record = MAPPER(row)

    assert record == Sample(
        id=7,
        label="x",
        colour=Colour.RED,
        active=True,
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ended_at=None,
        birthday=date(1990, 5, 6),
        rate=Decimal("1.25"),
        settings={"a": 1},
        names=("p", "q"),
        parent_id=None,
    )


def test_postgres_shaped_row_keeps_its_decoded_values() -> None:
    created = datetime(2026, 1, 2, tzinfo=UTC)
    row = {
        "id": 7,
        "sample_label": "x",
        "colour": "red",
        "active": True,
        "created_at": created,
        "ended_at": created,
        "birthday": date(1990, 5, 6),
        "rate": Decimal("1.25"),
        "settings": {"a": 1},
        "names": ["p"],
        "parent_id": 3,
    }

    record = MAPPER(row)

    assert (record.created_at, record.ended_at, record.names, record.parent_id) == (
        created,
        created,
        ("p",),
        3,
    )


def test_columns_follow_the_fields_with_renames() -> None:
    assert MAPPER.columns == (
        "id, sample_label, colour, active, created_at, ended_at, birthday, rate, settings,"
        " names, parent_id"
    )


def test_a_class_that_is_not_a_dataclass_is_refused() -> None:
    with pytest.raises(TypeError, match="not a dataclass"):
        RowMapper(Colour)


def test_a_newest_first_keyset_continues_below_the_last_key_and_starts_above_every_id() -> None:
    keyset = Keyset(newest_first=True)

    assert keyset.clause == " AND id < ? ORDER BY id DESC LIMIT ?"
    assert keyset.params(None, 11) == (2**63 - 1, 11)
    assert keyset.params(40, 11) == (40, 11)


def test_an_oldest_first_keyset_within_a_fixed_column_compares_and_orders_the_pair() -> None:
    keyset = Keyset(newest_first=False, key="seq", within="member_id")

    assert keyset.clause == (
        " AND (member_id, seq) > (?, ?) ORDER BY member_id ASC, seq ASC LIMIT ?"
    )
    assert keyset.params(None, 5, within=7) == (7, 0, 5)
    assert keyset.params(12, 5, within=7) == (7, 12, 5)
