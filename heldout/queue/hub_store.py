"""A `Store` on a Hugging Face Hub repo, through `huggingface_hub`.

The store is a thin facade over parts that each hold one concept:

- `hub_calls`: one attempt of each request (no retry, no cache);
- `hub_commit`: exactly-once commits, through lost replies (a nonce per commit);
- `hub_reads`: reads by content id and commit sha, `paths-info` or its fallback;
- `hub_errors`: the client's errors, translated into heldout's;
- `hub_client`: the process's shared HTTP client (timeout, request counting);
- `retry` and `governor`: the one retry policy, and the process-wide rate governor
  that every attempt asks for leave (so a 429 is waited out once per process).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

from heldout.errors import Conflict, HeldoutError, InvalidPath
from heldout.queue.governor import Group, governor
from heldout.queue.hub_calls import HubCalls
from heldout.queue.hub_client import ensure_client, use_http_timeout
from heldout.queue.hub_commit import MARKER, MARKER_FOLDER, CommitAttempts
from heldout.queue.hub_errors import translate
from heldout.queue.hub_reads import HubReads
from heldout.queue.retry import Allowance, RetryPolicy, http_status, is_transient, retry_after
from heldout.queue.store import (
    Operation,
    check_operations,
    validate_path,
    validate_prefix,
    validate_repo_id,
)

__all__ = ["MARKER", "MARKER_FOLDER", "HubStore", "use_http_timeout"]

T = TypeVar("T")

_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
_REPO_TYPES = ("dataset", "model", "space")


class HubStore:
    """The queue's storage on a Hub repo: compare-and-swap commits with safe retries."""

    def __init__(
        self,
        repo_id: str,
        *,
        token: str | None,
        endpoint: str | None = None,
        repo_type: str = "dataset",
        retry_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        cache_dir: str | Path | None = None,
        http_timeout: float | None = None,
    ) -> None:
        """Checks the repo id here, so a malformed one never reaches the network.

        `cache_dir` is accepted for compatibility and unused: content is cached in memory
        by content id and commit sha (see `hub_reads`).

        `http_timeout` bounds every request of this process's Hub client (see
        `use_http_timeout`); None leaves the client as it is."""
        self.repo_id = validate_repo_id(repo_id)
        if repo_type not in _REPO_TYPES:
            raise InvalidPath(f"repo type {repo_type!r} is not one of {', '.join(_REPO_TYPES)}")
        self.repo_type = repo_type
        self._token, self._endpoint = token, endpoint  # tests reopen a store with these
        self._calls = HubCalls(self.repo_id, repo_type, token, endpoint)
        self._retry = RetryPolicy(budget=retry_seconds, sleep=sleep, retry_after_waits=False)
        self._reads = HubReads(self._calls, self._run)
        if http_timeout is not None:
            use_http_timeout(http_timeout)
        else:
            ensure_client()  # every request is counted by the process's governor

    @classmethod
    def create(
        cls,
        repo_id: str,
        *,
        token: str | None,
        private: bool = True,
        endpoint: str | None = None,
        repo_type: str = "dataset",
        retry_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        cache_dir: str | Path | None = None,
    ) -> HubStore:
        """Create the repo unless it exists (private by default: it may hold answers), open it."""
        store = cls(
            repo_id,
            token=token,
            endpoint=endpoint,
            repo_type=repo_type,
            retry_seconds=retry_seconds,
            sleep=sleep,
            cache_dir=cache_dir,
        )
        store._run(lambda: store._calls.create_repo(private), f"create repo {store.repo_id}")
        return store

    def __repr__(self) -> str:  # never shows the token
        return f"HubStore({self.repo_id!r}, repo_type={self.repo_type!r})"

    # -- the Store protocol -------------------------------------------------------

    def head(self) -> str:
        """One request: the repo info, trimmed to the branch's sha."""
        return self._run(self._calls.head, f"read the head of {self.repo_id}")

    def list(self, prefix: str = "") -> list[str]:
        """One tree listing (paged by the Hub); `.heldout/` bookkeeping is left out."""
        prefix = validate_prefix(prefix)
        files = self._run(
            lambda: self._calls.tree(prefix, recursive=True),
            f"list {prefix or '/'} in {self.repo_id}",
        )
        return sorted(f.path for f in files if f.path.split("/")[0] != MARKER_FOLDER)

    def read(self, path: str, revision: str | None = None) -> bytes:
        """Reads by commit sha, so a cached file costs no request and is never stale."""
        validate_path(path)
        return self._reads.read(path, revision or self.head())

    def read_many(self, paths: list[str], revision: str) -> dict[str, bytes | None]:
        """One paths-info request for all; only content not seen before is downloaded.

        A transaction that lost a CAS race re-reads everything at the new head: this
        makes that a single request instead of one per file, so the window in which
        another writer can slip in stays short."""
        for path in paths:
            validate_path(path)
        return self._reads.read_many(paths, revision)

    def commits_last_hour(self) -> int:
        """Commits made to this repo in the last hour, by every process: the Hub's
        128 per hour is counted per repo, so this is what is left of it for all."""
        since = datetime.now(timezone.utc) - timedelta(hours=1)
        return self._run(
            lambda: self._calls.count_commits_after(since),
            f"count this hour's commits to {self.repo_id}",
        )

    def commit(self, operations: list[Operation], message: str, parent: str) -> str:
        """Exactly once, through lost replies: see `hub_commit`."""
        check_operations(operations)
        for op in operations:
            if op.path.split("/")[0] == MARKER_FOLDER:
                raise InvalidPath(f"path {op.path!r} is reserved for heldout's commit marker")
        if not isinstance(parent, str) or not _COMMIT_ID.match(parent):
            raise Conflict(f"parent {str(parent)[:80]!r} is not a commit id, so not the head")
        attempts = CommitAttempts(self._calls, operations, message or "heldout update", parent)
        landed = self._run(attempts.attempt, f"commit to {self.repo_id}", group="commit")
        self._reads.remember_commit(operations, landed)
        return landed

    # -- retries and errors -----------------------------------------------------------

    def _run(self, attempt: Callable[[], T], what: str, group: Group = "read") -> T:
        """Retry transient failures; translate every other error at this boundary.

        Each attempt first gets leave from the process's governor, so that while the
        Hub holds this repo's reads or commits (429), all threads wait once, together,
        and only one probe is sent per `Retry-After`."""

        def governed(allowance: Allowance) -> T:
            ticket = governor().admit(
                self.repo_id, group, max_wait=allowance.left(), sleep=allowance.sleep, what=what
            )
            try:
                result = attempt()
            except BaseException as exc:
                status = http_status(exc) if isinstance(exc, Exception) else None
                governor().settle(ticket, status, retry_after(exc) if status == 429 else None)
                if isinstance(exc, HeldoutError) or not isinstance(exc, Exception):
                    raise
                if is_transient(exc):
                    raise
                raise translate(exc, what) from exc
            governor().settle(ticket, 200, None)
            return result

        return self._retry.run_with_allowance(governed, what)
