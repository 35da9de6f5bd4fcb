"""An admin write and its audit entry commit together: the entry is inserted inside the write's
own transaction, with the target as that transaction leaves it (app/graphql/core/audit.py).

What the log records for each kind of write (before and after, refused writes, secrets, which
keys) is tested with the rest of the hardening, in tests/graphql/core/test_hardening.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest
from tortoise.backends.base.client import TransactionalDBClient

from app.auth.api_keys import KeyKind
from app.config import Settings
from app.db import connection, execute, in_transaction
from app.domain.errors import DomainError, ErrorCode
from app.main import create_app
from app.services.access.api_keys import create_api_key
from app.services.audit import service as audit_service
from app.services.programs import service as programs_service
from tests.graphql.conftest import Api
from tests.graphql.factories import create_program, everything
from tests.graphql.helpers import rows

AUDIT = """{ auditLog(first: 50) {
  edges { node { operation targetId before after succeeded } }
} }"""

RENAME = """mutation($name: String!) {
  updateProgramSettings(input: {programSlug: "shop", name: $name}) {
    program { name } userErrors { code message }
  }
}"""


async def entries(api: Api) -> list[dict[str, Any]]:
    data = await api.data(AUDIT)
    return [edge["node"] for edge in data["auditLog"]["edges"]]


async def program_name() -> str:
    [row] = await rows("SELECT name FROM programs WHERE slug = 'shop'")
    return str(row["name"])


def wrapped_settings_update(
    monkeypatch: pytest.MonkeyPatch, after: Any, *, nested: bool = False
) -> None:
    """`updateProgramSettings` runs the real update (inside a transaction of its own when
    `nested`, which makes the update's transaction a savepoint), then `after()`."""
    real = programs_service.update_program_settings

    async def update(*args: Any, **kwargs: Any) -> Any:
        if nested:
            async with in_transaction():
                record = await real(*args, **kwargs)
        else:
            record = await real(*args, **kwargs)
        await after()
        return record

    monkeypatch.setattr(programs_service, "update_program_settings", update)


async def test_a_write_whose_audit_entry_cannot_be_inserted_is_rolled_back(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    before = await everything()

    async def refuse(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audit_service, "record_write", refuse)
    response = await api.post(RENAME, {"name": "Renamed"})

    body = response.json()
    assert body["data"] is None
    request_id = response.headers["x-request-id"]
    assert [error["message"] for error in body["errors"]] == [
        f"Unexpected error; report request id {request_id}."
    ]
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert await everything() == before
    assert await program_name() == "shop rewards"


async def test_a_write_cut_off_while_its_entry_is_inserted_leaves_nothing_but_the_attempt(
    db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's time limit cancels it between the write and its entry, inside the
    transaction: the write is not kept without its entry."""
    app = create_app(replace(settings, request_timeout_seconds=0.5), manage_database=False)
    admin = await create_api_key(KeyKind.ADMIN, None, "audit tests")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://laurel.test"
    ) as http:
        api = Api(http=http, admin_key=admin.secret)
        await create_program(api)
        before = await everything()
        real = audit_service.record_write

        async def hang_inside_the_transaction(conn: Any, **fields: Any) -> int:
            if isinstance(conn, TransactionalDBClient):
                await asyncio.sleep(30)
            return await real(conn, **fields)

        monkeypatch.setattr(audit_service, "record_write", hang_inside_the_transaction)
        response = await api.post(RENAME, {"name": "Renamed"})

        assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
        after = await everything()
        assert after["all_counts"].pop("audit_log") == before["all_counts"].pop("audit_log") + 1
        assert after == before
        [attempt, *_] = await entries(api)
        assert (attempt["operation"], attempt["succeeded"]) == ("updateProgramSettings", False)
        assert attempt["before"]["name"] == attempt["after"]["name"] == "shop rewards"


async def test_the_entry_holds_what_the_write_committed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)

    async def change_after_the_commit() -> None:
        # Another writer's change, between the write's commit and its response.
        await execute(connection(), "UPDATE programs SET name = 'Later' WHERE slug = 'shop'")

    wrapped_settings_update(monkeypatch, change_after_the_commit)
    data = await api.data(RENAME, {"name": "Renamed"})

    assert data["updateProgramSettings"]["userErrors"] == []
    assert await program_name() == "Later"
    [entry, *_] = await entries(api)
    assert entry["operation"] == "updateProgramSettings"
    assert (entry["before"]["name"], entry["after"]["name"]) == ("shop rewards", "Renamed")


async def test_a_write_of_several_transactions_has_one_entry_with_the_last_state(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)
    count = len(await entries(api))

    async def second_transaction() -> None:
        async with in_transaction() as conn:
            await execute(conn, "UPDATE programs SET name = 'Second' WHERE slug = 'shop'")

    # The update's own transaction is a savepoint of an outer one: one commit, then another.
    wrapped_settings_update(monkeypatch, second_transaction, nested=True)
    data = await api.data(RENAME, {"name": "Renamed"})

    assert data["updateProgramSettings"]["userErrors"] == []
    entries_now = await entries(api)
    assert len(entries_now) == count + 1
    entry = entries_now[0]
    assert (entry["operation"], entry["succeeded"]) == ("updateProgramSettings", True)
    assert (entry["before"]["name"], entry["after"]["name"]) == ("shop rewards", "Second")


async def test_a_write_refused_after_a_commit_is_audited_as_failed_with_what_committed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_program(api)

    async def refuse() -> None:
        raise DomainError(ErrorCode.INVALID_VALUE, "refused after the update", ["input"])

    wrapped_settings_update(monkeypatch, refuse)
    data = await api.data(RENAME, {"name": "Renamed"})

    assert [e["code"] for e in data["updateProgramSettings"]["userErrors"]] == ["INVALID_VALUE"]
    assert await program_name() == "Renamed"
    [entry, *_] = await entries(api)
    assert (entry["operation"], entry["succeeded"]) == ("updateProgramSettings", False)
    assert (entry["before"]["name"], entry["after"]["name"]) == ("shop rewards", "Renamed")


HOSTILE_WRITE = (
    '{"query": "mutation($input: UpdateProgramSettingsInput!) { updateProgramSettings(input:'
    ' $input) { userErrors { code } } }", "variables": {"input": %s}}'
)


@pytest.mark.parametrize(
    "hostile_input",
    [
        '{"programSlug": "%s", "name": "x"}' % ("s" * 201),
        '{"programSlug": "shop", "name": "a\\u0000b"}',
        '{"programSlug": "\\ud800", "name": "x"}',
        '{"programSlug": "shop", "name": "x", "pointsPerCurrencyUnit": 1e400}',
        '{"programSlug": "shop\\u0000", "name": "%s"}' % ("\\ud83d" * 3000),
    ],
    ids=["long slug", "NUL", "lone surrogate", "1e400", "all of them"],
)
async def test_a_refused_write_with_hostile_input_is_still_audited(
    api: Api, hostile_input: str
) -> None:
    await create_program(api)
    before = len(await entries(api))

    response = await api.http.post(
        "/graphql",
        content=(HOSTILE_WRITE % hostile_input).encode(),
        headers={"Authorization": f"Bearer {api.admin_key}", "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    [latest, *older] = await entries(api)
    assert len(older) == before
    assert (latest["operation"], latest["succeeded"]) == ("updateProgramSettings", False)
