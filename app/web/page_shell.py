"""The shell shared by the HTML pages Laurel serves itself: GraphiQL, the admin console and the
widget demo.

Each page differs in its head and body only. What they share is here, once, so a hardening of
one is a hardening of all: the document around the page's own markup, a fresh nonce per
response for its inline script (a fixed one would let injected markup reuse it), a strict
same-origin Content-Security-Policy, and headers that keep the page (and its nonce) out of
caches and its URL out of other sites' logs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse

# Every page is shown as it was rendered: the nonce must not be served again from a cache.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def same_origin_path(graphql_path: str) -> str:
    """`graphql_path` if it is an absolute path on this origin: the pages' CSP allows
    `connect-src 'self'` only, so an API elsewhere could not be reached anyway."""
    if not graphql_path.startswith("/") or graphql_path.startswith("//"):
        raise ValueError(f"graphql_path must be a same-origin absolute path, got {graphql_path!r}")
    return graphql_path


def mounted_path(request: Request, path: str) -> str:
    """`path` under the prefix of any Mount the page's routes sit under, so that the URLs of
    its files still point at the sibling routes there."""
    return f"{request.scope.get('root_path', '')}{path}"


def content_security_policy(nonce: str, *, nonce_styles: bool, data_fonts: bool = False) -> str:
    """Files of this origin only, plus the page's own inline script (and inline style when
    `nonce_styles`) carrying `nonce`; `data_fonts` for stylesheets that inline their fonts."""
    style_src = f"style-src 'self' 'nonce-{nonce}'" if nonce_styles else "style-src 'self'"
    font_src = ("font-src 'self' data:",) if data_fonts else ()
    directives = (
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        style_src,
        "img-src 'self' data:",
        *font_src,
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
    return "; ".join(directives)


def html_document(*, title: str, head: str, body: str, no_referrer_meta: bool = False) -> str:
    """A page: `head` and `body` are the page's own lines, already indented and escaped."""
    referrer = '    <meta name="referrer" content="no-referrer">\n' if no_referrer_meta else ""
    return f"""\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
{referrer}    <title>Laurel · {title}</title>
    <link rel="icon" href="data:,">
{head}
  </head>
  <body>
{body}
  </body>
</html>
"""


def page_response(
    render: Callable[[str], str], *, nonce_styles: bool, data_fonts: bool = False
) -> HTMLResponse:
    """The page `render` makes with a fresh nonce, under the policy that admits that nonce."""
    nonce = secrets.token_urlsafe(18)
    policy = content_security_policy(nonce, nonce_styles=nonce_styles, data_fonts=data_fonts)
    return HTMLResponse(render(nonce), headers={"Content-Security-Policy": policy, **_PAGE_HEADERS})
