"""Content-addressed file contents, in memory or appended to one pack file.

Files are stored once per distinct content (by sha256). On disk they go into a single
append-only `blobs.pack`, so a commit of many small files costs one write and one
fsync rather than one file each; the journal records where each blob lies. Xet xorbs
are kept in the same pack, under the key `xorb:<hash>`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from heldout.hub_emulator.tree import FileEntry


def git_blob_oid(content: bytes) -> str:
    """The git blob id the Hub reports as a regular file's `oid` and ETag."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % len(content))
    digest.update(content)
    return digest.hexdigest()


def entry_for(content: bytes) -> FileEntry:
    return FileEntry(
        sha256=hashlib.sha256(content).hexdigest(), oid=git_blob_oid(content), size=len(content)
    )


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git LFS pointer file that stands in git for content stored outside it."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


def lfs_entry_for(sha256: str, size: int, xet_hash: str | None) -> FileEntry:
    pointer = lfs_pointer(sha256, size)
    return FileEntry(sha256, git_blob_oid(pointer), size, lfs=True, xet_hash=xet_hash)


class BlobStore:
    """sha256 -> bytes. With a `pack_path`, contents live on disk and are read with pread."""

    def __init__(self, pack_path: Path | None = None) -> None:
        self._memory: dict[str, bytes] = {}
        self._where: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._pack_path = pack_path
        self._fd: int | None = None
        if pack_path is not None:
            pack_path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(pack_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0))

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._memory or sha256 in self._where

    def put_many(self, contents: dict[str, bytes]) -> dict[str, tuple[int, int]]:
        """Store new contents (sha256 -> bytes) durably; return where each landed on disk.

        Contents already stored are skipped. In memory mode the answer is empty.
        """
        fresh = {sha: data for sha, data in contents.items() if sha not in self}
        if not fresh:
            return {}
        if self._fd is None:
            self._memory.update(fresh)
            return {}
        with self._lock:
            offset = os.lseek(self._fd, 0, os.SEEK_END)
            placed: dict[str, tuple[int, int]] = {}
            chunks = []
            for sha, data in fresh.items():
                placed[sha] = (offset, len(data))
                offset += len(data)
                chunks.append(data)
            payload = b"".join(chunks)
            written = 0
            while written < len(payload):
                written += os.write(self._fd, payload[written:])
            os.fsync(self._fd)
            self._where.update(placed)
        return placed

    def locate(self, sha256: str, offset: int, length: int) -> None:
        """Remember where a blob lies in the pack (when replaying the journal)."""
        self._where[sha256] = (offset, length)

    def size(self, sha256: str) -> int:
        data = self._memory.get(sha256)
        return len(data) if data is not None else self._where[sha256][1]

    def get(self, sha256: str) -> bytes:
        data = self._memory.get(sha256)
        if data is not None:
            return data
        offset, length = self._where[sha256]
        assert self._fd is not None
        if hasattr(os, "pread"):
            return os.pread(self._fd, length, offset)
        with self._lock:  # no pread (Windows): seek and read under the lock
            os.lseek(self._fd, offset, os.SEEK_SET)
            return os.read(self._fd, length)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
