"""The embedded default store: a folder on disk with atomic compare-and-swap commits.

Layout under `root`:

- `HEAD`: id of the current commit. Replacing this one file is the commit point.
- `TREE_AT`: id of the commit that `tree/` shows. It lags `HEAD` only after a crash.
- `LOCK`: the `filelock` that serialises every writer and reader (threads and processes).
- `objects/<sha256>`: content blobs, written once and never changed.
- `commits/<id>.json`: `{id, parent, message, time, changes: {path: sha256 | null}}`.
- `tree/<path>`: the files at `TREE_AT`, hard links to their blobs, so head reads and
  listings never touch the log.
- `tmp/`: scratch for atomic writes; anything left here after a crash is garbage.

A commit writes blobs and its record first, then replaces `HEAD`, then updates
`tree/`. A process killed before the `HEAD` replace leaves the old state (plus
unreachable files); killed after it, the next lock holder sees `TREE_AT != HEAD` and
replays the log into `tree/`. Every step of that replay is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import filelock

from heldout.errors import Conflict, InvalidPath, NotFound, StoreError, TransientError
from heldout.queue.local_files import (
    CommitRecord,
    fsync_file,
    parents,
    planned_changes,
    read_file,
    remove_file,
    walk_files,
)
from heldout.queue.retry import RetryPolicy
from heldout.queue.store import (
    Add,
    Delete,
    Operation,
    check_operations,
    validate_path,
    validate_prefix,
)
from heldout.queue.store_faults import StoreFaults

T = TypeVar("T")

_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
_LOCK_TIMEOUT = 120.0
_CACHE_LIMIT = 4096


class LocalStore:
    """A `Store` in a local folder, safe for several threads and processes at once."""

    def __init__(
        self,
        root: Path | str,
        *,
        durable: bool = True,
        faults: StoreFaults | None = None,
        retry_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`durable=False` skips fsync: still crash-safe for a killed process, not for power loss.

        `faults` injects failures for tests (see `store_faults`); a failed call is retried
        under the one retry policy of `retry.py`, within `retry_seconds`."""
        self.root = Path(root)
        self._durable = durable
        self._faults = faults if faults is not None else StoreFaults()
        self._retry = RetryPolicy(budget=retry_seconds, sleep=sleep)
        self._tree = self.root / "tree"
        self._tmp = self.root / "tmp"
        self._objects = self.root / "objects"
        self._commits = self.root / "commits"
        self._cache: dict[str, CommitRecord] = {}
        for folder in (self._tree, self._tmp, self._objects, self._commits):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = filelock.FileLock(
            self.root / "LOCK", timeout=_LOCK_TIMEOUT, poll_interval=0.001, preserve_lock_file=True
        )
        with self._locked():
            self._clear_tmp()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- the Store protocol -------------------------------------------------------

    def head(self) -> str:
        """Read without the lock: `HEAD` is only ever replaced whole, so it is never torn."""
        return self._retry.run(
            lambda: self._once("read the head", self._head_once), "read the head"
        )

    def list(self, prefix: str = "") -> list[str]:
        prefix = validate_prefix(prefix)
        return self._retry.run(lambda: self._once("list", lambda: self._list_once(prefix)), "list")

    def read(self, path: str, revision: str | None = None) -> bytes:
        validate_path(path)
        if revision is not None and not _COMMIT_ID.match(revision):
            raise NotFound(f"revision {revision[:80]!r} is not a commit id of this store")
        return self._retry.run(
            lambda: self._once("read", lambda: self._read_once(path, revision)), f"read {path}"
        )

    def commit(self, operations: list[Operation], message: str, parent: str) -> str:
        """Exactly once: an attempt whose outcome is unknown is looked for before a resend.

        The commit's id is fixed before the first attempt, so "did it land?" is "is that id
        among the commits since `parent`?"; if it is, the commit is reported as landed even
        when other commits have been made on top of it since."""
        check_operations(operations)
        changes = planned_changes(operations)
        record = self._new_record(parent, message, changes)
        attempts = 0

        def attempt() -> str:
            nonlocal attempts
            attempts += 1
            self._faults.before("commit")
            return self._commit_once(operations, record, check_landed=attempts > 1)

        return self._retry.run(attempt, "commit")

    def _once(self, what: str, call: Callable[[], T]) -> T:
        self._faults.before(what)
        return call()

    def _head_once(self) -> str:
        return self._ref("HEAD")

    def _list_once(self, prefix: str) -> list[str]:
        with self._locked():
            base = self._tree / prefix if prefix else self._tree
            found = list(walk_files(base, prefix))
        return sorted(found)

    def _read_once(self, path: str, revision: str | None) -> bytes:
        with self._locked():
            if revision is None or revision == self._ref("HEAD"):
                return read_file(self._tree / path, path)
        return self._read_old(path, revision)

    def _commit_once(
        self, operations: list[Operation], record: CommitRecord, check_landed: bool
    ) -> str:
        with self._locked():
            head = self._ref("HEAD")
            if check_landed and head != record.parent and self._landed(record, head):
                return record.id
            if record.parent != head:
                raise Conflict(
                    f"parent {str(record.parent)[:12]} is no longer the head ({head[:12]})"
                )
            self._check_against_tree(operations)
            self._put_blobs(operations, record.changes)
            self._write_atomic(self._commits / f"{record.id}.json", record.to_json())
            self._sync_dir(self._commits)
            self._write_atomic(self.root / "HEAD", record.id.encode())  # the commit point
            self._sync_dir(self.root)
            self._faults.after_commit_point()
            self._apply(record.changes)
            self._write_atomic(self.root / "TREE_AT", record.id.encode())
            return record.id

    def _landed(self, record: CommitRecord, head: str) -> bool:
        """Whether `record` is one of the commits made on top of its parent since."""
        commit_id: str | None = head
        while commit_id is not None and commit_id != record.parent:
            if commit_id == record.id:
                return True
            commit_id = self._record(commit_id).parent
        return False

    # -- the audit trail ----------------------------------------------------------

    def history(self, limit: int | None = None) -> list[CommitRecord]:
        """Commits from the head back to the initial one, newest first."""
        records: list[CommitRecord] = []
        commit_id: str | None = self.head()
        while commit_id is not None and (limit is None or len(records) < limit):
            record = self._record(commit_id)
            records.append(record)
            commit_id = record.parent
        return records

    # -- internals ------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock, and first finish any commit a crash left half-applied to `tree/`."""
        try:
            self._lock.acquire()
        except filelock.Timeout as exc:
            raise TransientError(
                f"the store at {self.root} stayed locked for more than {_LOCK_TIMEOUT:.0f} s"
            ) from exc
        try:
            if not (self.root / "HEAD").exists():
                self._initialise()
            self._roll_forward()
            yield
        finally:
            self._lock.release()

    def _initialise(self) -> None:
        """Give an empty store a root commit, so `head()` always has an answer."""
        record = self._new_record(None, "initial commit", {})
        self._write_atomic(self._commits / f"{record.id}.json", record.to_json())
        shutil.rmtree(self._tree, ignore_errors=True)
        self._tree.mkdir()
        self._write_atomic(self.root / "TREE_AT", record.id.encode())
        self._write_atomic(self.root / "HEAD", record.id.encode())

    def _roll_forward(self) -> None:
        """Replay into `tree/` the commits between `TREE_AT` and `HEAD` (after a crash)."""
        head = self._ref("HEAD")
        tree_at = self._ref("TREE_AT") if (self.root / "TREE_AT").exists() else None
        if tree_at == head:
            return
        pending: list[CommitRecord] = []
        commit_id: str | None = head
        while commit_id is not None and commit_id != tree_at:
            record = self._record(commit_id)
            pending.append(record)
            commit_id = record.parent
        if commit_id is None:  # TREE_AT is not an ancestor: rebuild the tree from scratch
            shutil.rmtree(self._tree, ignore_errors=True)
            self._tree.mkdir()
        for record in reversed(pending):
            self._apply(record.changes)
        self._write_atomic(self.root / "TREE_AT", head.encode())

    def _check_against_tree(self, operations: list[Operation]) -> None:
        """Refuse, before writing anything, a commit that could not apply in full."""
        deleted = {op.path for op in operations if isinstance(op, Delete)}
        added = {op.path for op in operations if isinstance(op, Add)}
        for path in deleted:
            if not os.path.isfile(self._in_tree(path)):
                raise NotFound(f"cannot delete {path!r}: no such file at the head")
        folders_ok: set[str] = set()
        for path in added:
            target = self._in_tree(path)
            if os.path.isdir(target) and any(walk_files(Path(target), path)):
                raise InvalidPath(f"cannot write {path!r}: it is a folder in the repo")
            for folder in parents(path):
                if folder in folders_ok:
                    continue
                if folder in added or (
                    folder not in deleted and os.path.isfile(self._in_tree(folder))
                ):
                    raise InvalidPath(f"cannot write {path!r}: {folder!r} is a file")
                folders_ok.add(folder)

    def _apply(self, changes: dict[str, str | None]) -> None:
        """Make `tree/` show `changes`. Idempotent, so a replay may repeat it."""
        for path, sha in changes.items():
            if sha is None:
                remove_file(self._tree, path)
        for path, sha in changes.items():
            if sha is not None:
                self._place(self._in_tree(path), self._blob_path(sha))

    def _place(self, target: str, blob: str) -> None:
        """Atomically put a hard link to `blob` (a copy where links fail) at `target`."""
        tmp = self._tmp_name()
        try:
            os.link(blob, tmp)
        except OSError:  # no hard links here, or too many links to one blob
            shutil.copyfile(blob, tmp)
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # its folder does not exist yet
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(tmp, target)
        except (IsADirectoryError, PermissionError):  # an empty folder a crash left behind
            if not os.path.isdir(target):
                raise
            shutil.rmtree(target)
            os.replace(tmp, target)

    def _put_blobs(self, operations: list[Operation], changes: dict[str, str | None]) -> None:
        """Store each new content once, by hash.

        All blobs are written first and synced after, which lets the disk batch them.
        """
        staged: dict[str, str] = {}
        for op in operations:
            if isinstance(op, Delete):
                continue
            sha = changes[op.path]
            assert sha is not None
            if sha not in staged and not os.path.exists(self._blob_path(sha)):
                staged[sha] = self._write_tmp(op.content, sync=False)
        for sha, tmp in staged.items():
            if self._durable:
                fsync_file(tmp)
            os.replace(tmp, self._blob_path(sha))
        if staged:
            self._sync_dir(self._objects)

    def _blob_path(self, sha: str) -> str:
        return f"{self._objects}/{sha}"

    def _in_tree(self, path: str) -> str:
        return f"{self._tree}/{path}"

    def _new_record(
        self, parent: str | None, message: str, changes: dict[str, str | None]
    ) -> CommitRecord:
        time = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        seed = json.dumps([parent, message, time, changes, uuid.uuid4().hex], sort_keys=True)
        commit_id = hashlib.sha1(seed.encode()).hexdigest()
        return CommitRecord(commit_id, parent, message, time, changes)

    def _record(self, commit_id: str) -> CommitRecord:
        """A commit record; cached, since records never change once written."""
        record = self._cache.get(commit_id)
        if record is None:
            try:
                data = (self._commits / f"{commit_id}.json").read_bytes()
            except FileNotFoundError:
                raise NotFound(f"revision {commit_id[:12]} is not a commit of this store") from None
            record = CommitRecord.from_json(data)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[commit_id] = record
        return record

    def _read_old(self, path: str, revision: str) -> bytes:
        """Walk the log back from `revision` to the last commit that touched `path`."""
        commit_id: str | None = revision
        while commit_id is not None:
            record = self._record(commit_id)
            if path in record.changes:
                sha = record.changes[path]
                if sha is None:
                    break
                return Path(self._blob_path(sha)).read_bytes()
            commit_id = record.parent
        raise NotFound(f"no file {path!r} at revision {revision[:12]}")

    def _ref(self, name: str) -> str:
        try:
            return (self.root / name).read_text().strip()
        except FileNotFoundError:
            raise StoreError(f"the store at {self.root} has no {name}: not a LocalStore") from None

    def _write_atomic(self, target: Path, data: bytes) -> None:
        os.replace(self._write_tmp(data, sync=self._durable), target)

    def _write_tmp(self, data: bytes, *, sync: bool) -> str:
        tmp = self._tmp_name()
        with open(tmp, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        return tmp

    def _tmp_name(self) -> str:
        return f"{self._tmp}/{uuid.uuid4().hex}"

    def _sync_dir(self, folder: Path) -> None:
        """Make renames into `folder` survive a power cut (POSIX only; a no-op elsewhere)."""
        if not self._durable or os.name != "posix":
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _clear_tmp(self) -> None:
        """Remove scratch files of writers that died; only safe while holding the lock."""
        for entry in os.scandir(self._tmp):
            Path(entry.path).unlink(missing_ok=True)
