"""The self-hosted GraphiQL page must work without internet access."""

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from app.web.graphiql import graphiql_routes


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.script_srcs: list[str] = []
        self.stylesheet_hrefs: list[str] = []
        self.all_urls: list[str] = []
        self.inline_nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name) is not None:
                self.all_urls.append(attributes[name] or "")
        if tag == "script":
            if attributes.get("src"):
                self.script_srcs.append(attributes["src"] or "")
            else:
                self.inline_nonces.append(attributes.get("nonce"))
        elif tag == "style":
            self.inline_nonces.append(attributes.get("nonce"))
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheet_hrefs.append(attributes.get("href") or "")


def _parse(page: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(Starlette(routes=graphiql_routes())) as test_client:
        yield test_client


def test_page_is_html(client: TestClient) -> None:
    response = client.get("/graphiql")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="graphiql"' in response.text


def test_page_references_only_local_assets(client: TestClient) -> None:
    page = client.get("/graphiql").text
    parsed = _parse(page)

    assert [src.rsplit("/", 1)[-1] for src in parsed.script_srcs] == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
    ]
    assert [href.rsplit("/", 1)[-1] for href in parsed.stylesheet_hrefs] == ["graphiql.min.css"]
    for url in parsed.script_srcs + parsed.stylesheet_hrefs:
        assert url.startswith("/static/graphiql/"), url
    for url in parsed.all_urls:
        assert not url.startswith(("http://", "https://", "//")), url
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_every_referenced_asset_is_served(client: TestClient) -> None:
    parsed = _parse(client.get("/graphiql").text)

    for url in parsed.script_srcs + parsed.stylesheet_hrefs:
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0, url
        expected_type = "text/css" if url.endswith(".css") else "javascript"
        assert expected_type in response.headers["content-type"], url


def test_csp_allows_only_self_and_the_inline_bootstrap(client: TestClient) -> None:
    response = client.get("/graphiql")
    csp = response.headers["content-security-policy"]
    directives = {
        name: value for name, _, value in (part.strip().partition(" ") for part in csp.split(";"))
    }

    nonce_match = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]+)'", directives["script-src"])
    assert nonce_match is not None, directives["script-src"]
    nonce = nonce_match.group(1)
    assert directives["style-src"] == f"'self' 'nonce-{nonce}'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    # Every inline <script>/<style> must carry the nonce, or the browser drops it.
    inline_nonces = _parse(response.text).inline_nonces
    assert inline_nonces
    assert set(inline_nonces) == {nonce}
    assert response.headers["cache-control"] == "no-store"


def test_nonce_changes_per_response(client: TestClient) -> None:
    first = client.get("/graphiql").headers["content-security-policy"]
    second = client.get("/graphiql").headers["content-security-policy"]

    assert first != second


def test_page_posts_to_the_configured_graphql_path() -> None:
    with TestClient(Starlette(routes=graphiql_routes("/api/graphql"))) as client:
        page = client.get("/graphiql").text

    assert 'const graphqlPath = "/api/graphql";' in page


def test_graphql_path_cannot_break_out_of_the_script() -> None:
    with TestClient(Starlette(routes=graphiql_routes("/x</script><b>"))) as client:
        page = client.get("/graphiql").text

    assert "</script><b>" not in page
    assert '"/x\\u003c/script\\u003e\\u003cb\\u003e"' in page


@pytest.mark.parametrize("path", ["graphql", "https://example.com/graphql", "//evil/graphql"])
def test_rejects_paths_outside_this_origin(path: str) -> None:
    with pytest.raises(ValueError, match="same-origin"):
        graphiql_routes(path)


def test_asset_urls_follow_an_enclosing_mount() -> None:
    app = Starlette(routes=[Mount("/admin", routes=graphiql_routes())])
    with TestClient(app) as client:
        parsed = _parse(client.get("/admin/graphiql").text)

        assert parsed.script_srcs
        for url in parsed.script_srcs + parsed.stylesheet_hrefs:
            assert url.startswith("/admin/static/graphiql/"), url
            assert client.get(url).status_code == 200, url
