"""The shapes of the Hub's answers: JSON bodies, errors with their headers, repo URLs."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from heldout.hub_emulator.errors import BadRequest, HubError, RepoExists


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def header_safe(text: str) -> str:
    """Header values must be latin-1 and one line; keep what the client can show."""
    return text.replace("\r", " ").replace("\n", " ").encode("ascii", "replace").decode()[:500]


def error_response(error: HubError, *, head: bool = False) -> Response:
    """The Hub's error: `{"error": ...}` with `X-Error-Code` and `X-Error-Message`."""
    headers = {"X-Error-Message": header_safe(error.message), **error.headers}
    if error.code is not None:
        headers["X-Error-Code"] = error.code
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, RepoExists):
        body["url"] = error.url
    if head:
        return Response(b"", status_code=error.status, headers=headers)
    return json_response(body, error.status, headers)


def base_url(request: Request) -> str:
    """The URL this server was reached at, which is what the Hub's answers point to."""
    return str(request.base_url).rstrip("/")


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def fake_id(*parts: str) -> str:
    """A stable 24-hex id, shaped like the Hub's Mongo ids (users, orgs, repos)."""
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()[:24]


def avatar_url(base: str, user: str) -> str:
    return f"{base}/avatars/{user}.svg"


def next_link(request: Request, **params: str) -> str:
    """A `Link: rel="next"` header for this URL with `params` replaced in its query.

    Built from the raw path, so encoded segments (`queue%2FPENDING`) stay as sent.
    """
    raw = request.scope.get("raw_path") or quote(request.url.path).encode()
    query = {**dict(request.query_params), **params}
    return f'<{base_url(request)}{raw.decode("latin-1")}?{urlencode(query)}>; rel="next"'


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused before it is read when it says it is over `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"The body is larger than {limit} bytes")
    data = await request.body()
    if len(data) > limit:
        raise BadRequest(f"The body is larger than {limit} bytes")
    return data
