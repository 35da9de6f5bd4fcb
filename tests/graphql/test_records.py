"""The generic conversions between GraphQL and service shapes (app/graphql/core/records.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import strawberry

from app.domain.errors import DomainError, ErrorCode
from app.graphql.core.ids import encode_id
from app.graphql.core.node import Node
from app.graphql.core.records import from_record, service_input


@dataclass(frozen=True)
class _Record:
    id: int
    name: str
    tags: tuple[str, ...]
    owner_id: int
    secret: str


@strawberry.type
class Thing(Node):
    name: str
    tags: list[str]
    label: str
    owner_pk: strawberry.Private[int]
    secret_value: strawberry.Private[str]
    extra: int = 0


@strawberry.input
class _Input:
    owner_id: strawberry.ID
    tags: list[str]
    note: str | None = None


@dataclass(frozen=True)
class _ServiceInput:
    owner_id: int
    tags: tuple[str, ...]
    note: str | None
    by_member: bool = False


def test_from_record_copies_same_names_and_follows_the_conventions() -> None:
    thing = from_record(Thing, _Record(7, "n", ("a", "b"), 3, "s"), label="computed")
    assert thing == Thing(
        id=strawberry.ID(encode_id("Thing", 7)),
        name="n",
        tags=["a", "b"],
        label="computed",
        owner_pk=3,
        secret_value="s",
        extra=0,
    )


def test_service_input_decodes_ids_and_takes_overrides() -> None:
    made = service_input(
        _Input(owner_id=strawberry.ID(encode_id("Member", 5)), tags=["x"]),
        _ServiceInput,
        ids={"owner_id": "Member"},
        by_member=True,
    )
    assert made == _ServiceInput(owner_id=5, tags=("x",), note=None, by_member=True)


def test_an_invalid_id_points_at_its_camel_case_field() -> None:
    with pytest.raises(DomainError) as raised:
        service_input(
            _Input(owner_id=strawberry.ID(encode_id("Reward", 5)), tags=[]),
            _ServiceInput,
            ids={"owner_id": "Member"},
            at=["input", "sides", "0"],
        )
    assert raised.value.code is ErrorCode.INVALID_ID
    assert raised.value.field == ["input", "sides", "0", "ownerId"]
