"""Schemathesis against a real server: every query and mutation with generated input, as an admin
key and as a storefront with a member token. Whatever it sends, no answer may be a server error
or an unexpected (masked) error. SQLite only: the point is the API layer, which is the same on
both databases, and a bounded run keeps the suite fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.live_server import LiveServer, live_server

EXAMPLES_PER_OPERATION = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(Path(tmp_path_factory.mktemp("schemathesis"))) as running:
        yield running


def _fuzz_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    base_url: str,
    headers: dict[str, str],
    failures: list[str],
) -> int:
    calls = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        nonlocal calls
        case = data.draw(operation.as_strategy())
        response = case.call(base_url=base_url, headers=headers)
        calls += 1
        if response.status_code >= 500 or "Unexpected error" in response.text:
            failures.append(f"{operation.label}: {response.status_code} {response.text[:300]}")

    check()
    return calls


def _fuzz(server: LiveServer, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.graphql.from_url(f"{server.url}/graphql", headers=server.admin_headers)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        calls += _fuzz_operation(result.ok(), server.url, headers, failures)  # type: ignore[union-attr]
    return calls, failures


def test_generated_requests_as_admin_cause_no_server_error(server: LiveServer) -> None:
    calls, failures = _fuzz(server, server.admin_headers)
    assert failures == []
    assert calls > 100


def test_generated_requests_with_a_member_token_cause_no_server_error(server: LiveServer) -> None:
    calls, failures = _fuzz(server, server.member_headers)
    assert failures == []
    assert calls > 100
