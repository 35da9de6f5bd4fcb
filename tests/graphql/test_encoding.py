"""One encoder for every GraphQL answer (app/graphql/encoding.py)."""

from __future__ import annotations

import json

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
