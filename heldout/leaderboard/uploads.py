"""The gate in front of gradio's `POST /gradio_api/upload`.

gradio takes up to 1,000 files per request from anyone, each up to `max_file_size`,
and keeps them for the `delete_cache` period: anonymous visitors could fill the disk.
Here an upload needs a signed-in session, and each account may upload at most
`limits.uploads_per_hour` files and `limits.upload_mb_per_hour` in any hour; all
uploads together stay under `limits.upload_folder_mb` while gradio keeps them.

The request body is read here first (it is at most the account's remaining allowance,
stated in Content-Length, which uvicorn enforces), its files are counted, and only then
is it handed to gradio, so a refused upload never reaches the disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

from heldout.config import LimitsConfig
from heldout.leaderboard.limiter import Allowance, Wait

SIGN_IN_TO_UPLOAD = "Please sign in with Hugging Face before uploading a file."
KEPT_SECONDS = 2 * 3600  # gradio deletes uploads older than an hour, once an hour (app.py)
_ALL = "*"


class UploadGate:
    def __init__(self, limits: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.files = Allowance(limits.uploads_per_hour, clock=clock)
        self.bytes = Allowance(limits.upload_bytes_per_hour, clock=clock)
        self.folder = Allowance(limits.upload_folder_bytes, window=KEPT_SECONDS, clock=clock)

    async def __call__(
        self, scope: Any, receive: Any, send: Any, app: Any, user: str | None
    ) -> None:
        async def answer(status: int, text: str, wait: Wait | None = None) -> None:
            headers = {"Retry-After": str(int(wait.seconds) + 1)} if wait else None
            await PlainTextResponse(text, status, headers=headers)(scope, receive, send)

        if user is None:
            await answer(401, SIGN_IN_TO_UPLOAD)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        boundary = _boundary(headers.get("content-type", ""))
        if not length.isdigit() or boundary is None:
            await answer(411, "An upload must be a form with a stated length.")
            return
        size = int(length)
        if size > self.limits.upload_bytes_per_hour:
            await answer(413, "The upload is larger than this board accepts.")
            return
        wait = self.bytes.take(user, size)
        if wait is not None:
            mb = self.limits.upload_bytes_per_hour / 2**20
            await answer(
                429,
                f"You have uploaded {mb:g} MB in the last hour; you may upload "
                f"again {wait.sentence()}.",
                wait,
            )
            return
        wait = self.folder.take(_ALL, size)
        if wait is not None:
            await answer(
                503, f"The board has no room for uploads now; try again {wait.sentence()}.", wait
            )
            return
        body = await read_body(receive, size)
        if body is None:
            return  # the client went away
        files = max(1, body.count(b"--" + boundary) - 1)  # the last delimiter closes the form
        wait = self.files.take(user, files)
        if wait is not None:
            await answer(
                429,
                f"You have uploaded {self.limits.uploads_per_hour} files in the last hour; "
                f"you may upload again {wait.sentence()}.",
                wait,
            )
            return
        await app(scope, replay(body, receive), send)


def _boundary(content_type: str) -> bytes | None:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1", "replace")
    return None


async def read_body(receive: Any, size: int) -> bytes | None:
    """The whole body, or None if the client left or sent more than `size` bytes."""
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > size:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Callable[[], Any]:
    """The body once, then the real channel (which reports the client leaving)."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
