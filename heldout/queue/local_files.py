"""Files of a `LocalStore`: its commit records, and the small file-system moves it makes.

Pure helpers with no lock and no state; `local_store` holds the lock and decides when
each is safe to call.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from heldout.errors import NotFound
from heldout.queue.store import Add, Operation


@dataclass(frozen=True)
class CommitRecord:
    """One entry of the commit log: what changed, when, and on top of what."""

    id: str
    parent: str | None
    message: str
    time: str
    changes: dict[str, str | None]  # path -> sha256 of the new content, None when deleted

    def to_json(self) -> bytes:
        return json.dumps(vars(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CommitRecord:
        return cls(**json.loads(data))


def walk_files(folder: Path, prefix: str) -> Iterator[str]:
    """Repo paths of the files under `folder`, without reading any of them."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        path = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from walk_files(Path(entry.path), path)
        elif entry.is_file(follow_symlinks=False):
            yield path


def planned_changes(operations: list[Operation]) -> dict[str, str | None]:
    """Pure: path -> sha256 of its new content, or None when deleted."""
    return {
        op.path: hashlib.sha256(op.content).hexdigest() if isinstance(op, Add) else None
        for op in operations
    }


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parents(path: str) -> Iterator[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def remove_file(tree: Path, path: str) -> None:
    """Delete one file and the folders it leaves empty; a missing file is fine."""
    (tree / path).unlink(missing_ok=True)
    for folder in reversed(list(parents(path))):
        try:
            (tree / folder).rmdir()
        except OSError:  # not empty, or already gone
            break


def read_file(file: Path, path: str) -> bytes:
    try:
        return file.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"no file {path!r} at the head") from None
