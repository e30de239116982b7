"""Gated participation: only accounts accepted to a gated Hub dataset may submit.

`[limits] participants = "gated:NS/DATASET"` names a gated dataset. People ask for
access on its Hub page; the maintainers accept them there (or with
`HfApi.accept_access_request`). The leaderboard reads the accepted list with
`HfApi.list_accepted_access_requests` and keeps it for `ttl` seconds. A name not on it
triggers a fresh read at most every `miss_seconds`, so someone just accepted can submit
within seconds, while a stranger cannot make the app call the Hub on every click.
If the list cannot be read, submissions are refused (closed, not open, on failure).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from huggingface_hub import HfApi

from heldout.config import Config
from heldout.errors import NotAllowed

log = logging.getLogger(__name__)

HUB = "https://huggingface.co"


def gated_repo(config: Config) -> str | None:
    who = config.limits.participants
    return who.split(":", 1)[1] if who.startswith("gated:") else None


class Participants:
    def __init__(
        self,
        config: Config,
        ttl: float = 300.0,
        miss_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        repo = gated_repo(config)
        if repo is None:
            raise ValueError("participation is not gated in this config")
        self.repo = repo
        self.endpoint = (config.storage.endpoint or HUB).rstrip("/")
        self.api = HfApi(endpoint=config.storage.endpoint, token=config.storage.token())
        self.ttl, self.miss_seconds, self.clock = ttl, miss_seconds, clock
        self._accepted: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def request_url(self) -> str:
        return f"{self.endpoint}/datasets/{self.repo}"

    def _refusal(self) -> NotAllowed:
        return NotAllowed(
            "only registered participants may submit to this benchmark; request access at "
            f"{self.request_url} and submit once the maintainers have accepted it"
        )

    def check(self, user: str) -> None:
        """Returns if `user` was accepted; raises `NotAllowed` with the link otherwise."""
        with self._lock:
            age = self.clock() - self._read_at
            if user in self._accepted and age < self.ttl:
                return
            if age >= self.miss_seconds:
                self._read()
            if user not in self._accepted:
                raise self._refusal()

    def _read(self) -> None:
        try:
            found = self.api.list_accepted_access_requests(self.repo, repo_type="dataset")
            self._accepted = frozenset(r.username for r in found if r.username)
        except Exception:
            log.warning("could not read the accepted participants of %s", self.repo, exc_info=True)
            self._read_at = self.clock()
            raise NotAllowed(
                "the list of registered participants could not be checked just now; "
                "please try again in a minute"
            ) from None
        self._read_at = self.clock()
