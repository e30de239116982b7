"""Reading files from a Hub repo with as few requests as the answers allow.

- A file is fetched with one GET (no HEAD first); its content id (the git blob id in
  the ETag) and the commit sha it was read at are remembered, so a read at a commit
  sha already seen costs no request at all (`read_many` too, absent files included),
  and the same content under another path or revision is never fetched twice.
- `read_many` asks `paths-info` for the blob ids of many files in one request and
  fetches only contents not seen before. A Hub-compatible server without `paths-info`
  (it answers 404 or 405 without an error code) gets the same answer through the
  `tree` listings of the folders involved: slower, not broken (issue 13).
- Content a store has just committed is remembered at the new commit, so a writer
  never downloads what it wrote itself.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from huggingface_hub.hf_api import RepoFile

from heldout.errors import HeldoutError, NotFound
from heldout.queue.hub_calls import HubCalls
from heldout.queue.retry import causes, http_status
from heldout.queue.store import Add, Operation

T = TypeVar("T")
Run = Callable[[Callable[[], T], str], T]

PATHS_PER_REQUEST = 100
PARALLEL_READS = 8  # files one read_many downloads at once
CACHE_ITEM_BYTES = 1024 * 1024
CACHE_TOTAL_BYTES = 64 * 1024 * 1024
_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
ABSENT = ""  # the content id of a path known not to exist at a commit


def git_blob_id(content: bytes) -> str:
    """The id git (and the Hub, for a regular file) gives these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class ContentCache:
    """Small contents by content id, and the content id of a path at a commit sha.

    Bounded in bytes, least recently used first out. Only commit shas are keys: what a
    path holds at a commit never changes, so nothing here is ever stale."""

    def __init__(self, item_bytes: int = CACHE_ITEM_BYTES, total_bytes: int = CACHE_TOTAL_BYTES):
        self._item = item_bytes
        self._total = total_bytes
        self._size = 0
        self._contents: OrderedDict[str, bytes] = OrderedDict()
        self._ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def by_id(self, content_id: str) -> bytes | None:
        with self._lock:
            content = self._contents.get(content_id)
            if content is not None:
                self._contents.move_to_end(content_id)
            return content

    def at(self, revision: str, path: str) -> bytes | None:
        return self.known(revision, path)[1]

    def known(self, revision: str, path: str) -> tuple[bool, bytes | None]:
        """(whether the content of `path` at `revision` is known, that content or None
        when the file is known to be absent there)."""
        with self._lock:
            content_id = self._ids.get((revision, path))
        if content_id == ABSENT:
            return True, None
        content = self.by_id(content_id) if content_id is not None else None
        return content is not None, content

    def absent(self, revision: str, path: str) -> None:
        """Remember that `path` does not exist at the commit `revision`."""
        if _COMMIT_ID.match(revision):
            with self._lock:
                self._ids[(revision, path)] = ABSENT
                self._ids.move_to_end((revision, path))

    def put(self, content: bytes, content_id: str, revision: str | None, path: str) -> None:
        if len(content) > self._item:
            return
        with self._lock:
            if content_id not in self._contents:
                self._contents[content_id] = content
                self._size += len(content)
            self._contents.move_to_end(content_id)
            if revision is not None and _COMMIT_ID.match(revision):
                self._ids[(revision, path)] = content_id
                self._ids.move_to_end((revision, path))
            while self._size > self._total and self._contents:
                _, dropped = self._contents.popitem(last=False)
                self._size -= len(dropped)
            while len(self._ids) > 8 * len(self._contents) + 1024:
                self._ids.popitem(last=False)


class EndpointMissing(HeldoutError):
    """The server has no such endpoint (not a missing repo, revision or file)."""


