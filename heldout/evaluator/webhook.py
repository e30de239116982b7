"""Hub webhooks wake the worker the moment the queue repo changes; polling stays the fallback.

This uses `huggingface_hub.WebhooksServer`, which checks the shared secret from the
`X-Webhook-Secret` header (401 when it is missing, 403 when it is wrong) and parses
the Hub's payload. It also gives a worker running as a Space the web page a Space
must serve. The secret is read from the environment variable that
`evaluator.webhook_secret_env` names, never from heldout.toml.

A webhook only shortens the wait: the worker still reads the head and decides for
itself whether to claim, so a forged or repeated call costs one cheap request.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

from huggingface_hub import WebhookPayload

from heldout.config import Config

log = logging.getLogger("heldout.evaluator.webhook")

PATH = "/webhooks/queue"


def webhook_secret(config: Config) -> str | None:
    """The secret, when the config names a variable and the environment sets it."""
    settings = config.evaluator
    if settings is None or not settings.webhook_secret_env:
        return None
    return os.environ.get(settings.webhook_secret_env) or None


def is_queue_change(payload: WebhookPayload, queue_repo: str | None) -> bool:
    """A content change of the queue repo (any repo when the queue is a local folder)."""
    if payload.repo.type != "dataset":
        return False
    return queue_repo is None or payload.repo.name == queue_repo


class WebhookServer:
    """Serve `POST /webhooks/queue`; each valid call for the queue repo runs `on_change`."""

    def __init__(
        self,
        secret: str,
        queue_repo: str | None,
        on_change: Callable[[str | None], None],
        *,
        host: str = "0.0.0.0",
        port: int = 7860,
    ) -> None:
        if not secret:
            raise ValueError("a webhook server needs a secret; an open endpoint is never served")
        self.secret = secret
        self.queue_repo = queue_repo
        self.on_change = on_change
        self.host = host
        self.port = port
        self.url: str | None = None
        self._ui: Any = None

    def start(self) -> str:
        """Launch in a background thread; returns the webhook's URL."""
        import gradio as gr
        from huggingface_hub import WebhooksServer

        with gr.Blocks(title="heldout evaluator") as ui:
            gr.Markdown(
                "# heldout evaluator\nThis worker scores submissions. Hub webhooks for the "
                f"queue repo go to `POST {PATH}`."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # WebhooksServer announces itself as experimental
            app = WebhooksServer(ui=ui, webhook_secret=self.secret)

        # FastAPI reads this annotation by name from the module's globals, so
        # WebhookPayload must be imported at module level.
        async def queue(payload: WebhookPayload) -> dict[str, Any]:
            if not is_queue_change(payload, self.queue_repo):
                return {"woken": False, "reason": "not the queue repo"}
            shas = [ref.newSha for ref in payload.updatedRefs or [] if ref.newSha]
            log.info("webhook: the queue changed (%s)", (shas[-1] if shas else "no sha")[:12])
            self.on_change(shas[-1] if shas else None)
            return {"woken": True}

        app.add_webhook(PATH.removeprefix("/webhooks/"))(queue)
        # share=False: the default would try to open a public tunnel over the internet.
        app.launch(
            share=False,
            server_name=self.host,
            server_port=self.port,
            prevent_thread_lock=True,
            quiet=True,
        )
        self._ui = ui
        self.url = f"{ui.local_url.rstrip('/')}{PATH}"
        log.info("webhook server listening on port %s", self.port)
        return self.url

    def stop(self) -> None:
        if self._ui is not None:
            self._ui.close()
            self._ui = None
