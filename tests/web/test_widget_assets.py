"""The <laurel-rewards> script as Laurel serves it: small, filled in with its documents and
words, cacheable; its manifest; its demo page only where GraphiQL is served."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.services.documents.service import sha256_of
from app.services.messages.catalogue import SHIPPED_LANGUAGES
from app.web.widget import PLACEHOLDER, widget_documents, widget_routes

SCHEMA = build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
# The budget for the script, compressed.
MOST_COMPRESSED_BYTES = 50 * 1024


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=widget_routes(demo_page=True))) as test_client:
        yield test_client


def config_of(script: str) -> dict[str, object]:
    match = re.search(r"const CONFIG = (\{.*?\});\n", script, re.S)
    assert match is not None
    config: dict[str, object] = json.loads(match.group(1))
    return config


def test_the_script_is_served_gzipped_under_the_budget_with_an_etag(client: TestClient) -> None:
    response = client.get("/widget/laurel-rewards.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["content-encoding"] == "gzip"
    compressed = int(response.headers["content-length"])
    assert 0 < compressed < MOST_COMPRESSED_BYTES
    assert len(gzip.compress(response.content)) > compressed / 2
    assert PLACEHOLDER not in response.text
    again = client.get(
        "/widget/laurel-rewards.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_the_script_carries_valid_documents_by_id_and_every_language(client: TestClient) -> None:
    config = config_of(client.get("/widget/laurel-rewards.js").text)
    documents = config["documents"]
    assert isinstance(documents, dict)
    assert set(documents) == {
        "LaurelWidgetMember",
        "LaurelWidgetProgram",
        "LaurelWidgetRedeem",
        "LaurelWidgetLive",
    }
    for document in documents.values():
        assert document["id"] == sha256_of(document["body"])
        assert validate(SCHEMA, parse(document["body"])) == []
    messages = config["messages"]
    assert isinstance(messages, dict)
    assert sorted(messages) == sorted(SHIPPED_LANGUAGES)
    assert messages["sv"]["texts"]["yourPoints"] == "Dina poäng"
    # Nothing in it is fetched from anywhere but the API it is given
    script = client.get("/widget/laurel-rewards.js").text
    assert not re.search(r"https?://(?!loyalty\.example)", script)


def test_the_manifest_lists_the_same_documents(client: TestClient) -> None:
    manifest = client.get("/widget/laurel-rewards.manifest.json").json()
    assert manifest["format"] == "apollo-persisted-query-manifest"
    assert {(o["name"], o["id"]) for o in manifest["operations"]} == {
        (d.name, d.id) for d in widget_documents()
    }
    assert {o["type"] for o in manifest["operations"]} == {"query", "mutation"}


def test_the_demo_page_loads_only_its_own_script_under_a_strict_policy(
    client: TestClient,
) -> None:
    response = client.get("/widget/demo")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert re.findall(r'src="([^"]+)"', response.text) == ["/widget/laurel-rewards.js"]
    assert "<laurel-rewards" in response.text


def test_the_demo_page_is_off_in_production_and_the_script_is_not() -> None:
    production = create_app(Settings(database_url="sqlite://:memory:", production=True))
    with TestClient(production) as client:
        assert client.get("/widget/demo").status_code == 404
        assert client.get("/widget/laurel-rewards.js").status_code == 200