class HubReads:
    """Reads for one `HubStore`; `run` is the store's retrying, translating wrapper."""

    def __init__(self, calls: HubCalls, run: Run) -> None:
        self.calls = calls
        self.run = run
        self.cache = ContentCache()
        self.paths_info_works = True

    def read(self, path: str, revision: str) -> bytes:
        """One GET the first time; nothing at all for a commit sha read before."""
        is_known, cached = self.cache.known(revision, path)
        what = f"read {path} from {self.calls.repo_id}"
        if is_known:
            if cached is None:
                raise NotFound(f"{what}: no such file")
            return cached
        try:
            content, content_id = self.run(lambda: self.calls.get(path, revision), what)
        except NotFound:
            self.cache.absent(revision, path)  # only remembered at a commit sha
            raise
        self.cache.put(content, content_id or git_blob_id(content), revision, path)
        return content

    def read_many(self, paths: list[str], revision: str) -> dict[str, bytes | None]:
        """No request when every path is known at this commit; else one `paths-info`."""
        known = {path: self.cache.known(revision, path) for path in paths}
        if all(is_known for is_known, _ in known.values()):
            return {path: content for path, (_, content) in known.items()}
        found: dict[str, bytes | None] = dict.fromkeys(paths)
        ids: dict[str, str] = {}
        for info in self._infos(paths, revision):
            if info.path not in found:
                continue
            ids[info.path] = _content_id(info)
            found[info.path] = self.cache.by_id(ids[info.path]) or self.cache.at(
                revision, info.path
            )
        missing = [path for path in ids if found[path] is None]
        found.update(self._download(missing, revision))
        for path, content_id in ids.items():
            if found[path] is not None:
                self.cache.put(found[path], content_id, revision, path)  # type: ignore[arg-type]
        for path, content in found.items():
            if content is None:
                self.cache.absent(revision, path)
        return found

    def _download(self, paths: list[str], revision: str) -> dict[str, bytes | None]:
        """GET each file, a few at a time: a transaction's reads are the window in
        which another writer's commit makes it lose, so they should be short."""

        def get(path: str) -> bytes | None:
            what = f"read {path} from {self.calls.repo_id}"
            try:
                return self.run(lambda: self.calls.get(path, revision), what)[0]
            except NotFound:
                return None

        if len(paths) <= 1:
            return {path: get(path) for path in paths}
        with ThreadPoolExecutor(min(PARALLEL_READS, len(paths))) as pool:
            return dict(zip(paths, pool.map(get, paths), strict=True))

    def remember_commit(self, operations: list[Operation], commit_id: str) -> None:
        """What we just wrote is what the new commit holds at those paths."""
        for op in operations:
            if isinstance(op, Add):
                self.cache.put(op.content, git_blob_id(op.content), commit_id, op.path)
            else:
                self.cache.absent(commit_id, op.path)

    def _infos(self, paths: list[str], revision: str) -> list[RepoFile]:
        if self.paths_info_works:
            try:
                return [
                    info
                    for start in range(0, len(paths), PATHS_PER_REQUEST)
                    for info in self.run(
                        lambda chunk=paths[start : start + PATHS_PER_REQUEST]: _or_missing(
                            lambda: self.calls.paths_info(chunk, revision)
                        ),
                        f"read {len(paths)} file(s) from {self.calls.repo_id}",
                    )
                ]
            except EndpointMissing:
                self.paths_info_works = False  # this server has none: list folders instead
        return self._infos_from_tree(paths, revision)

    def _infos_from_tree(self, paths: list[str], revision: str) -> list[RepoFile]:
        """The same answer as `paths-info`, from one listing per folder involved."""
        folders: dict[str, set[str]] = defaultdict(set)
        for path in paths:
            folders[path.rpartition("/")[0]].add(path)
        infos: list[RepoFile] = []
        for folder, wanted in sorted(folders.items()):
            listed = self.run(
                lambda folder=folder: self.calls.tree(folder, recursive=False, revision=revision),
                f"list {folder or '/'} in {self.calls.repo_id}",
            )
            infos.extend(info for info in listed if info.path in wanted)
        return infos


def _content_id(info: RepoFile) -> str:
    """The id a GET's ETag gives the same content: the sha256 for a file stored outside
    git (LFS or Xet), the git blob id otherwise."""
    lfs = getattr(info, "lfs", None)
    sha256 = getattr(lfs, "sha256", None) if lfs is not None else None
    return sha256 or info.blob_id


def _or_missing(call: Callable[[], T]) -> T:
    """Run `call`; a 404/405/501 without a Hub error code means the endpoint is missing."""
    try:
        return call()
    except Exception as exc:
        if http_status(exc) in (404, 405, 501) and not _error_code(exc):
            raise EndpointMissing("this server does not offer the endpoint") from exc
        raise


def _error_code(exc: BaseException) -> str | None:
    for error in causes(exc):
        response = getattr(error, "response", None)
        if response is not None:
            return response.headers.get("X-Error-Code")
    return None
