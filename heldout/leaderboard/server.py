"""Serving the app: gradio mounted on a FastAPI app, run by uvicorn.

`Blocks.launch()` is not used: in Space mode (which the real OAuth flow needs, see
`oauth_env`) it starts a hot-reload watcher that requires the `spaces` package, and it
carries share-tunnel and analytics machinery a public benchmark has no use for.
`mount_gradio_app` takes the same safety settings (`max_file_size`, `show_error`,
`ssr_mode`, `run_history`) and leaves the server to us.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import fastapi
import gradio as gr
import uvicorn
from starlette.middleware.cors import CORSMiddleware

from heldout.config import Config
from heldout.leaderboard import sessions
from heldout.leaderboard.payloads import PayloadGuard
from heldout.leaderboard.uploads import UploadGate
from heldout.leaderboard.web_guard import OriginGuard, public_origins

log = logging.getLogger(__name__)

THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
#board-caption p, #quota p { margin: 0; }
.refusal p { font-weight: 600; }
"""


# The page may talk to this server only. In Space mode gradio's frontend fetches
# huggingface.co/api/spaces/<id>, avatars and Google Fonts to draw a "Space header";
# locally that would leave 127.0.0.1, and on a public board it is not wanted either.
# The policy also limits what injected markup could load or send anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # gradio's page inlines its config, and its frontend needs eval (checked: it does
        # not load without it).
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware (safe with streamed responses) adding `SECURITY_HEADERS`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount(blocks: gr.Blocks, config: Config) -> fastapi.FastAPI:
    """The ASGI app: uploads above the limit get 413 before any handler runs."""
    app = fastapi.FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # No CORS grant to any origin; its presence also makes gradio's own CORS middleware,
    # which would grant any Origin with credentials off localhost, step aside.
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(PayloadGuard)  # event calls name uploads, never links to download
    app.add_middleware(OriginGuard, public=public_origins(config.leaderboard.public_url))
    app.add_middleware(SecurityHeaders)
    # gradio checks that a file named in a request was uploaded by a visitor only for
    # Blocks it considers launched (processing_utils._check_allowed), and
    # mount_gradio_app never marks them so: without this, an API caller could name any
    # file on the server. (The Submit handler checks the upload folder again itself.)
    blocks.has_launched = True
    mounted = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        max_file_size=config.limits.max_file_bytes,
        show_error=False,  # no stack traces or server paths reach a visitor
        ssr_mode=False,  # no node server
        run_history=False,  # nothing recorded, no Hub buckets
        footer_links=["api", "settings"],
        mcp_server=False,
        pwa=False,
        theme=THEME,
        css=CSS,
    )
    sessions.install(gradio_app(mounted), sessions.Sessions(), UploadGate(config.limits))
    return mounted


def gradio_app(parent: fastapi.FastAPI) -> Any:
    """The app `mount_gradio_app` mounted on `parent` (gradio 6.31: a Mount at "/")."""
    from gradio.routes import App

    found = [r.app for r in parent.routes if isinstance(getattr(r, "app", None), App)]
    if len(found) != 1:
        raise RuntimeError("the gradio app was not found where it was mounted")
    return found[0]


def serve(blocks: gr.Blocks, config: Config, host: str, port: int) -> None:
    """Serve until interrupted."""
    app = mount(blocks, config)
    print(f"heldout leaderboard: http://{host}:{port}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


class BackgroundServer:
    """The app on a thread, for benchmarks and in-process checks; `stop()` ends it."""

    def __init__(self, blocks: gr.Blocks, config: Config, host: str = "127.0.0.1", port: int = 0):
        app = mount(blocks, config)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.host = host

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the leaderboard server did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        sockets: list[Any] = [s for srv in self._server.servers for s in srv.sockets]
        port = sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
