"""The `<laurel-rewards>` widget: one script a store embeds (static/widget/laurel-rewards.js),
the manifest of the documents it sends, and a demo page.

The script is the file as written with `__LAUREL_WIDGET__` filled in once per process: the
widget's GraphQL documents (static/widget/documents.graphql) with their SHA-256 ids, which it
sends as automatic persisted queries, and its words in every shipped language from Laurel's
message catalogues (app/services/messages/widget.py). It is served to any page (stores embed it
from their own origins), gzipped when the browser accepts it, with an ETag.

The demo page (`/widget/demo`, served where GraphiQL is, never in production unless asked) shows
the widget on a store-like page: it reads the publishable key and a member token from the URL
fragment (`#key=...&token=...`), which browsers never send to the server.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graphql import OperationDefinitionNode, parse, print_ast
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.services.documents.service import sha256_of
from app.services.messages.widget import all_widget_messages
from app.web.page_shell import html_document, mounted_path, page_response

WIDGET_DIR = Path(__file__).resolve().parent / "static" / "widget"
SCRIPT_PATH = "/widget/laurel-rewards.js"
MANIFEST_PATH = "/widget/laurel-rewards.manifest.json"
DEMO_PATH = "/widget/demo"
PLACEHOLDER = "/*__LAUREL_WIDGET__*/ null"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class WidgetDocument:
    name: str
    body: str

    @property
    def id(self) -> str:
        return sha256_of(self.body)


@cache
def widget_documents() -> tuple[WidgetDocument, ...]:
    """Each operation of documents.graphql as a document of its own, printed the one way."""
    parsed = parse((WIDGET_DIR / "documents.graphql").read_text())
    documents = []
    for definition in parsed.definitions:
        assert isinstance(definition, OperationDefinitionNode) and definition.name is not None
        documents.append(WidgetDocument(definition.name.value, print_ast(definition)))
    return tuple(documents)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@cache
def widget_script() -> Asset:
    config = {
        "documents": {d.name: {"id": d.id, "body": d.body} for d in widget_documents()},
        "messages": all_widget_messages(),
    }
    template = (WIDGET_DIR / "laurel-rewards.js").read_text()
    assert PLACEHOLDER in template
    encoded = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    body = template.replace(PLACEHOLDER, encoded).encode()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
    )


async def script(request: Request) -> Response:
    asset = widget_script()
    headers = {
        "Cache-Control": f"public, max-age={CACHE_SECONDS}",
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Stores load it from their own pages.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


async def manifest(request: Request) -> Response:
    """The widget's documents as an Apollo persisted-query manifest, for
    `registerTrustedDocuments` / `laurel documents register` (trusted-documents mode)."""
    return JSONResponse(
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                {"id": d.id, "name": d.name, "type": _kind(d.body), "body": d.body}
                for d in widget_documents()
            ],
        },
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )


def _kind(body: str) -> str:
    return "mutation" if body.lstrip().startswith("mutation") else "query"


_DEMO_CSS = """
body { margin: 0; font: 16px/1.5 Georgia, serif; background: #faf7f2; color: #222; }
header.shop { background: #222; color: #faf7f2; padding: 12px 20px; display: flex;
  justify-content: space-between; align-items: center; flex-wrap: wrap; gap: 8px; }
main { max-width: 960px; margin: 0 auto; padding: 20px; display: grid; gap: 20px; }
label { font: 14px system-ui, sans-serif; }
laurel-rewards { --laurel-accent: #7a3e2e; --laurel-radius: 14px; }
"""

_DEMO_JS = """
(() => {
  "use strict";
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (window.location.hash) {
    // Keep the key and the token out of bookmarks and shared links.
    history.replaceState(history.state, "", window.location.pathname + window.location.search);
  }
  const widget = document.querySelector("laurel-rewards");
  const language = document.getElementById("language");
  if (params.get("key")) widget.setAttribute("publishable-key", params.get("key"));
  if (params.get("program")) widget.setAttribute("program", params.get("program"));
  if (params.get("token")) widget.setAttribute("member-token", params.get("token"));
  const locale = params.get("locale") || "en";
  language.value = locale;
  widget.setAttribute("locale", locale);
  language.addEventListener("change", () => widget.setAttribute("locale", language.value));
})();
"""


def _demo_page(nonce: str, script_src: str) -> str:
    return html_document(
        title="rewards widget demo",
        head=f"""\
    <style nonce="{nonce}">{_DEMO_CSS}</style>
    <script src="{script_src}" defer></script>""",
        body=f"""\
    <header class="shop">
      <strong>Demo Store</strong>
      <label>Language / Språk / Limbă / Язык
        <select id="language">
          <option value="en">English</option>
          <option value="sv-SE">Svenska</option>
          <option value="ro-RO">Română</option>
          <option value="ru-RU">Русский</option>
        </select>
      </label>
    </header>
    <main>
      <laurel-rewards program="demo"></laurel-rewards>
    </main>
    <script nonce="{nonce}">{_DEMO_JS}</script>""",
    )


async def demo(request: Request) -> Response:
    script_src = mounted_path(request, SCRIPT_PATH)
    return page_response(lambda nonce: _demo_page(nonce, script_src), nonce_styles=True)


def widget_routes(*, demo_page: bool) -> list[BaseRoute]:
    """The script and its manifest (always: stores embed them), and the demo page if asked."""
    routes: list[BaseRoute] = [
        Route(SCRIPT_PATH, script, methods=["GET", "HEAD"], name="widget-script"),
        Route(MANIFEST_PATH, manifest, methods=["GET"], name="widget-manifest"),
    ]
    if demo_page:
        routes.append(Route(DEMO_PATH, demo, methods=["GET"], name="widget-demo"))
    return routes
