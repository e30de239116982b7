"""The versioned file tree of one repo: the head as an index, history as per-path versions.

A commit is numbered by its position in the repo's history (`seq`). The tree keeps:

- the head: files by path, and for every folder its sorted child names and the number
  of files below it. A commit touches only the paths it changes and their ancestors,
  and listing one folder costs the size of that folder, never the size of the repo;
- history: for each path the list of `(seq, node)` versions, so a read at an old
  commit is one binary search; and for each folder the log of `(seq, child)` changes,
  so a folder listed at an old commit is its head listing with the later changes
  undone (cost: folder size plus changes since).

Pure data structure: no locking, no I/O. The caller serialises access.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file's content by address: `sha256` names the blob, `oid` is its git blob id.

    An LFS file (`lfs`) is a git pointer to its content, so `oid` is the pointer's blob
    id; `xet_hash` is set when its content is also held by the Xet CAS.
    """

    sha256: str
    oid: str
    size: int
    lfs: bool = False
    xet_hash: str | None = None


DIR = "dir"
"""The node of a folder. A folder exists exactly while some file lies below it."""

Node = FileEntry | str | None
Change = tuple[str, FileEntry | None]

# Above this many changes to one folder in one commit, re-sort instead of inserting one by one.
_BULK = 64


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


def name_of(path: str) -> str:
    return path.rpartition("/")[2]


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def ancestors(path: str) -> Iterator[str]:
    """Every folder above `path`, nearest first, ending with the root ``""``."""
    while path:
        path = parent_of(path)
        yield path


