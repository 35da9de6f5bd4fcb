"""The admin console: a page served by Laurel itself, a client of its own GraphQL API.

The page is static: ES modules in ``static/console/`` (the console's own code in ``js/``, the
pinned third-party modules in ``vendor/`` with their licences, see ``vendor/LICENSES.md``),
loaded as they are, with no build step. It signs in with an admin key that it keeps in the
tab's sessionStorage and sends only in the Authorization header of its GraphQL requests: never
in a URL, so never in an access log. What a key may do is decided by the API (staff roles,
app/domain/roles.py), not by this page. Why this stack: docs/decisions/0004-admin-console.md.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "console"
STATIC_MOUNT_PATH = "/static/console"
PAGE_PATH = "/console"

# Bare module specifiers used by the vendored modules (preact/hooks imports "preact").
IMPORTS = {
    "preact": "vendor/preact.module.js",
    "preact/hooks": "vendor/hooks.module.js",
    "htm": "vendor/htm.module.js",
    "uplot": "vendor/uPlot.esm.js",
}
STYLESHEETS = ("vendor/uPlot.min.css", "console.css")
ENTRY = "js/app.js"


def _content_security_policy(nonce: str) -> str:
    directives = (
        "default-src 'none'",
        # The import map is the one inline script; everything else is a file of this origin.
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
    return "; ".join(directives)


def _import_map(static_prefix: str) -> str:
    mapping = {"imports": {name: static_prefix + path for name, path in IMPORTS.items()}}
    return json.dumps(mapping).replace("<", "\\u003c")


def _render_page(*, static_prefix: str, graphql_path: str, nonce: str) -> str:
    prefix = html.escape(static_prefix)
    links = "\n".join(f'    <link rel="stylesheet" href="{prefix}{name}">' for name in STYLESHEETS)
    return f"""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Laurel · Console</title>
    <link rel="icon" href="data:,">
{links}
    <script type="importmap" nonce="{nonce}">{_import_map(static_prefix)}</script>
    <link rel="modulepreload" href="{prefix}vendor/preact.module.js">
    <link rel="modulepreload" href="{prefix}{ENTRY}">
  </head>
  <body>
    <div id="console" data-graphql-path="{html.escape(graphql_path)}">
      <noscript>The Laurel console needs JavaScript.</noscript>
    </div>
    <script type="module" src="{prefix}{ENTRY}"></script>
  </body>
</html>
"""


def console_routes(graphql_path: str = "/graphql") -> list[BaseRoute]:
    """Return the ``/console`` page route and the mount serving its files.

    ``graphql_path`` is where the page sends its requests: on the same origin, because the
    page's CSP allows ``connect-src 'self'`` only.
    """
    if not graphql_path.startswith("/") or graphql_path.startswith("//"):
        raise ValueError(f"graphql_path must be a same-origin absolute path, got {graphql_path!r}")

    async def console_page(request: Request) -> Response:
        static_prefix = f"{request.scope.get('root_path', '')}{STATIC_MOUNT_PATH}/"
        nonce = secrets.token_urlsafe(18)
        page = _render_page(static_prefix=static_prefix, graphql_path=graphql_path, nonce=nonce)
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": _content_security_policy(nonce),
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return [
        Route(PAGE_PATH, console_page, methods=["GET"], name="console"),
        Mount(STATIC_MOUNT_PATH, app=StaticFiles(directory=STATIC_DIR), name="console-static"),
    ]
