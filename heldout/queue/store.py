"""The storage protocol every part of heldout talks to, and its operations.

Four primitives, the same for the embedded `LocalStore` and for `HubStore`:
`head`, `list`, `read` and a compare-and-swap `commit`. Everything else (the queue,
the results dataset) is written once above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from heldout.errors import InvalidPath, NotFound

MAX_PATH_LENGTH = 512
_SEGMENT = re.compile(r"^[A-Za-z0-9._@=+-]+$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def validate_path(path: str) -> str:
    """Refuse any path that could escape the repo or confuse a filesystem."""
    if not isinstance(path, str) or not path:
        raise InvalidPath("a path in a repo must be a non-empty string")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"a path in a repo may be at most {MAX_PATH_LENGTH} characters")
    if path.startswith("/") or "\\" in path:
        raise InvalidPath(f"path {path[:80]!r} must be relative and use '/'")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidPath(f"path {path[:80]!r} has an empty, '.' or '..' part")
        if not _SEGMENT.match(segment):
            raise InvalidPath(f"path {path[:80]!r} has characters outside [A-Za-z0-9._@=+-]")
    return path


def validate_prefix(prefix: str) -> str:
    """A folder to list: empty for the whole repo, otherwise a valid path."""
    prefix = prefix.strip("/")
    return validate_path(prefix) if prefix else ""


def validate_repo_id(repo_id: str) -> str:
    """`namespace/name`, as the Hub spells them."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise InvalidPath(f"repo id {str(repo_id)[:80]!r} is not of the form 'namespace/name'")
    return repo_id


@dataclass(frozen=True)
class Add:
    """Write `content` at `path`, replacing what was there."""

    path: str
    content: bytes

    def __post_init__(self) -> None:
        validate_path(self.path)
        if not isinstance(self.content, bytes):
            raise TypeError("Add.content must be bytes")


@dataclass(frozen=True)
class Delete:
    """Remove the file at `path`; it must exist at the parent commit."""

    path: str

    def __post_init__(self) -> None:
        validate_path(self.path)


Operation = Add | Delete


@runtime_checkable
class Store(Protocol):
    """A versioned file tree with atomic, compare-and-swap commits."""

    def head(self) -> str:
        """The current commit id. One cheap call: the idle poll is built on it."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Every file path under the folder `prefix`, sorted, at the head.

        Never reads content. Its cost grows with the folder, not with the repo.
        """
        ...

    def read(self, path: str, revision: str | None = None) -> bytes:
        """The bytes at `path` as of `revision` (the head when None). `NotFound` if absent."""
        ...

    def commit(self, operations: list[Operation], message: str, parent: str) -> str:
        """Apply all operations atomically, exactly once, and return the new commit's id.

        Raises `Conflict` when `parent` is no longer the head: nothing is written. A
        commit whose reply was lost is looked for before anything is resent, so one
        that landed is reported as landed, even if another commit is on top of it by
        then (the id returned is then not the head).
        """
        ...


def read_many(store: Store, paths: list[str], revision: str) -> dict[str, bytes | None]:
    """Several files at one revision; None for an absent one.

    A backend may offer `read_many` itself to answer in one round trip (the Hub can);
    otherwise this reads the files one by one. It is an accelerator, not a fifth
    primitive: the result is the same either way.
    """
    own = getattr(store, "read_many", None)
    if own is not None:
        return own(paths, revision)
    found: dict[str, bytes | None] = {}
    for path in paths:
        try:
            found[path] = store.read(path, revision=revision)
        except NotFound:
            found[path] = None
    return found


def commits_last_hour(store: Store) -> dict[str, int]:
    """{repo: commits in the last hour} for a store that can count them (the Hub: by
    every process, from the repo's history); {} for one that cannot."""
    count = getattr(store, "commits_last_hour", None)
    return {store.repo_id: count()} if count is not None else {}  # type: ignore[attr-defined]


def check_operations(operations: list[Operation]) -> None:
    """A commit must change something, and must not touch one path twice."""
    if not operations:
        raise ValueError("a commit needs at least one operation")
    seen: set[str] = set()
    for op in operations:
        if not isinstance(op, (Add, Delete)):
            raise TypeError(f"not a commit operation: {type(op).__name__}")
        if op.path in seen:
            raise ValueError(f"path {op.path!r} appears twice in one commit")
        seen.add(op.path)
