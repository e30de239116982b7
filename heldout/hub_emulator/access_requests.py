"""The Hub's gated-repo access requests: gate a repo, ask for access, list and decide.

What `huggingface_hub` calls (`list_pending/accepted/rejected_access_requests`,
`accept/reject/cancel_access_request`, `grant_access`, `update_repo_settings(gated=…)`)
plus the form a person submits on a gated repo's page to ask for access. Only the
repo's writers may list or decide. Kept in memory: a restarted emulator forgets them.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heldout.hub_emulator.errors import BadRequest, HubError, NotFound
from heldout.hub_emulator.repos import iso
from heldout.hub_emulator.responses import error_response, json_response
from heldout.hub_emulator.services import Services

KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
STATUSES = ("pending", "accepted", "rejected")


@dataclass
class Request_:
    user: str
    status: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    timestamp: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {
            "user": {"user": self.user, "fullname": self.user, "email": None},
            "requestId": self.request_id,
            "status": self.status,
            "timestamp": iso(self.timestamp),
            "fields": {},
        }


@dataclass
class Gates:
    """Which repos are gated (`auto` or `manual`), and the requests made to each."""

    modes: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: dict[tuple[str, str], dict[str, Request_]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def routes(services: Services, passthrough: Any) -> list[Route]:
    """Starlette routes; `passthrough` serves a settings change after the gate is noted."""
    gates = Gates()

    def repo_of(request: Request, write: bool) -> tuple[str, str]:
        kind = KINDS.get(request.path_params["kind"])
        if kind is None:
            raise NotFound("Not Found")
        repo_id = f"{request.path_params['ns']}/{request.path_params['name']}"
        caller = services.access.caller(request.headers.get("authorization"))
        repo = services.state.repo(kind, repo_id)
        private = None if repo is None else repo.private
        if write:
            services.access.check_write(caller, repo_id, private)
        else:
            services.access.check_read(caller, repo_id, private)
        return kind, repo_id

    def gated(key: tuple[str, str]) -> str:
        mode = gates.modes.get(key)
        if not mode:
            raise BadRequest("This repository is not gated")
        return mode

    def handler(work: Any) -> Any:
        async def run(request: Request) -> Response:
            services.counters.add("access_requests")
            try:
                return await work(request)
            except HubError as error:
                return error_response(error)

        return run

    async def settings(request: Request) -> Response:
        try:
            body = await request.json()  # cached by Starlette for the handler that follows
        except ValueError:
            body = None  # the Hub's own handler answers a bad body
        if isinstance(body, dict) and "gated" in body:
            key = repo_of(request, write=True)
            mode = body["gated"]
            if mode not in (False, "auto", "manual"):
                raise BadRequest("gated must be false, 'auto' or 'manual'")
            with gates.lock:
                gates.modes[key] = mode or ""
        return await passthrough(request)

    async def listing(request: Request) -> Response:
        key = repo_of(request, write=True)
        status = request.path_params["status"]
        if status not in STATUSES:
            raise NotFound("Not Found")
        gated(key)
        with gates.lock:
            found = [
                r.as_json() for r in gates.requests.get(key, {}).values() if r.status == status
            ]
        return json_response(found)

    async def decide(request: Request) -> Response:
        key = repo_of(request, write=True)
        gated(key)
        body = await request.json()
        status = body.get("status")
        if status not in STATUSES:
            raise BadRequest("status must be pending, accepted or rejected")
        with gates.lock:
            asked = gates.requests.setdefault(key, {})
            match = [r for r in asked.values() if body.get("user") in (r.user,)]
            match += [r for r in asked.values() if r.request_id == body.get("requestId")]
            if not match:
                raise NotFound("This access request does not exist")
            match[0].status = status
        return json_response({})

    async def grant(request: Request) -> Response:
        key = repo_of(request, write=True)
        gated(key)
        user = (await request.json()).get("user")
        if not isinstance(user, str) or not user:
            raise BadRequest("user is required")
        with gates.lock:
            asked = gates.requests.setdefault(key, {})
            if user in asked and asked[user].status == "accepted":
                raise BadRequest("This user already has access to the repo")
            asked[user] = Request_(user, "accepted")
        return json_response({})

    async def ask(request: Request) -> Response:
        """The form on a gated repo's page: the signed-in caller asks for access."""
        key = repo_of(request, write=False)
        mode = gated(key)
        caller = services.access.caller(request.headers.get("authorization"))
        if caller.name is None:
            raise BadRequest("Sign in to request access")
        with gates.lock:
            asked = gates.requests.setdefault(key, {})
            if caller.name not in asked:
                asked[caller.name] = Request_(
                    caller.name, "accepted" if mode == "auto" else "pending"
                )
            status = asked[caller.name].status
        return json_response({"status": status})

    base = "/api/{kind}/{ns}/{name}"
    return [
        Route(f"{base}/settings", handler(settings), methods=["PUT"]),
        Route(f"{base}/user-access-request/handle", handler(decide), methods=["POST"]),
        Route(f"{base}/user-access-request/grant", handler(grant), methods=["POST"]),
        Route(f"{base}/user-access-request/{{status}}", handler(listing), methods=["GET"]),
        Route("/{kind}/{ns}/{name}/ask-access", handler(ask), methods=["POST"]),
    ]
