"""A `Store` on a Hugging Face Hub repo, through `huggingface_hub`.

Two Hub habits shape this module:

- `create_commit` silently drops an add whose bytes already match the branch head,
  and when every operation is dropped it returns the head without sending
  `parentCommit` at all. A writer that lost a race but wrote the same bytes would
  then "win" without any compare-and-swap (HUB_FACTS: 8 x 5 increments ended at 13-30
  instead of 40). So every commit also writes `.heldout/commit.json` with a fresh
  nonce: it is never a no-op, `parentCommit` is always sent, and a stale parent always
  gets its 412.
- A commit whose reply is lost may still have landed. Before retrying one, we read
  the head back: our nonce there means it landed; an unmoved head means it is safe to
  send again; anything else is a `Conflict`, and the caller re-reads and re-plans.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import httpx2
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    set_client_factory,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils._http import default_client_factory

from heldout.errors import (
    AccessDenied,
    Conflict,
    HeldoutError,
    InvalidPath,
    NotFound,
    StoreError,
)
from heldout.queue.retry import RetryPolicy, causes, describe, http_status, is_transient
from heldout.queue.store import (
    Add,
    Operation,
    check_operations,
    validate_path,
    validate_prefix,
    validate_repo_id,
)

T = TypeVar("T")

MARKER_FOLDER = ".heldout"
MARKER = f"{MARKER_FOLDER}/commit.json"
_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
_REPO_TYPES = ("dataset", "model", "space")
BLOB_CACHE_ITEMS = 4096  # small JSON files: entries, user indexes, hash records
BLOB_CACHE_ITEM = 64 * 1024
PATHS_PER_REQUEST = 100


_timeout_in_use: float | None = None
_timeout_lock = threading.Lock()


def use_http_timeout(seconds: float) -> None:
    """Give huggingface_hub's shared HTTP client a timeout; by default it has none.

    Without one, a Hub that stops answering mid-request blocks a worker forever: its
    heartbeat stops too, and with a single worker the queue is stuck. A timed-out
    request is retried like any transient error (a commit is reconciled first). The
    client is shared by the whole process, so this is process-wide and set only once
    per value: replacing the factory closes the current client.
    """
    global _timeout_in_use
    with _timeout_lock:
        if _timeout_in_use == seconds:
            return
        _timeout_in_use = seconds

        bounds = httpx2.Timeout(seconds, connect=min(seconds, 10.0)).as_dict()

        def bound(request: httpx2.Request) -> None:
            # HfApi passes `timeout=None` explicitly, which overrides a client default,
            # so the bound is filled in here, just before the request is sent.
            given = request.extensions.get("timeout") or {}
            request.extensions["timeout"] = {k: given.get(k) or v for k, v in bounds.items()}

        def factory() -> httpx2.Client:
            client = default_client_factory()
            client.event_hooks["request"].append(bound)
            return client

        set_client_factory(factory)


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

        `http_timeout` bounds every request of this process's Hub client (see
        `use_http_timeout`); None leaves the client as it is."""
        self.repo_id = validate_repo_id(repo_id)
        if repo_type not in _REPO_TYPES:
            raise InvalidPath(f"repo type {repo_type!r} is not one of {', '.join(_REPO_TYPES)}")
        self.repo_type = repo_type
        self._token = token
        self._endpoint = endpoint
        self._cache_dir = cache_dir
        self._api = HfApi(endpoint=endpoint, token=token)
        self._retry = RetryPolicy(budget=retry_seconds, sleep=sleep)
        self._blobs: dict[str, bytes] = {}
        if http_timeout is not None:
            use_http_timeout(http_timeout)

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
        store._run(
            lambda: store._api.create_repo(
                store.repo_id, private=private, repo_type=store.repo_type, exist_ok=True
            ),
            f"create repo {store.repo_id}",
        )
        return store

    def __repr__(self) -> str:  # never shows the token
        return f"HubStore({self.repo_id!r}, repo_type={self.repo_type!r})"

    # -- the Store protocol -------------------------------------------------------

    def head(self) -> str:
        """One request: the repo info, trimmed to the branch's sha."""
        return self._run(self._head_once, f"read the head of {self.repo_id}")

    def list(self, prefix: str = "") -> list[str]:
        """One tree listing (paged by the Hub); `.heldout/` bookkeeping is left out."""
        prefix = validate_prefix(prefix)
        return self._run(lambda: self._list_once(prefix), f"list {prefix or '/'} in {self.repo_id}")

    def read(self, path: str, revision: str | None = None) -> bytes:
        """Reads by commit sha, so a cached file costs no request and is never stale."""
        validate_path(path)
        return self._run(
            lambda: self._read_once(path, revision or self._head_once()),
            f"read {path} from {self.repo_id}",
        )

    def read_many(self, paths: list[str], revision: str) -> dict[str, bytes | None]:
        """One paths-info request for all; only content not seen before is downloaded.

        A transaction that lost a CAS race re-reads everything at the new head: this
        makes that a single request instead of one per file, so the window in which
        another writer can slip in stays short."""
        for path in paths:
            validate_path(path)
        infos = [
            info
            for start in range(0, len(paths), PATHS_PER_REQUEST)
            for info in self._run(
                lambda chunk=paths[start : start + PATHS_PER_REQUEST]: self._api.get_paths_info(
                    self.repo_id, chunk, repo_type=self.repo_type, revision=revision
                ),
                f"read {len(paths)} file(s) from {self.repo_id}",
            )
        ]
        found: dict[str, bytes | None] = dict.fromkeys(paths)
        for info in infos:
            if not isinstance(info, RepoFile) or info.path not in found:
                continue
            content = self._blobs.get(info.blob_id)
            if content is None:
                content = self.read(info.path, revision)
                self._remember(info.blob_id, content)
            found[info.path] = content
        return found

    def _remember(self, blob_id: str, content: bytes) -> None:
        """A small cache by git blob id: the same bytes under any path or revision."""
        if len(content) > BLOB_CACHE_ITEM:
            return
        self._blobs[blob_id] = content
        while len(self._blobs) > BLOB_CACHE_ITEMS:
            self._blobs.pop(next(iter(self._blobs)))

    def commit(self, operations: list[Operation], message: str, parent: str) -> str:
        check_operations(operations)
        for op in operations:
            if op.path.split("/")[0] == MARKER_FOLDER:
                raise InvalidPath(f"path {op.path!r} is reserved for heldout's commit marker")
        if not isinstance(parent, str) or not _COMMIT_ID.match(parent):
            raise Conflict(f"parent {str(parent)[:80]!r} is not a commit id, so not the head")
        head = _CommitAttempts(self, operations, message or "heldout update", parent).run()
        for op in operations:  # what we just wrote never needs downloading again
            if isinstance(op, Add):
                self._remember(git_blob_id(op.content), op.content)
                self._remember(git_blob_id(_lfs_pointer(op.content)), op.content)  # if stored so
        return head

    # -- single attempts, retried by `_run` -----------------------------------------

    def _head_once(self) -> str:
        info = self._api.repo_info(self.repo_id, repo_type=self.repo_type, expand=["sha"])
        if not info.sha:
            raise StoreError(f"repo {self.repo_id} has no commit yet")
        return info.sha

    def _list_once(self, prefix: str) -> list[str]:
        try:
            entries = list(
                self._api.list_repo_tree(
                    self.repo_id,
                    path_in_repo=prefix or None,
                    recursive=True,
                    expand=False,
                    repo_type=self.repo_type,
                )
            )
        except RemoteEntryNotFoundError:  # the folder does not exist: nothing in it
            return []
        return sorted(
            entry.path
            for entry in entries
            if isinstance(entry, RepoFile) and entry.path.split("/")[0] != MARKER_FOLDER
        )

    def _read_once(self, path: str, revision: str) -> bytes:
        local = hf_hub_download(
            self.repo_id,
            path,
            repo_type=self.repo_type,
            revision=revision,
            token=self._token,
            endpoint=self._endpoint,
            cache_dir=self._cache_dir,
        )
        return Path(local).read_bytes()

    def _send_commit(
        self, operations: list[Operation], message: str, parent: str, marker: bytes
    ) -> str:
        """One `create_commit`; fresh operation objects each time, as the client mutates them."""
        hub_ops: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(path_in_repo=MARKER, path_or_fileobj=marker)
        ]
        for op in operations:
            if isinstance(op, Add):
                hub_ops.append(CommitOperationAdd(path_in_repo=op.path, path_or_fileobj=op.content))
            else:
                hub_ops.append(CommitOperationDelete(path_in_repo=op.path, is_folder=False))
        info = self._api.create_commit(
            self.repo_id,
            hub_ops,
            commit_message=message,
            repo_type=self.repo_type,
            parent_commit=parent,
        )
        return info.oid

    # -- retries and errors -----------------------------------------------------------

    def _run(self, attempt: Callable[[], T], what: str) -> T:
        """Retry transient failures; translate every other error at this boundary."""

        def translated() -> T:
            try:
                return attempt()
            except HeldoutError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise self._translate(exc, what) from exc

        return self._retry.run(translated, what)

    def _translate(self, exc: Exception, what: str) -> Exception:
        """A heldout error for a client error. The message never carries the token."""
        for error in causes(exc):
            if isinstance(error, LocalEntryNotFoundError) and error.__cause__ is not None:
                continue  # the download fell back to the cache; the cause says why
            if isinstance(error, RevisionNotFoundError):
                return NotFound(f"{what}: no such revision")
            if isinstance(error, EntryNotFoundError):
                return NotFound(f"{what}: no such file")
            if isinstance(error, RepositoryNotFoundError):
                return NotFound(f"{what}: no such repo, or this token may not see it")
        status = http_status(exc)
        if status == 412:
            return Conflict(f"{what}: the branch moved past the parent commit")
        if status in (401, 403):
            return AccessDenied(f"{what}: this token may not do that (HTTP {status})")
        if status == 404:
            return NotFound(f"{what}: not found")
        if isinstance(exc, ValueError):
            return InvalidPath(f"{what}: the client refused the request ({exc})")
        said = getattr(exc, "server_message", None)
        detail = f": {str(said)[:200]}" if said else ""
        return StoreError(f"{what} failed ({describe(exc)}){detail}")


