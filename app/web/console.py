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
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.web.page_shell import html_document, mounted_path, page_response, same_origin_path

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


def _import_map(static_prefix: str) -> str:
    mapping = {"imports": {name: static_prefix + path for name, path in IMPORTS.items()}}
    return json.dumps(mapping).replace("<", "\\u003c")


def _render_page(*, static_prefix: str, graphql_path: str, nonce: str) -> str:
    prefix = html.escape(static_prefix)
    links = "\n".join(f'    <link rel="stylesheet" href="{prefix}{name}">' for name in STYLESHEETS)
    return html_document(
        title="Console",
        no_referrer_meta=True,
        head=f"""\
{links}
    <script type="importmap" nonce="{nonce}">{_import_map(static_prefix)}</script>
    <link rel="modulepreload" href="{prefix}vendor/preact.module.js">
    <link rel="modulepreload" href="{prefix}{ENTRY}">""",
        body=f"""\
    <div id="console" data-graphql-path="{html.escape(graphql_path)}">
      <noscript>The Laurel console needs JavaScript.</noscript>
    </div>
    <script type="module" src="{prefix}{ENTRY}"></script>""",
    )


def console_routes(graphql_path: str = "/graphql") -> list[BaseRoute]:
    """Return the ``/console`` page route and the mount serving its files.

    ``graphql_path`` is where the page sends its requests: on the same origin, because the
    page's CSP allows ``connect-src 'self'`` only.
    """
    same_origin_path(graphql_path)

    async def console_page(request: Request) -> Response:
        static_prefix = mounted_path(request, f"{STATIC_MOUNT_PATH}/")
        # The import map is the one inline script; everything else is a file of this origin.
        return page_response(
            lambda nonce: _render_page(
                static_prefix=static_prefix, graphql_path=graphql_path, nonce=nonce
            ),
            nonce_styles=False,
        )

    return [
        Route(PAGE_PATH, console_page, methods=["GET"], name="console"),
        Mount(STATIC_MOUNT_PATH, app=StaticFiles(directory=STATIC_DIR), name="console-static"),
    ]
