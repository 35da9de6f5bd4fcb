"""The console page (/console): local assets only, a strict CSP, off in production unless asked
for, and every GraphQL document it sends valid against the schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from graphql import parse, validate
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.config import Settings
from app.graphql.schema import schema
from app.main import create_app
from app.web.console import STATIC_DIR, console_routes

DOCUMENTS = STATIC_DIR / "js" / "documents.js"
TEMPLATE = re.compile(r"^(?:export )?const (\w+) = `(.*?)`;", re.DOTALL | re.MULTILINE)
STRING = re.compile(r'^const (\w+) = "(.*?)";', re.MULTILINE)


def console_documents() -> dict[str, str]:
    """The documents of documents.js, with its `${NAME}` pieces put in as the browser does."""
    source = DOCUMENTS.read_text()
    pieces = {name: text for name, text in STRING.findall(source)}
    documents: dict[str, str] = {}
    for name, text in TEMPLATE.findall(source):
        expanded = re.sub(r"\$\{(\w+)\}", lambda m: pieces[m.group(1)], text)
        if name.isupper() and not expanded.lstrip().startswith(("query", "mutation")):
            pieces[name] = expanded
        else:
            documents[name] = expanded
    return documents


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=console_routes())) as test_client:
        yield test_client


def test_every_document_the_console_sends_is_valid_against_the_schema() -> None:
    documents = console_documents()

    assert len(documents) >= 20
    for name, text in documents.items():
        errors = validate(schema._schema, parse(text))
        assert errors == [], f"{name}: {[e.message for e in errors]}"


def test_the_page_loads_only_files_of_its_own_origin_under_a_strict_csp(
    client: TestClient,
) -> None:
    response = client.get("/console")

    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    assert "script-src 'self' 'nonce-" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe" not in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = response.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "https://" not in page and "http://" not in page
    # The one inline script is the import map, with this response's nonce.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline == [f' type="importmap" nonce="{nonce.group(1)}"']
    assert client.get("/console").headers["content-security-policy"] != policy


def test_every_file_the_page_and_its_modules_name_is_served(client: TestClient) -> None:
    page = client.get("/console").text
    urls = set(re.findall(r'(?:src|href)="(/static/console/[^"]+)"', page))
    urls |= set(re.findall(r'"(/static/console/[^"]+)"', page))  # the import map
    js = STATIC_DIR / "js"
    for module in js.rglob("*.js"):
        # Relative imports, resolved against the importing module's folder (js/program/...).
        for imported in re.findall(r'from "(\.{1,2}/[\w./-]+)"', module.read_text()):
            target = (module.parent / imported).resolve().relative_to(js.resolve())
            urls.add(f"/static/console/js/{target.as_posix()}")
    assert "/static/console/vendor/uPlot.esm.js" in urls
    for url in sorted(urls):
        response = client.get(url)
        assert response.status_code == 200, url
        if url.endswith(".js"):
            assert "javascript" in response.headers["content-type"], url


def test_every_vendored_file_is_listed_with_its_licence() -> None:
    vendor = STATIC_DIR / "vendor"
    listing = (vendor / "LICENSES.md").read_text()
    for path in vendor.iterdir():
        if path.suffix in {".js", ".css"}:
            assert Path(path.name).stem.split(".")[0] in listing, path.name
    for licence in ("LICENSE.preact.txt", "LICENSE.htm.txt", "LICENSE.uplot.txt"):
        assert (vendor / licence).stat().st_size > 500
    # Every bare specifier the modules import is in the page's import map.
    specifiers = set()
    for module in (STATIC_DIR / "js").rglob("*.js"):
        specifiers |= set(re.findall(r'from "([a-z][\w/]*)"', module.read_text()))
    specifiers |= set(re.findall(r'from"([a-z][\w/]*)"', (vendor / "hooks.module.js").read_text()))
    from app.web.console import IMPORTS

    assert specifiers <= set(IMPORTS), specifiers - set(IMPORTS)


@pytest.mark.parametrize(
    ("production", "enabled", "served"),
    [(False, False, True), (True, False, False), (True, True, True)],
)
def test_the_console_is_off_in_production_unless_enabled(
    production: bool, enabled: bool, served: bool
) -> None:
    settings = replace(
        Settings(database_url="sqlite://:memory:"),
        production=production,
        console_in_production=enabled,
    )
    app = create_app(settings, manage_database=False)
    with TestClient(app) as test_client:
        page = test_client.get("/console")
        asset = test_client.get("/static/console/js/app.js")

    assert (page.status_code == 200) is served
    assert (asset.status_code == 200) is served