class RepoTree:
    """All versions of one repo's files. `head_seq` is the newest commit applied."""

    def __init__(self) -> None:
        self.head_seq = -1
        self._files: dict[str, FileEntry] = {}
        self._children: dict[str, list[str]] = {"": []}
        self._counts: dict[str, int] = {}
        self._history: dict[str, list[tuple[int, Node]]] = {}
        self._folder_log: dict[str, list[tuple[int, str]]] = {}

    # ----------------------------------------------------------------- reads
    @property
    def file_count(self) -> int:
        return len(self._files)

    def count_below(self, folder: str) -> int:
        """How many files lie below `folder` at the head."""
        return len(self._files) if folder == "" else self._counts.get(folder, 0)

    def node(self, path: str, seq: int | None = None) -> Node:
        """The file entry, `DIR` or None at `path` as of commit `seq` (default: head)."""
        if path == "":
            return DIR
        if seq is None or seq >= self.head_seq:
            entry = self._files.get(path)
            if entry is not None:
                return entry
            return DIR if self._counts.get(path, 0) > 0 else None
        versions = self._history.get(path)
        if not versions:
            return None
        index = bisect_right(versions, seq, key=lambda version: version[0])
        return versions[index - 1][1] if index else None

    def file(self, path: str, seq: int | None = None) -> FileEntry | None:
        node = self.node(path, seq)
        return node if isinstance(node, FileEntry) else None

    def last_change(self, path: str, seq: int | None = None) -> int | None:
        """The seq of the commit that last changed `path` at or before `seq`."""
        versions = self._history.get(path)
        if not versions:
            return None
        limit = self.head_seq if seq is None else seq
        index = bisect_right(versions, limit, key=lambda version: version[0])
        return versions[index - 1][0] if index else None

    def children(self, folder: str, seq: int | None = None) -> list[str]:
        """Sorted child names of `folder`. At the head this is the live list: do not mutate."""
        if seq is None or seq >= self.head_seq:
            return self._children.get(folder, [])
        names = set(self._children.get(folder, []))
        log = self._folder_log.get(folder, [])
        start = bisect_right(log, seq, key=lambda change: change[0])
        for _, name in log[start:]:
            if self.node(join(folder, name), seq) is None:
                names.discard(name)
            else:
                names.add(name)
        return sorted(names)

    def walk(
        self, folder: str, seq: int | None, *, recursive: bool, after: str | None = None
    ) -> Iterator[tuple[str, Node]]:
        """Entries below `folder` in name order (pre-order if recursive), resuming after `after`.

        `after` is a path previously yielded (it may since have been deleted): the walk
        restarts with a binary search at each level, so a page costs its own size.
        """
        stack: list[tuple[str, list[str], int]] = []
        if after:
            relative = after[len(folder) + 1 :] if folder else after
            parts = relative.split("/") if recursive else [relative.split("/")[0]]
            current = folder
            for part in parts:
                names = self.children(current, seq)
                stack.append((current, names, bisect_right(names, part)))
                current = join(current, part)
            if recursive and self.node(current, seq) == DIR:
                stack.append((current, self.children(current, seq), 0))
        else:
            stack.append((folder, self.children(folder, seq), 0))
        while stack:
            current, names, index = stack[-1]
            if index >= len(names):
                stack.pop()
                continue
            stack[-1] = (current, names, index + 1)
            path = join(current, names[index])
            node = self.node(path, seq)
            if node is None:
                continue
            yield path, node
            if recursive and node == DIR:
                stack.append((path, self.children(path, seq), 0))

    def files_below(self, folder: str) -> Iterator[tuple[str, FileEntry]]:
        """Every file under `folder` at the head (the whole repo for ``""``)."""
        for path, node in self.walk(folder, None, recursive=True):
            if isinstance(node, FileEntry):
                yield path, node

    # ---------------------------------------------------------------- writes
    def apply(self, seq: int, changes: list[Change]) -> None:
        """Make commit `seq` the head. `changes` must be valid against the current head."""
        if seq <= self.head_seq:
            raise ValueError(f"commit {seq} is not newer than the head {self.head_seq}")
        self.head_seq = seq
        added: dict[str, list[str]] = {}
        removed: dict[str, list[str]] = {}
        # Deletions first, so that a file may become a folder (or back) in one commit.
        ordered = [c for c in changes if c[1] is None] + [c for c in changes if c[1] is not None]
        for path, entry in ordered:
            old = self._files.get(path)
            if entry is not None:
                self._files[path] = entry
                self._record(path, seq, entry)
                if old is None:
                    self._grow(path, seq, added)
            elif old is not None:
                del self._files[path]
                self._record(path, seq, None)
                self._shrink(path, seq, removed)
        for folder, names in removed.items():
            self._remove_children(folder, names)
        for folder, names in added.items():
            self._add_children(folder, names)

    def _record(self, path: str, seq: int, node: Node) -> None:
        versions = self._history.setdefault(path, [])
        if versions and versions[-1][0] == seq:
            versions[-1] = (seq, node)
        else:
            versions.append((seq, node))
        self._folder_log.setdefault(parent_of(path), []).append((seq, name_of(path)))

    def _grow(self, path: str, seq: int, added: dict[str, list[str]]) -> None:
        """Count a new file in every ancestor; folders that were empty come into being."""
        child = path
        for folder in ancestors(path):
            count = self._counts.get(folder, 0)
            self._counts[folder] = count + 1
            if child == path or self._counts[child] == 1:
                added.setdefault(folder, []).append(name_of(child))
            if folder and count == 0:
                self._record(folder, seq, DIR)
            child = folder

    def _shrink(self, path: str, seq: int, removed: dict[str, list[str]]) -> None:
        """Uncount a removed file; folders left empty disappear, as in git."""
        child = path
        for folder in ancestors(path):
            count = self._counts[folder] - 1
            self._counts[folder] = count
            if child == path or self._counts.get(child, 0) == 0:
                removed.setdefault(folder, []).append(name_of(child))
            if folder and count == 0:
                del self._counts[folder]
                self._children.pop(folder, None)
                self._record(folder, seq, None)
            child = folder

    def _add_children(self, folder: str, names: list[str]) -> None:
        # Every name here is new to the folder: a file counts as added only when it did not
        # exist, a folder only when it went from empty to one file.
        current = self._children.setdefault(folder, [])
        if len(names) <= _BULK:
            for name in names:
                insort(current, name)
        else:
            names.sort()
            current.extend(names)
            current.sort()  # two sorted runs: timsort merges them in linear time

    def _remove_children(self, folder: str, names: list[str]) -> None:
        current = self._children.get(folder)
        if current is None:
            return
        if len(names) <= _BULK:
            for name in names:
                index = bisect_left(current, name)
                if index < len(current) and current[index] == name:
                    del current[index]
        else:
            gone = set(names)
            current[:] = [name for name in current if name not in gone]