class _CommitAttempts:
    """One logical commit: attempts that reconcile before resending an unknown outcome."""

    def __init__(self, store: HubStore, operations: list[Operation], message: str, parent: str):
        self.store = store
        self.operations = operations
        self.message = message
        self.parent = parent
        self.nonce = uuid.uuid4().hex
        self.marker = json.dumps(
            {
                "nonce": self.nonce,
                "parent": parent,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        ).encode()
        self.outcome_unknown = False  # the last attempt may have landed
        self.ever_unknown = False  # some attempt may still land late

    def run(self) -> str:
        return self.store._run(self._attempt, f"commit to {self.store.repo_id}")

    def _attempt(self) -> str:
        if self.outcome_unknown:
            landed = self._reconcile()
            if landed is not None:
                return landed
            self.outcome_unknown = False
        try:
            return self.store._send_commit(self.operations, self.message, self.parent, self.marker)
        except Exception as exc:
            if http_status(exc) == 412 and self.ever_unknown:
                landed = self._landed_head()  # an earlier, "lost" attempt won the race
                if landed is not None:
                    return landed
            if is_transient(exc) and _may_have_landed(exc):
                self.outcome_unknown = self.ever_unknown = True
            raise

    def _reconcile(self) -> str | None:
        """The head if our commit landed; None if it surely did not; else `Conflict`."""
        head = self.store._head_once()
        if head == self.parent:
            return None
        if self._marker_nonce(head) == self.nonce:
            return head
        raise Conflict(
            f"commit to {self.store.repo_id}: the reply was lost and the branch has moved"
            " past the parent since; re-read and re-plan"
        )

    def _landed_head(self) -> str | None:
        head = self.store._head_once()
        return head if self._marker_nonce(head) == self.nonce else None

    def _marker_nonce(self, revision: str) -> str | None:
        try:
            data = self.store._read_once(MARKER, revision)
        except EntryNotFoundError as exc:
            if is_transient(exc):  # a download that fell back to the cache, not an answer
                raise
            return None
        try:
            return json.loads(data).get("nonce")
        except (ValueError, AttributeError):
            return None


def git_blob_id(content: bytes) -> str:
    """The id the Hub reports for a regular file (`paths-info`'s blob id): git's."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def _lfs_pointer(content: bytes) -> bytes:
    """What git stores for a file kept in LFS/Xet (binary ones, such as parquet)."""
    sha = hashlib.sha256(content).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(content)}\n".encode()


def _may_have_landed(exc: BaseException) -> bool:
    """False only when the commit surely was not applied: a 429, or a failed preupload."""
    if http_status(exc) == 429:
        return False
    for error in causes(exc):
        try:
            request = getattr(error, "request", None)
        except RuntimeError:  # httpx errors raised before a request existed
            request = None
        if request is not None:
            return "/preupload/" not in str(request.url)
    return True
