"""Event calls may name uploaded files, never links: gradio would download a link itself.

An API caller can put `{"path": "https://…"}` where a file belongs. gradio 6.31 then
downloads it into its cache before any handler runs (`processing_utils.
async_ssrf_protected_download`: private addresses are refused, but there is no size
limit and no sign-in), which would bypass `uploads.UploadGate`. This gate reads the
small JSON body of `POST …/gradio_api/call/<name>` and `…/queue/join` (refusing bodies
over `MAX_BODY`), refuses any file whose `path` is an http(s) address, and hands the
body on unchanged otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import PlainTextResponse

from heldout.leaderboard.uploads import read_body, replay

MAX_BODY = 256 * 1024  # a model name, a description and a file reference fit many times
NO_LINKS = "Files must be uploaded to the board, not linked."


def is_event_call(path: str, method: str) -> bool:
    return method == "POST" and ("/gradio_api/call/" in path or path.endswith("/queue/join"))


def links_a_file(value: Any, depth: int = 0) -> bool:
    """Does any object in the JSON name an http(s) address as its `path`?

    (Its `url` is where the page may fetch the file back from: gradio's own page sets
    it to this server, and gradio does not download from it for an input.)"""
    if depth > 32:
        return True  # no honest payload nests this deep
    if isinstance(value, dict):
        text = value.get("path")
        if isinstance(text, str) and text.strip().lower().startswith(("http:", "https:")):
            return True
        return any(links_a_file(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(links_a_file(v, depth + 1) for v in value)
    return False


async def check_event_call(scope: Any, receive: Any, send: Any, app: Any) -> None:
    async def answer(status: int, text: str) -> None:
        await PlainTextResponse(text, status)(scope, receive, send)

    body = await read_body(receive, MAX_BODY)
    if body is None:
        await answer(413, "The request is too large.")
        return
    try:
        payload = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):
        payload = None  # gradio answers malformed JSON itself
    if links_a_file(payload):
        await answer(400, NO_LINKS)
        return
    await app(scope, replay(body, receive), send)


class PayloadGuard:
    """Pure ASGI middleware running `check_event_call` on gradio's event calls."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_event_call(scope["path"], scope["method"]):
            await check_event_call(scope, receive, send, self.app)
        else:
            await self.app(scope, receive, send)
