"""The shared shapes of writes (app/graphql/core/admin_writes.py), without a database: the
caller is checked before an id is decoded or a service runs, ids point at their input field,
and a kind's payload holds its record in the field it names."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from app.auth.api_keys import KeyKind, Principal
from app.domain.errors import DomainError, ErrorCode
from app.graphql.core.admin_writes import RecordPayloads, admin_id, write_by_id
from app.graphql.core.context import Info
from app.graphql.core.ids import encode_id

ADMIN = Principal(key_id=1, kind=KeyKind.ADMIN, program_id=None)
SECRET = Principal(key_id=2, kind=KeyKind.SECRET, program_id=7)


def info_of(principal: Principal) -> Info:
    return cast(Info, SimpleNamespace(context=SimpleNamespace(principal=principal)))


@dataclass
class Shelf:
    label: str


@dataclass
class ShelfPayload:
    shelf: Shelf | None = None


def shelf_of(record: str) -> Shelf:
    return Shelf(label=record)


SHELVES = RecordPayloads("Shelf", shelf_of, ShelfPayload, "shelf")


def test_admin_id_refuses_another_key_before_looking_at_the_id() -> None:
    with pytest.raises(DomainError) as refused:
        admin_id(info_of(SECRET), "not an id", "Shelf")
    assert refused.value.code is ErrorCode.FORBIDDEN


def test_an_id_of_another_type_points_at_its_input_field() -> None:
    with pytest.raises(DomainError) as refused:
        admin_id(info_of(ADMIN), encode_id("Reward", 3), "Shelf", "shelfId")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_ID, ["input", "shelfId"])
    assert admin_id(info_of(ADMIN), encode_id("Shelf", 3), "Shelf") == 3


def test_a_write_by_id_gets_the_pk_and_the_callers_program_scope() -> None:
    calls: list[tuple[int, int | None]] = []

    async def archive(pk: int, scope: int | None) -> str:
        calls.append((pk, scope))
        return "oak"

    payload = asyncio.run(SHELVES.by_id(SECRET, encode_id("Shelf", 5), archive))
    assert calls == [(5, 7)]
    assert payload == ShelfPayload(shelf=Shelf(label="oak"))


def test_a_refused_id_runs_no_write() -> None:
    async def archive(pk: int, scope: int | None) -> Any:
        raise AssertionError("the write ran")

    with pytest.raises(DomainError) as refused:
        asyncio.run(write_by_id(ADMIN, encode_id("Reward", 5), "Shelf", archive))
    assert refused.value.field == ["input", "id"]
