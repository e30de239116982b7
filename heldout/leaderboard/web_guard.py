"""No foreign web page may act for a signed-in visitor (cross-site request forgery).

gradio 6.31's own CORS middleware answers any Origin, with credentials, whenever the
Host is not localhost (as on `*.hf.space`), and its session cookie is SameSite=None:
a page on any site could call `/gradio_api/...` with a reviewer's cookie and read the
answer. `OriginGuard` runs before gradio and refuses, with 403 and no CORS header:

- any request whose `Origin` is not the board's own (the request's Host, the Space's
  `SPACE_HOST`, or `leaderboard.public_url`), preflights included;
- any request a browser marks as coming from another site (`Sec-Fetch-Site`), except a
  plain navigation (a link, the OAuth provider sending the visitor back).

Requests with neither header (gradio_client in Python, curl, the Hub's webhooks) carry
no visitor's cookie by accident and pass. `mount` also installs Starlette's own
`CORSMiddleware` with no allowed origin, which makes gradio step aside
(`CustomCORSMiddleware.parent_configures_cors`), so no answer ever grants CORS.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

REFUSED = "Cross-site requests are refused: use the leaderboard's own page."
SAFE_METHODS = ("GET", "HEAD")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _site(scheme: str, netloc: str) -> tuple[str, int] | None:
    """(host, port) of an origin or a Host header, with the scheme's default port."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.lower(), port


def origin_site(origin: str) -> tuple[str, int] | None:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        return None
    return _site(parts.scheme, parts.netloc)


def public_origins(public_url: str = "", environ: dict[str, str] | None = None) -> frozenset:
    """The board's public addresses: `leaderboard.public_url` and the Space's hosts."""
    env = os.environ if environ is None else environ
    found = set()
    if public_url and (site := origin_site(public_url.rstrip("/"))):
        found.add(site)
    for host in env.get("SPACE_HOST", "").split(","):
        if host.strip() and (site := _site("https", host.strip())):
            found.add(site)
    return frozenset(found)


def same_origin(origin: str, host: str | None, public: Iterable[Any]) -> bool:
    """Is `origin` this board: the address the request was sent to, or a public one?"""
    site = origin_site(origin)
    if site is None:  # "null" (sandboxed frames, file: pages) or garbage
        return False
    if site in public:
        return True
    if host is None:
        return False
    # Behind a TLS proxy the board sees http while the page is https: compare host and
    # port, with either scheme's default port.
    return site in {_site("http", host), _site("https", host)}


def allowed(headers: Headers, method: str, public: Iterable[Any]) -> bool:
    origin = headers.get("origin")
    if origin is not None:
        return same_origin(origin, headers.get("host"), public)
    site = headers.get("sec-fetch-site")
    if site in (None, "same-origin", "none"):
        return True
    # A link or a redirect from another site may open a page, never call the API.
    return method in SAFE_METHODS and headers.get("sec-fetch-mode") == "navigate"


class OriginGuard:
    """Pure ASGI middleware: refuse cross-site requests before anything else runs."""

    def __init__(self, app: Any, public: frozenset = frozenset()) -> None:
        self.app = app
        self.public = public

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if allowed(headers, scope.get("method", "GET"), self.public):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
