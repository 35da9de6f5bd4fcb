"""GraphiQL IDE served from the app, with vendored assets instead of a CDN.

A closed network cannot reach a CDN, so Strawberry's built-in GraphiQL
page (which loads its scripts from a CDN) cannot be used there. The assets in
``static/graphiql/`` are copied from npm (see ``LICENSES.md`` there).
"""

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.web.page_shell import html_document, mounted_path, page_response, same_origin_path

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
STATIC_MOUNT_PATH = "/static/graphiql"
PAGE_PATH = "/graphiql"

STYLESHEETS = ("graphiql.min.css",)
# graphiql's UMD bundle reads the React and ReactDOM globals as soon as it is
# evaluated, so the order matters.
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")

# __GRAPHQL_PATH__ is replaced by a JSON string literal. The API key is only
# ever read from the URL fragment, which browsers never send to the server, so
# it does not end up in access logs.
_BOOTSTRAP_JS = """\
(() => {
  "use strict";
  const graphqlPath = __GRAPHQL_PATH__;

  // react-remove-scroll (used by GraphiQL's dialogs) injects a <style> element
  // and tags it with this global, so the CSP does not need 'unsafe-inline'.
  window.__webpack_nonce__ = document.currentScript.nonce;

  const key = new URLSearchParams(window.location.hash.slice(1)).get("key");
  if (key !== null) {
    // Keep the key out of bookmarks, shared links and screen shares.
    history.replaceState(
      history.state, "", window.location.pathname + window.location.search
    );
  }
  const headers = key
    ? JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2)
    : undefined;

  // GraphiQL persists tabs, history and favourites in localStorage, and the
  // history entries include the raw headers even with shouldPersistHeaders
  // off, which would leave the admin key on disk. So headers are stripped on
  // every write. On read, they are replaced with this page's headers, so that
  // restoring a tab or history entry does not silently drop the
  // Authorization header.
  const SCRUBBED = new Set([
    "graphiql:tabState", "graphiql:queries", "graphiql:favorites",
  ]);
  const rewriteEntries = (raw, rewrite) => {
    try {
      const state = JSON.parse(raw);
      for (const [name, value] of Object.entries(state)) {
        if (Array.isArray(value)) state[name] = value.map(rewrite);
      }
      return JSON.stringify(state);
    } catch {
      return raw;
    }
  };
  const storage = {
    getItem(name) {
      const raw = window.localStorage.getItem(name);
      if (raw === null || headers === undefined || !SCRUBBED.has(name)) {
        return raw;
      }
      return rewriteEntries(raw, (entry) => ({ ...entry, headers }));
    },
    setItem(name, value) {
      window.localStorage.setItem(
        name,
        SCRUBBED.has(name)
          ? rewriteEntries(value, ({ headers: _dropped, ...entry }) => entry)
          : value,
      );
    },
    removeItem(name) {
      window.localStorage.removeItem(name);
    },
    clear() {
      // Only GraphiQL's own keys: other pages on this origin may use storage.
      for (const name of Object.keys(window.localStorage)) {
        if (name.startsWith("graphiql:")) window.localStorage.removeItem(name);
      }
    },
    key(index) {
      return window.localStorage.key(index);
    },
    get length() {
      return window.localStorage.length;
    },
  };

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: graphqlPath }),
      headers,
      defaultHeaders: headers,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      // The toggle would write headers to localStorage, bypassing the scrubbing.
      showPersistHeadersSettings: false,
      storage,
    }),
  );
})();
"""

_PAGE_CSS = "html, body, #graphiql { height: 100%; margin: 0; }"


def _js_string(value: str) -> str:
    """Encode ``value`` as a JS string literal that is safe inside <script>."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _render_page(*, static_prefix: str, bootstrap_js: str, nonce: str) -> str:
    prefix = html.escape(static_prefix)
    links = "\n".join(f'    <link rel="stylesheet" href="{prefix}{name}">' for name in STYLESHEETS)
    scripts = "\n".join(f'    <script src="{prefix}{name}"></script>' for name in SCRIPTS)
    return html_document(
        title="GraphiQL",
        head=f"""\
{links}
    <style nonce="{nonce}">{_PAGE_CSS}</style>""",
        body=f"""\
    <div id="graphiql">Loading GraphiQL…</div>
{scripts}
    <script nonce="{nonce}">
{bootstrap_js}    </script>""",
    )


def graphiql_routes(graphql_path: str = "/graphql") -> list[BaseRoute]:
    """Return the ``/graphiql`` page route and the mount serving its assets.

    ``graphql_path`` is the path that the page POSTs queries to. It must be
    on the same origin, because the page's CSP only allows ``connect-src
    'self'``.
    """
    bootstrap_js = _BOOTSTRAP_JS.replace(
        "__GRAPHQL_PATH__", _js_string(same_origin_path(graphql_path))
    )

    async def graphiql_page(request: Request) -> Response:
        static_prefix = mounted_path(request, f"{STATIC_MOUNT_PATH}/")
        # graphiql.min.css inlines its fonts and a few images as data: URIs.
        return page_response(
            lambda nonce: _render_page(
                static_prefix=static_prefix, bootstrap_js=bootstrap_js, nonce=nonce
            ),
            nonce_styles=True,
            data_fonts=True,
        )

    return [
        Route(PAGE_PATH, graphiql_page, methods=["GET"], name="graphiql"),
        Mount(
            STATIC_MOUNT_PATH,
            app=StaticFiles(directory=STATIC_DIR),
            name="graphiql-static",
        ),
    ]
