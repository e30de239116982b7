"""Turn a commit's operations into the list of path changes, or refuse the whole commit.

Operations are applied in order to an overlay on top of the head, so a commit may add
then delete a file, or replace a file by a folder. Nothing touches the tree until every
operation has passed, which makes each commit all-or-nothing. Cost: the number of
operations times the path depth, plus the size of any folder deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from heldout.hub_emulator.errors import BadRequest, EntryNotFound
from heldout.hub_emulator.tree import Change, FileEntry, RepoTree, ancestors

MAX_PATH = 1000


@dataclass(frozen=True)
class PutFile:
    """A `file` line: content sent inline."""

    path: str
    content: bytes


@dataclass(frozen=True)
class PutBlob:
    """An `lfsFile` line: content named by sha256, uploaded before through Xet or LFS."""

    path: str
    sha256: str


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


Operation = PutFile | PutBlob | DeleteFile | DeleteFolder


def check_path(path: object) -> str:
    """Refuse paths that git or the Hub would refuse, or that could escape the repo."""
    if not isinstance(path, str) or not path:
        raise BadRequest("Invalid path: a path must be a non-empty string")
    if len(path) > MAX_PATH or "\x00" in path or "\\" in path:
        raise BadRequest(f"Invalid path: {path[:100]!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or parts[0] == ".git":
        raise BadRequest(f"Invalid path: {path[:100]!r}")
    return path


class _Overlay:
    def __init__(self, tree: RepoTree) -> None:
        self.tree = tree
        self.files: dict[str, FileEntry | None] = {}
        self.delta: dict[str, int] = {}
        # Folders already checked not to be files, so a bulk add checks each folder once.
        self.checked: set[str] = set()

    def is_file(self, path: str) -> bool:
        if path in self.files:
            return self.files[path] is not None
        return self.tree.file(path) is not None

    def count_below(self, folder: str) -> int:
        return self.tree.count_below(folder) + self.delta.get(folder, 0)

    def put(self, path: str, entry: FileEntry) -> None:
        folders = list(ancestors(path))
        for folder in folders:
            if folder in self.checked:
                break  # this folder and all above it are known not to be files
            if folder and self.is_file(folder):
                raise BadRequest(f"Cannot create {path}: {folder} is a file")
        self.checked.update(folders)
        if self.count_below(path) > 0:
            raise BadRequest(f"Cannot create file {path}: a folder with this name exists")
        if not self.is_file(path):
            for folder in folders:
                self.delta[folder] = self.delta.get(folder, 0) + 1
        self.files[path] = entry
        self.checked.discard(path)

    def delete(self, path: str) -> None:
        if not self.is_file(path):
            raise EntryNotFound(f"Cannot delete {path}: A file with this name doesn't exist")
        self.files[path] = None
        for folder in ancestors(path):
            self.delta[folder] = self.delta.get(folder, 0) - 1

    def delete_folder(self, folder: str) -> None:
        prefix = f"{folder}/" if folder else ""
        targets = {path for path, _ in self.tree.files_below(folder)}
        targets.update(path for path in self.files if path.startswith(prefix))
        targets = {path for path in targets if self.is_file(path)}
        if not targets:
            raise EntryNotFound(
                f"Cannot delete folder {folder}: A folder with this name doesn't exist"
            )
        for path in sorted(targets):
            self.delete(path)


def stage(
    tree: RepoTree,
    operations: list[Operation],
    entry_for_content: Callable[[bytes], FileEntry],
    entry_for_blob: Callable[[str], FileEntry | None],
) -> list[Change]:
    """The changes `operations` make to the head of `tree`; raises if any operation fails."""
    overlay = _Overlay(tree)
    for operation in operations:
        if isinstance(operation, PutFile):
            overlay.put(check_path(operation.path), entry_for_content(operation.content))
        elif isinstance(operation, PutBlob):
            entry = entry_for_blob(operation.sha256)
            if entry is None:
                raise BadRequest(
                    f"Cannot commit {operation.path}: LFS object {operation.sha256} was never "
                    "uploaded (through Xet or the LFS batch API)"
                )
            overlay.put(check_path(operation.path), entry)
        elif isinstance(operation, DeleteFile):
            overlay.delete(check_path(operation.path))
        else:
            folder = operation.path.strip("/")
            overlay.delete_folder(check_path(folder) if folder else "")
    return [(path, entry) for path, entry in overlay.files.items() if entry != tree.file(path)]
