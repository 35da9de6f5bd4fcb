"""Schemathesis against a real server: every query and mutation with generated input, as an admin
key and as a storefront with a member token. Whatever it sends, no answer may be a server error
or an unexpected (masked) error. SQLite only: the point is the API layer, which is the same on
both databases, and a bounded run keeps the suite fast.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.db import apply_migrations, close_db, init_db
from app.main import create_app

EXAMPLES_PER_OPERATION = 5


@dataclass(frozen=True)
class Server:
    url: str
    admin_headers: dict[str, str]
    member_headers: dict[str, str]


async def _prepare(settings: Settings) -> tuple[str, str, str]:
    from app.services.access.api_keys import list_api_keys, set_rate_limit
    from app.services.access.member_tokens import create_member_token
    from app.services.demo.service import seed_demo

    await apply_migrations(settings)
    await init_db(settings)
    try:
        keys = await seed_demo()
        for key in await list_api_keys():
            await set_rate_limit(key.id, 10_000.0, 10_000)
        token = await create_member_token("demo", "cust-alice", None, None)
        return keys.admin, keys.publishable, token.token
    finally:
        await close_db()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = Path(tmp_path_factory.mktemp("schemathesis")) / "laurel.sqlite3"
    app_settings = replace(
        Settings(database_url=f"sqlite://{database}"), api_key_cache_seconds=60.0
    )
    admin, publishable, token = asyncio.run(_prepare(app_settings))
    port = _free_port()
    config = uvicorn.Config(
        create_app(app_settings), host="127.0.0.1", port=port, log_level="warning"
    )
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("the test server did not start within 20 s")
    yield Server(
        url=url,
        admin_headers={"Authorization": f"Bearer {admin}"},
        member_headers={"Authorization": f"Bearer {publishable}", "X-Member-Token": token},
    )
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


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


def _fuzz(server: Server, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.graphql.from_url(f"{server.url}/graphql", headers=server.admin_headers)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        calls += _fuzz_operation(result.ok(), server.url, headers, failures)  # type: ignore[union-attr]
    return calls, failures


def test_generated_requests_as_admin_cause_no_server_error(server: Server) -> None:
    calls, failures = _fuzz(server, server.admin_headers)
    assert failures == []
    assert calls > 100


def test_generated_requests_with_a_member_token_cause_no_server_error(server: Server) -> None:
    calls, failures = _fuzz(server, server.member_headers)
    assert failures == []
    assert calls > 100
