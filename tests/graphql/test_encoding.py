"""One encoder for every GraphQL answer (app/graphql/encoding.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app.graphql.encoding import encode_answer


def test_answers_are_compact_json_with_utf8_as_it_is() -> None:
    answer = {"data": {"name": "Zoë Åberg", "points": 12, "ok": True, "note": None, "at": 1.5}}
    encoded = encode_answer(answer)
    assert encoded == (
        '{"data":{"name":"Zoë Åberg","points":12,"ok":true,"note":null,"at":1.5}}'.encode()
    )
    assert json.loads(encoded) == answer


def test_what_orjson_refuses_is_written_by_the_standard_encoder() -> None:
    # A JSON scalar can hold an integer beyond 64 bits, and an object with non-string keys.
    answer = {"data": {"payload": {"big": 2**70, "table": {1: "one"}}}}
    encoded = encode_answer(answer)
    assert encoded == b'{"data":{"payload":{"big":1180591620717411303424,"table":{"1":"one"}}}}'


def test_a_lone_surrogate_echoed_in_an_error_is_escaped_not_a_failure() -> None:
    # graphql-core's coercion errors quote the variable's value as the request sent it.
    answer = {"data": None, "errors": [{"message": 'Invalid value "\ud800"'}]}
    encoded = encode_answer(answer)
    assert encoded == b'{"data":null,"errors":[{"message":"Invalid value \\"\\ud800\\""}]}'


@dataclass
class _Point:
    x: int


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, tzinfo=UTC), _Point(1)])
def test_values_no_serialiser_made_are_refused_as_before(value: object) -> None:
    with pytest.raises(TypeError):
        encode_answer({"data": {"value": value}})
