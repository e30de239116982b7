"""Delivering webhook payloads: their Hub shape, one background courier, commit watching.

`CommitWatcher` is ASGI middleware: after a commit request answered 200 it names the
repo and the new commit to a callback. `Courier` sends payloads one at a time on a
background thread (ended after a few idle seconds, so a stopped emulator leaves none)
and reports each `Delivery` with the receiver's status. `payload` is the body the Hub
sends for a push, the shape `huggingface_hub.WebhookPayload` parses.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from heldout.hub_emulator.errors import HubError
from heldout.hub_emulator.hub_paths import match
from heldout.hub_emulator.repos import iso
from heldout.hub_emulator.responses import fake_id

DELIVERY_TIMEOUT = 10.0
IDLE_SECONDS = 5.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


@dataclass
class Delivery:
    at: str
    event: str
    repo: str
    new_sha: str | None
    status: int | None  # the receiver's HTTP status; None when it could not be reached
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Courier:
    """Sends `(url, secret, payload)` in order; `record(key, delivery)` hears each outcome."""

    def __init__(self, record: Callable[[Any, Delivery], None]) -> None:
        self._record = record
        self._lock = threading.Lock()
        self._outbox: queue.Queue[tuple[Any, str, str | None, dict[str, Any]] | None] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None

    def send(self, key: Any, url: str, secret: str | None, body: dict[str, Any]) -> None:
        self._outbox.put((key, url, secret, body))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._deliver_forever, name="hub-webhooks", daemon=True
                )
                self._thread.start()

    def _deliver_forever(self) -> None:
        """Deliver in order; an idle thread ends itself, so a stopped emulator leaves none."""
        while True:
            try:
                item = self._outbox.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._outbox.empty():
                        self._thread = None
                        return
                continue
            if item is None:
                return
            self._deliver(*item)

    def _deliver(self, key: Any, url: str, secret: str | None, payload: dict[str, Any]) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "heldout-hub-emulator",
        }
        if secret:
            headers["X-Webhook-Secret"] = secret
        request = urllib.request.Request(
            url, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        status: int | None = None
        error: str | None = None
        try:
            with _DIRECT.open(request, timeout=DELIVERY_TIMEOUT) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status, error = (
                exc.code,
                exc.reason if isinstance(exc.reason, str) else None,
            )
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        new_sha = (payload.get("updatedRefs") or [{}])[0].get("newSha")
        when = iso(time.time())
        self._record(
            key,
            Delivery(when, "repo.content", payload["repo"]["name"], new_sha, status, error),
        )

    def stop(self) -> None:
        self._outbox.put(None)


def payload(
    hook_id: str,
    repo_type: str,
    repo_id: str,
    private: bool,
    old_sha: str | None,
    new_sha: str,
    base: str,
) -> dict[str, Any]:
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    return {
        "event": {"action": "update", "scope": "repo.content"},
        "repo": {
            "type": repo_type,
            "name": repo_id,
            "id": fake_id("repo", repo_type, repo_id),
            "private": private,
            "url": {
                "web": f"{base}/{prefix}{repo_id}",
                "api": f"{base}/api/{repo_type}s/{repo_id}",
            },
            "headSha": new_sha,
            "owner": {"id": fake_id("user", repo_id.split("/")[0])},
        },
        "webhook": {"id": hook_id, "version": 3},
        "updatedRefs": [{"ref": "refs/heads/main", "oldSha": old_sha, "newSha": new_sha}],
    }


class CommitWatcher:
    """ASGI middleware: after a commit answered 200, name the repo and its new commit."""

    def __init__(self, app: Any, on_commit: Callable[[str, str, str, str], None]) -> None:
        self.app = app
        self.on_commit = on_commit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST":
            raw = scope.get("raw_path") or quote(scope["path"]).encode()
            try:
                route = match("POST", raw)
            except HubError:
                route = None
        if route is None or route.endpoint != "commit":
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if status != 200 or route.repo_type is None or route.repo_id is None:
            return
        try:
            oid = json.loads(bytes(body))["commitOid"]
        except (ValueError, KeyError, TypeError):
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        base = f"{scope.get('scheme', 'http')}://{host}" if host else ""
        self.on_commit(route.repo_type, route.repo_id, oid, base)
