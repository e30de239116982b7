"""What a request handler is given: the emulator's parts, and the request resolved."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from heldout.hub_emulator.auth import Access, Caller
from heldout.hub_emulator.counters import Counters
from heldout.hub_emulator.errors import BadRequest
from heldout.hub_emulator.faults import CommitQuota, Faults
from heldout.hub_emulator.hub_paths import HubRoute
from heldout.hub_emulator.repos import Repo
from heldout.hub_emulator.settings import EmulatorSettings
from heldout.hub_emulator.state import HubState
from heldout.hub_emulator.xet_tokens import XetTokens


@dataclass
class Services:
    """One emulator's live parts, shared by every route."""

    settings: EmulatorSettings
    state: HubState
    access: Access
    counters: Counters
    faults: Faults
    quota: CommitQuota
    xet_tokens: XetTokens = field(default_factory=XetTokens)


@dataclass
class Call:
    """One Hub API request: who asks, for which endpoint, repo, revision and path."""

    request: Request
    route: HubRoute
    caller: Caller
    services: Services

    @property
    def state(self) -> HubState:
        return self.services.state

    def repo_for_read(self) -> Repo:
        """The repo named by the route, if the caller may read it; else the Hub's refusal."""
        assert self.route.repo_type is not None and self.route.repo_id is not None
        repo = self.state.repo(self.route.repo_type, self.route.repo_id)
        self.services.access.check_read(
            self.caller, self.route.repo_id, None if repo is None else repo.private
        )
        assert repo is not None
        return repo

    def repo_for_write(self) -> Repo:
        assert self.route.repo_type is not None and self.route.repo_id is not None
        repo = self.state.repo(self.route.repo_type, self.route.repo_id)
        self.services.access.check_write(
            self.caller, self.route.repo_id, None if repo is None else repo.private
        )
        assert repo is not None
        return repo

    async def json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(await self.request.body() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BadRequest(f"Invalid JSON body: {error}") from error
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object")
        return data
