"""<laurel-rewards> on a store's own page, on another origin than Laurel's: the store's hostile
stylesheet does not reach inside it, and it asks nothing of any origin but Laurel's, with
persisted documents."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Request, expect

from tests.browser.conftest import BrowserPage
from tests.browser.widget.test_widget import WAIT_MS, section
from tests.live_server import LiveServer, free_port, live_server

HOSTILE_CSS = """
* { font-size: 4px !important; color: transparent !important; background: red !important; }
div, section, button, span, p, ul, li { display: none !important; }
button { visibility: hidden !important; }
laurel-rewards { font-size: 2px; line-height: 0; color: yellow; }
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live Laurel that reads programs' settings at every request, so the store's origin is
    allowed as soon as the test has set it."""
    with live_server(tmp_path_factory.mktemp("store"), api_key_cache_seconds=0.0) as running:
        yield running


def store_page(server: LiveServer, *, css: str = "", locale: str = "en") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>A store</title><style>{css}</style>
<script src="{server.url}/widget/laurel-rewards.js" defer></script></head>
<body><h1>A store of its own</h1>
<laurel-rewards program="demo" publishable-key="{server.publishable_key}"
  member-token="{server.member_token}" locale="{locale}"></laurel-rewards></body></html>"""


@dataclass
class Store:
    """A store's own web server on 127.0.0.1 (another port, so another origin than Laurel's),
    answering every path with `page`."""

    origin: str
    page: str = ""


@pytest.fixture
def store() -> Iterator[Store]:
    served = Store(origin="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    served.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def store_allowed(browser_page: BrowserPage, store: Store) -> Store:
    """The demo program lets the store's origin call it (CORS), as a store would set it up."""
    answer = httpx.post(
        browser_page.server.graphql_url,
        json={
            "query": "mutation($input: UpdateProgramSettingsInput!) {"
            " updateProgramSettings(input: $input) { userErrors { code } } }",
            "variables": {"input": {"programSlug": "demo", "corsOrigins": [store.origin]}},
        },
        headers=browser_page.server.admin_headers,
    ).json()
    assert answer["data"]["updateProgramSettings"]["userErrors"] == []
    return store


def test_a_hostile_store_stylesheet_does_not_reach_inside(
    browser_page: BrowserPage, store_allowed: Store
) -> None:
    page = browser_page.page
    store_allowed.page = store_page(browser_page.server, css=HOSTILE_CSS)
    page.goto(f"{store_allowed.origin}/account")
    widget = page.locator("laurel-rewards")
    redeem = section(widget, "rewards").get_by_role("button").first
    heading = section(widget, "balance").locator("h3")
    expect(heading).to_have_text("Your points", timeout=WAIT_MS)
    expect(heading).to_be_visible()
    expect(redeem).to_be_visible()
    styles = page.evaluate(
        """() => {
          const root = document.querySelector('laurel-rewards').shadowRoot;
          const of = (el) => getComputedStyle(el);
          const button = root.querySelector('[data-section="rewards"] button');
          const panel = root.querySelector('.panel');
          return {
            buttonBackground: of(button).backgroundColor,
            buttonDisplay: of(button).display,
            buttonVisibility: of(button).visibility,
            panelFont: parseFloat(of(panel).fontSize),
            panelColor: of(panel).color,
            hostDisplay: of(document.querySelector('laurel-rewards')).display,
          };
        }"""
    )
    assert styles == {
        "buttonBackground": "rgb(47, 93, 80)",
        # A flex item: blockified, as without the store's stylesheet
        "buttonDisplay": "block",
        "buttonVisibility": "visible",
        "panelFont": 15.0,
        "panelColor": "rgb(29, 36, 33)",
        "hostDisplay": "block",
    }
    browser_page.screenshot("hostile-store")


def test_no_request_leaves_the_configured_origin_and_documents_are_persisted(
    browser_page: BrowserPage, store_allowed: Store
) -> None:
    page = browser_page.page
    server = browser_page.server
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    store_allowed.page = store_page(server, locale="sv-SE")
    page.goto(f"{store_allowed.origin}/account")
    widget = page.locator("laurel-rewards")
    expect(section(widget, "balance").locator("h3")).to_have_text("Dina poäng", timeout=WAIT_MS)
    page.reload()
    expect(section(widget, "balance").locator("h3")).to_have_text("Dina poäng", timeout=WAIT_MS)
    laurel = urlsplit(server.url)
    origins = {f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" for r in requests}
    assert origins == {store_allowed.origin, f"{laurel.scheme}://{laurel.netloc}"}
    api_calls = [r for r in requests if r.url.startswith(server.url) and r.method == "POST"]
    assert {r.url for r in api_calls} == {server.graphql_url}
    bodies = [json.loads(r.post_data or "{}") for r in api_calls]
    assert all(b["extensions"]["persistedQuery"]["sha256Hash"] for b in bodies)
    assert all(b["operationName"] == "LaurelWidgetMember" for b in bodies)
    # After the first exchange Laurel knows the document: its hash alone is enough
    assert "query" not in bodies[-1]
    assert {r.headers.get("accept-language") for r in api_calls} == {"sv-SE"}
