"""The Starlette app: Hub API and file routes, the OpenID provider, and admin routes.

Every Hub request goes through `HubDispatcher`: count it by endpoint name, maybe inject
a fault or a delay (before anything else happens, as a flaky network would), identify
the caller, then run the endpoint. The admin routes (`/_emulator/*`) and the OpenID
routes are never counted, faulted or slowed, so tests can always reach them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heldout.hub_emulator import access_requests, routes_files, routes_optional, routes_repo
from heldout.hub_emulator.auth import Access
from heldout.hub_emulator.counters import Counters
from heldout.hub_emulator.errors import BadRequest, HubError, NotFound
from heldout.hub_emulator.faults import CommitQuota, Faults
from heldout.hub_emulator.hub_paths import match
from heldout.hub_emulator.oidc import OidcProvider
from heldout.hub_emulator.oidc_routes import oidc_routes
from heldout.hub_emulator.responses import error_response, json_response
from heldout.hub_emulator.routes_lfs import HANDLERS as LFS_HANDLERS
from heldout.hub_emulator.routes_xet import HANDLERS as XET_HANDLERS
from heldout.hub_emulator.routes_xet import cas_routes
from heldout.hub_emulator.services import Call, Services
from heldout.hub_emulator.settings import EmulatorSettings
from heldout.hub_emulator.state import HubState
from heldout.hub_emulator.webhooks import install as install_webhooks

Handler = Callable[[Call], Awaitable[Response]]


async def _unsupported(call: Call) -> Response:
    raise NotFound(f"{call.request.url.path} is not emulated by the local Hub")


HANDLERS: dict[str, Handler] = {
    "whoami": routes_repo.whoami,
    "create_repo": routes_repo.create_repo,
    "delete_repo": routes_repo.delete_repo,
    "validate_yaml": routes_repo.validate_yaml,
    "repo_info": routes_repo.repo_info,
    "refs": routes_repo.refs,
    "commits": routes_repo.commits,
    "repo_settings": routes_repo.repo_settings,
    "space_secrets": routes_repo.space_secrets,
    "space_variables": routes_repo.space_variables,
    "space_runtime": routes_repo.space_runtime,
    "space_restart": routes_repo.space_restart,
    "tree": routes_files.tree,
    "paths_info": routes_optional.paths_info,
    "preupload": routes_files.preupload,
    "commit": routes_files.commit,
    "resolve": routes_files.resolve,
    "unsupported": _unsupported,
    **XET_HANDLERS,
    **LFS_HANDLERS,
}


class HubDispatcher:
    """Routes a Hub request by its raw path (see `hub_paths`) and applies faults and counts."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        head = request.method == "HEAD"
        raw_path = request.scope.get("raw_path") or quote(request.url.path).encode()
        try:
            route = match(request.method, raw_path)
        except HubError as error:
            self.services.counters.add("unknown")
            return error_response(error, head=head)
        if route is None:
            self.services.counters.add("unknown")
            return error_response(NotFound("Not Found"), head=head)
        self.services.counters.add(route.endpoint)
        fault = self.services.faults.injected()
        if fault is not None:
            return error_response(fault, head=head)
        delay = self.services.faults.delay()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            caller = self.services.access.caller(request.headers.get("authorization"))
            return await HANDLERS[route.endpoint](Call(request, route, caller, self.services))
        except HubError as error:
            return error_response(error, head=head)


def admin_routes(services: Services) -> list[Route]:
    async def counters(request: Request) -> Response:
        return json_response(services.counters.snapshot())

    async def reset_counters(request: Request) -> Response:
        services.counters.reset()
        return json_response({})

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = await request.json()
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                services.settings.update(changes)
            except ValueError as error:
                return error_response(BadRequest(str(error)))
        live = services.settings
        return json_response(
            {
                "fault_rate": live.fault_rate,
                "lost_reply_rate": live.lost_reply_rate,
                "slow_rate": live.slow_rate,
                "slow_seconds": live.slow_seconds,
                "commit_quota_per_hour": live.commit_quota_per_hour,
                "page_size": live.page_size,
            }
        )

    async def space_values(request: Request) -> Response:
        repo_id = f"{request.path_params['ns']}/{request.path_params['name']}"
        repo = services.state.repo("space", repo_id)
        if repo is None:
            return error_response(NotFound(f"No Space {repo_id}"))
        kind = request.path_params["kind"]
        if kind == "secrets":
            return json_response({"keys": sorted(repo.secrets)})
        if kind != "variables":
            return error_response(NotFound(f"No admin view {kind!r}"))
        return json_response({key: value["value"] for key, value in sorted(repo.variables.items())})

    async def health(request: Request) -> Response:
        return json_response({"ok": True})

    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/counters", counters, methods=["GET"]),
        Route("/_emulator/counters/reset", reset_counters, methods=["POST"]),
        Route("/_emulator/settings", settings, methods=["GET", "POST"]),
        Route("/_emulator/spaces/{ns}/{name}/{kind:str}", space_values, methods=["GET"]),
    ]


def create_app(settings: EmulatorSettings | None = None) -> Starlette:
    """The emulator as an ASGI app; `app.state.services` holds its live parts."""
    settings = settings if settings is not None else EmulatorSettings()
    state = HubState(settings.data_dir, seed=settings.seed)
    access = Access(settings, state.token_user)
    services = Services(
        settings=settings,
        state=state,
        access=access,
        counters=Counters(),
        faults=Faults(settings),
        quota=CommitQuota(settings),
    )
    dispatcher = HubDispatcher(services)
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
    routes = [
        *admin_routes(services),
        *oidc_routes(OidcProvider(settings, state), access),
        *cas_routes(services),
        *access_requests.routes(services, dispatcher.handle),
        Route("/{path:path}", dispatcher.handle, methods=methods),
    ]
    app = Starlette(routes=routes)
    app.state.services = services
    install_webhooks(app, services)  # the webhooks API, and deliveries after each commit
    return app
