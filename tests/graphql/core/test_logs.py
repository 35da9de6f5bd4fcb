"""Logs: an expected client error is one INFO line with its code and request id, never a
traceback; `LAUREL_LOG_FORMAT=json` writes one JSON object a line."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from app.logs import JsonLines, log_config
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program


async def test_expected_errors_are_one_line_without_a_traceback(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.check_plans = False
    await create_program(api)
    caplog.set_level(logging.INFO)

    invalid = await api.post("{ programs { nope } }")
    refused = await api.post('{ events(programSlug: "shop", first: 0) { edges { cursor } } }')

    assert all(record.exc_info is None for record in caplog.records)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    lines = [
        (record.levelname, getattr(record, "code", None), getattr(record, "request_id", None))
        for record in caplog.records
        if record.name == "laurel.graphql"
    ]
    assert lines == [
        ("INFO", "GRAPHQL_VALIDATION_FAILED", invalid.headers["x-request-id"]),
        ("INFO", "INVALID_VALUE", refused.headers["x-request-id"]),
    ]


def test_json_lines_hold_the_message_extra_fields_and_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failure = logging.LogRecord(
            "laurel.graphql", logging.ERROR, __file__, 1, "unexpected in %s", ("x",), sys.exc_info()
        )
    plain = logging.makeLogRecord(
        {"name": "laurel.graphql", "levelname": "INFO", "msg": "hi", "code": "FORBIDDEN"}
    )

    failed = json.loads(JsonLines().format(failure))
    said = json.loads(JsonLines().format(plain))

    assert (failed["level"], failed["message"]) == ("error", "unexpected in x")
    assert "ValueError: boom" in failed["traceback"]
    assert (said["message"], said["code"]) == ("hi", "FORBIDDEN")
    assert log_config("info", "json")["formatters"]["laurel"] == {"()": JsonLines}
