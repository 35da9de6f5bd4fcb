"""The Python `gql` client (an app's backend or a script) against a live Laurel over HTTP: it
fetches the schema, validates documents against it locally, runs queries and a mutation, and
reads errors as the exception with their codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from tests.live_server import LiveServer, live_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(Path(tmp_path_factory.mktemp("gql"))) as running:
        yield running


async def _session_run(server: LiveServer, headers: dict[str, str], document: str) -> object:
    transport = HTTPXAsyncTransport(url=server.graphql_url, headers=headers)
    client = Client(transport=transport, fetch_schema_from_transport=True)
    async with client as session:
        return await session.execute(gql(document))


async def test_gql_validates_against_the_fetched_schema_and_queries(server: LiveServer) -> None:
    result = await _session_run(
        server,
        server.admin_headers,
        'query { program(slug: "demo") { slug currency } }',
    )
    assert result == {"program": {"slug": "demo", "currency": "EUR"}}


async def test_gql_reads_a_member_with_a_token(server: LiveServer) -> None:
    result = await _session_run(
        server,
        server.member_headers,
        "query { me { customerId points { available } activity(first: 2) {"
        " edges { node { kind } }"
        " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }",
    )
    assert isinstance(result, dict)
    me = result["me"]
    assert me["customerId"] == "cust-alice"
    assert len(me["activity"]["edges"]) == 2
    assert me["activity"]["pageInfo"]["hasPreviousPage"] is False


async def test_gql_runs_a_mutation_and_gets_user_errors(server: LiveServer) -> None:
    result = await _session_run(
        server,
        server.admin_headers,
        'mutation { adjustPoints(input: {memberId: "TWVtYmVyOjk5OTk5", points: 5,'
        ' reason: "gql", idempotencyKey: "gql-1"}) { userErrors { code field } } }',
    )
    assert result == {
        "adjustPoints": {
            "userErrors": [{"code": "MEMBER_NOT_FOUND", "field": ["input", "memberId"]}]
        }
    }


async def test_gql_raises_errors_with_their_codes(server: LiveServer) -> None:
    transport = HTTPXAsyncTransport(url=server.graphql_url, headers=server.admin_headers)
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as raised:
            await session.execute(
                gql('query { events(programSlug: "demo", first: 0) { edges { cursor } } }')
            )
    assert raised.value.errors is not None
    assert raised.value.errors[0]["extensions"]["code"] == "INVALID_VALUE"
    assert raised.value.errors[0]["path"] == ["events"]
