"""Hub webhooks: the `/api/settings/webhooks` API and delivery on every commit.

The API is the one `HfApi.create_webhook`, `list_webhooks`, `get_webhook`,
`update_webhook`, `enable_webhook`, `disable_webhook` and `delete_webhook` call; each
answer carries `{"webhook": {id, url, watched, domains, secret, disabled, job}}`
(a listing is a bare list). A webhook belongs to the user who created it.

After every successful commit (`POST .../commit/{rev}` answered 200), each enabled
webhook that watches the repo (by the repo itself, or its user or organisation) and the
`repo` domain gets a Hub-shaped payload (what `huggingface_hub.WebhookPayload` parses:
`event.scope = "repo.content"`, `repo`, `webhook`, `updatedRefs[].newSha`) in a POST
with the secret in `X-Webhook-Secret`. Deliveries run one at a time on a background
thread, so a slow receiver never slows a commit, and the last ones are kept per webhook
with their status: `GET /api/settings/webhooks/{id}/deliveries` (an emulator extension;
the Hub shows the same in its settings page).

Webhooks are kept in memory (and in `data_dir/webhooks.json` when set); deliveries are
not kept across restarts. Not emulated: discussion events, Job targets, retries.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heldout.hub_emulator.auth import Caller
from heldout.hub_emulator.errors import BadRequest, HubError, NotFound, Unauthorized
from heldout.hub_emulator.responses import error_response, json_response
from heldout.hub_emulator.services import Services
from heldout.hub_emulator.webhook_delivery import (
    CommitWatcher,
    Courier,
    Delivery,
    payload,
)

WATCH_TYPES = ("dataset", "model", "space", "user", "org")
DOMAINS = ("repo", "discussion")
KEEP_DELIVERIES = 50


@dataclass
class Webhook:
    id: str
    owner: str
    url: str
    watched: list[dict[str, str]]
    domains: list[str]
    secret: str | None = None
    disabled: bool = False
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=KEEP_DELIVERIES))

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "job": None,
            "watched": self.watched,
            "domains": self.domains,
            "secret": self.secret,
            "disabled": self.disabled,
        }

    def watches(self, repo_type: str, repo_id: str) -> bool:
        namespace = repo_id.split("/")[0]
        return "repo" in self.domains and any(
            (w["type"] == repo_type and w["name"] == repo_id)
            or (w["type"] in ("user", "org") and w["name"] == namespace)
            for w in self.watched
        )


def _watched(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequest("'watched' must be a non-empty list of {type, name}")
    items = []
    for item in value:
        if (
            not isinstance(item, dict)
            or item.get("type") not in WATCH_TYPES
            or not isinstance(item.get("name"), str)
            or not item["name"]
        ):
            raise BadRequest(f"Invalid watched item {str(item)[:80]!r}")
        items.append({"type": item["type"], "name": item["name"]})
    return items


def _domains(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not set(value) <= set(DOMAINS):
        raise BadRequest("'domains' must list some of 'repo', 'discussion'")
    return list(dict.fromkeys(value))


def _url(value: Any) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise BadRequest("'url' must be an http(s) URL")
    return value


class Webhooks:
    """The webhooks of one emulator, and the thread that delivers their payloads."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._hooks: dict[str, Webhook] = {}
        data_dir = services.settings.data_dir
        self._file: Path | None = data_dir / "webhooks.json" if data_dir else None
        if self._file is not None and self._file.exists():
            for raw in json.loads(self._file.read_text(encoding="utf-8")):
                self._hooks[raw["id"]] = Webhook(**raw)
        self.courier = Courier(self._record)

    # ------------------------------------------------------------------ API
    def _save(self) -> None:
        if self._file is None:
            return
        rows = [
            {k: v for k, v in asdict(h).items() if k != "deliveries"} for h in self._hooks.values()
        ]
        self._file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows), encoding="utf-8")
        tmp.replace(self._file)

    def _caller(self, request: Request) -> Caller:
        caller = self.services.access.caller(request.headers.get("authorization"))
        if caller.name is None:
            raise Unauthorized("You must be authenticated to manage webhooks.")
        return caller

    def _own(self, request: Request) -> tuple[Caller, Webhook]:
        caller = self._caller(request)
        hook = self._hooks.get(request.path_params["id"])
        if hook is None or hook.owner != caller.name:
            raise NotFound("Webhook not found")
        return caller, hook

    def _check_watchable(self, caller: Caller, watched: list[dict[str, str]]) -> None:
        for item in watched:
            if item["type"] in ("dataset", "model", "space"):
                repo = self.services.state.repo(item["type"], item["name"])
                self.services.access.check_read(
                    caller, item["name"], None if repo is None else repo.private
                )

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BadRequest(f"Invalid JSON body: {error}") from error
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object")
        if "jobSourceId" in data:
            raise BadRequest("Webhooks that start a Job are not emulated")
        return data

    async def collection(self, request: Request) -> Response:
        caller = self._caller(request)
        if request.method == "GET":
            with self._lock:
                mine = [h.public() for h in self._hooks.values() if h.owner == caller.name]
            return json_response(mine)
        body = await self._body(request)
        watched = _watched(body.get("watched"))
        self._check_watchable(caller, watched)
        secret = body.get("secret")
        if secret is not None and not isinstance(secret, str):
            raise BadRequest("'secret' must be a string")
        hook = Webhook(
            id=secrets.token_hex(12),
            owner=caller.name or "",
            url=_url(body.get("url")),
            watched=watched,
            domains=_domains(body.get("domains", list(DOMAINS))),
            secret=secret or None,
        )
        with self._lock:
            self._hooks[hook.id] = hook
            self._save()
        return json_response({"webhook": hook.public()})

    async def one(self, request: Request) -> Response:
        caller, hook = self._own(request)
        if request.method == "DELETE":
            with self._lock:
                self._hooks.pop(hook.id, None)
                self._save()
            return json_response({})
        if request.method == "POST":
            body = await self._body(request)
            watched = _watched(body.get("watched"))
            self._check_watchable(caller, watched)
            with self._lock:
                hook.watched = watched
                if "url" in body:
                    hook.url = _url(body["url"])
                if "domains" in body:
                    hook.domains = _domains(body["domains"])
                if "secret" in body:
                    hook.secret = str(body["secret"]) or None
                self._save()
        return json_response({"webhook": hook.public()})

    async def switch(self, request: Request) -> Response:
        _, hook = self._own(request)
        if request.path_params["action"] not in ("enable", "disable"):
            raise NotFound("Not Found")
        with self._lock:
            hook.disabled = request.path_params["action"] == "disable"
            self._save()
        return json_response({"webhook": hook.public()})

    async def deliveries(self, request: Request) -> Response:
        _, hook = self._own(request)
        with self._lock:
            rows = [{**asdict(d), "ok": d.ok} for d in reversed(hook.deliveries)]
        return json_response(rows)

    def routes(self) -> list[Route]:
        def guarded(handler: Any) -> Any:
            async def endpoint(request: Request) -> Response:
                try:
                    return await handler(request)
                except HubError as error:
                    return error_response(error)

            return endpoint

        base = "/api/settings/webhooks"
        return [
            Route(base, guarded(self.collection), methods=["GET", "POST"]),
            Route(f"{base}/{{id}}", guarded(self.one), methods=["GET", "POST", "DELETE"]),
            Route(f"{base}/{{id}}/deliveries", guarded(self.deliveries), methods=["GET"]),
            Route(f"{base}/{{id}}/{{action:str}}", guarded(self.switch), methods=["POST"]),
        ]

    # ------------------------------------------------------------- delivery
    def on_commit(self, repo_type: str, repo_id: str, new_sha: str, base: str) -> None:
        """Queue a payload for every enabled webhook watching this repo."""
        repo = self.services.state.repo(repo_type, repo_id)
        if repo is None:
            return
        commit = repo.by_oid.get(new_sha)
        old_sha = commit.parent if commit is not None else None
        with self._lock:
            targets = [
                h for h in self._hooks.values() if not h.disabled and h.watches(repo_type, repo_id)
            ]
        for hook in targets:
            body = payload(hook.id, repo_type, repo_id, repo.private, old_sha, new_sha, base)
            self.courier.send(hook, hook.url, hook.secret, body)

    def _record(self, hook: Webhook, delivery: Delivery) -> None:
        with self._lock:
            hook.deliveries.append(delivery)

    def stop(self) -> None:
        self.courier.stop()


def install(app: Starlette, services: Services) -> Webhooks:
    """Add the webhooks API and commit deliveries to an emulator app (before it starts)."""
    webhooks = Webhooks(services)
    for position, route in enumerate(webhooks.routes()):
        app.router.routes.insert(position, route)
    app.add_middleware(CommitWatcher, on_commit=webhooks.on_commit)
    app.state.webhooks = webhooks
    return webhooks
