"""Everything the emulated Hub remembers: repos, history, Space secrets, issued tokens.

Every change goes through one path: build an event, apply it under the lock, append it
to the journal (when `data_dir` is set). Replaying the journal at start applies the
same events through the same code, so a restarted emulator has the same state.

No HTTP here: callers get domain errors from `errors.py` and plain data back.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from heldout.hub_emulator.blobs import BlobStore, entry_for, lfs_entry_for
from heldout.hub_emulator.cas import CasIndex, XetFile, index_xorb
from heldout.hub_emulator.errors import BadRequest, RepoExists, RepoNotFound, StaleParent
from heldout.hub_emulator.journal import Journal
from heldout.hub_emulator.repos import DEFAULT_BRANCH, GITATTRIBUTES, Commit, Repo
from heldout.hub_emulator.staging import Operation, PutFile, stage
from heldout.hub_emulator.tree import Change, FileEntry
from heldout.hub_emulator.xet_format import Term, XetFormatError

T = TypeVar("T")
STALE_PARENT = (
    "The branch was updated since you opened this page. Please refresh and try again "
    "(parentCommit is not the head of the branch)."
)


class HubState:
    """Repos by `(type, id)`. Thread-safe: one lock serialises every read and change."""

    def __init__(self, data_dir: Path | None = None, seed: int | None = None) -> None:
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], Repo] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._rng = random.Random(seed)
        self._journal: Journal | None = None
        self.blobs = BlobStore(data_dir / "blobs.pack" if data_dir else None)
        self.cas = CasIndex()
        if data_dir is not None:
            self._journal = Journal(data_dir / "journal.jsonl")
            for event in self._journal.replay():
                self._apply(event)

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self.blobs.close()

    def locked(self, action: Callable[[], T]) -> T:
        """Run a read that spans several calls (e.g. one page of a listing) atomically."""
        with self._lock:
            return action()

    # ----------------------------------------------------------------- repos
    def repo(self, repo_type: str, repo_id: str) -> Repo | None:
        # No lock: a dict lookup is atomic, and this runs on the event loop, which must not
        # wait behind a large commit holding the lock.
        return self._repos.get((repo_type, repo_id))

    def require(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repo(repo_type, repo_id)
        if repo is None:
            raise RepoNotFound("Repository not found")
        return repo

    def create_repo(
        self, repo_type: str, repo_id: str, *, private: bool, sdk: str | None, author: str, url: str
    ) -> Repo:
        """A new repo whose first commit holds `.gitattributes`, as on the Hub."""
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                raise RepoExists(f"You already created this {repo_type} repo", url=url)
            now = time.time()
            self._record(
                {
                    "t": "create",
                    "type": repo_type,
                    "id": repo_id,
                    "private": private,
                    "sdk": sdk,
                    "created": now,
                }
            )
            self._commit_locked(
                self._repos[(repo_type, repo_id)],
                [PutFile(".gitattributes", GITATTRIBUTES)],
                title="initial commit",
                message="",
                author=author,
                parent=None,
            )
            return self._repos[(repo_type, repo_id)]

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        with self._lock:
            self.require(repo_type, repo_id)
            self._record({"t": "delete", "type": repo_type, "id": repo_id})

    def set_private(self, repo: Repo, private: bool) -> None:
        with self._lock:
            self._record({"t": "private", "type": repo.type, "id": repo.id, "private": private})

    # --------------------------------------------------------------- commits
    def commit(
        self,
        repo: Repo,
        operations: list[Operation],
        *,
        title: str,
        message: str,
        author: str,
        parent: str | None,
        branch: str = DEFAULT_BRANCH,
    ) -> Commit:
        """Apply all of `operations` as one new commit on `branch`, or none of them.

        `parent` makes it a compare-and-swap: a parent that is not the head (full id or
        a prefix of 7+ hex digits) is refused with `StaleParent`.
        """
        with self._lock:
            if self._repos.get(repo.key) is not repo:
                raise RepoNotFound("Repository not found")
            if branch != DEFAULT_BRANCH:
                repo.resolve(branch)  # raises RevisionNotFound for anything but main
                raise BadRequest("Commits can only target the branch 'main' on the local Hub")
            return self._commit_locked(
                repo, operations, title=title, message=message, author=author, parent=parent
            )

    def _commit_locked(
        self,
        repo: Repo,
        operations: list[Operation],
        *,
        title: str,
        message: str,
        author: str,
        parent: str | None,
    ) -> Commit:
        head = repo.commits[-1].oid if repo.commits else None
        if parent is not None and (head is None or len(parent) < 7 or not head.startswith(parent)):
            raise StaleParent(STALE_PARENT)
        contents: dict[str, bytes] = {}

        def entry_for_content(content: bytes) -> FileEntry:
            entry = entry_for(content)
            contents[entry.sha256] = content
            return entry

        changes = stage(repo.tree, operations, entry_for_content, self._entry_for_blob)
        used = {entry.sha256 for _, entry in changes if entry is not None}
        placed = self.blobs.put_many({sha: data for sha, data in contents.items() if sha in used})
        seq = len(repo.commits)
        now = time.time()
        oid = hashlib.sha1(
            f"{repo.type}/{repo.id}\n{head}\n{seq}\n{now}\n{self._rng.getrandbits(64)}".encode(),
            usedforsecurity=False,
        ).hexdigest()
        self._record(
            {
                "t": "commit",
                "type": repo.type,
                "id": repo.id,
                "oid": oid,
                "parent": head,
                "title": title,
                "message": message,
                "author": author,
                "date": now,
                "changes": [[path, _entry_row(e)] for path, e in changes],
                "blobs": {sha: list(where) for sha, where in placed.items()},
            }
        )
        return repo.commits[-1]

    def _entry_for_blob(self, sha256: str) -> FileEntry | None:
        """An `lfsFile` line names content uploaded through LFS or Xet (or already stored)."""
        if sha256 not in self.blobs:
            return None
        return lfs_entry_for(sha256, self.blobs.size(sha256), self.cas.by_sha256.get(sha256))

    def read(self, entry: FileEntry) -> bytes:
        return self.blobs.get(entry.sha256)

    # ------------------------------------------------------------ xet, lfs
    def put_xorb(self, xorb_hash: str, data: bytes) -> bool:
        """Store a xorb after checking it hashes to `xorb_hash`; False if it was there."""
        if xorb_hash in self.cas.xorbs:
            return False
        computed, stored = index_xorb(data)
        if computed != xorb_hash:
            raise XetFormatError(f"the xorb's chunks hash to {computed}, not {xorb_hash}")
        with self._lock:
            if xorb_hash in self.cas.xorbs:
                return False
            key = f"xorb:{xorb_hash}"
            placed = self.blobs.put_many({key: data})
            self.cas.add_xorb(xorb_hash, stored)
            self._record({"t": "xorb", "hash": xorb_hash, "at": placed.get(key)})
            return True

    def put_shard(self, data: bytes, repo: tuple[str, str]) -> bool:
        """Register the files a shard describes (checked against the stored xorbs) for
        `repo`, and keep each file's bytes for plain downloads; False if no file was new."""
        files = self.cas.check_shard(data, lambda xorb: self.blobs.get(f"xorb:{xorb}"))
        with self._lock:
            fresh = [
                (file, content) for file, content in files if file.file_hash not in self.cas.files
            ]
            owned = self.cas.owners
            claimed = [f.file_hash for f, _ in files if repo not in owned.get(f.file_hash, ())]
            if not fresh and not claimed:
                return False
            placed = self.blobs.put_many({file.sha256: content for file, content in fresh})
            self._record(
                {
                    "t": "xet_files",
                    "repo": list(repo),
                    "owned": claimed,
                    "files": [
                        [
                            f.file_hash,
                            f.sha256,
                            f.size,
                            [[t.xorb, t.size, t.start, t.end] for t in f.terms],
                        ]
                        for f, _ in fresh
                    ],
                    "blobs": {sha: list(where) for sha, where in placed.items()},
                }
            )
            return bool(fresh)

    def put_lfs_object(self, sha256: str, data: bytes) -> None:
        """Keep content uploaded through the LFS basic transfer (the caller checked its sha256)."""
        with self._lock:
            placed = self.blobs.put_many({sha256: data})
            if placed:
                self._record({"t": "blob", "blobs": {sha: list(at) for sha, at in placed.items()}})

    # ------------------------------------------------------- spaces, tokens
    def set_space_value(
        self, repo: Repo, kind: str, key: str, value: dict[str, Any] | None
    ) -> None:
        """Set (or delete, with None) a Space secret or variable; `kind` names which."""
        with self._lock:
            self._record({"t": kind, "type": repo.type, "id": repo.id, "key": key, "value": value})

    def issue_token(self, user: str, lifetime: float) -> str:
        """A fresh access token for `user`, as the OpenID provider hands out."""
        with self._lock:
            token = f"hf_oauth_{secrets.token_hex(20)}"
            self._record(
                {"t": "token", "token": token, "user": user, "until": time.time() + lifetime}
            )
            return token

    def token_user(self, token: str) -> str | None:
        found = self._tokens.get(token)  # atomic; see `repo`
        if found is None or found[1] < time.time():
            return None
        return found[0]

    # ---------------------------------------------------------------- events
    def _record(self, event: dict[str, Any]) -> None:
        """Apply `event`, then make it durable. Called with the lock held."""
        self._apply(event)
        if self._journal is not None:
            self._journal.append(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event["t"]
        key = (event.get("type", ""), event.get("id", ""))
        if kind == "create":
            self._repos[key] = Repo(
                type=key[0],
                id=key[1],
                private=event["private"],
                sdk=event["sdk"],
                created=event["created"],
            )
        elif kind == "delete":
            self._repos.pop(key, None)
        elif kind == "private":
            self._repos[key].private = event["private"]
        elif kind == "commit":
            repo = self._repos[key]
            for sha, (offset, length) in event["blobs"].items():
                self.blobs.locate(sha, offset, length)
            changes: list[Change] = [(path, _row_entry(e)) for path, e in event["changes"]]
            seq = len(repo.commits)
            repo.tree.apply(seq, changes)
            for _, entry in changes:
                if entry is not None and entry.xet_hash:
                    self.cas.add_owner(entry.xet_hash, key)  # a repo reads what it holds
            repo.add_commit(
                Commit(
                    seq=seq,
                    oid=event["oid"],
                    parent=event["parent"],
                    title=event["title"],
                    message=event["message"],
                    author=event["author"],
                    date=event["date"],
                )
            )
        elif kind in ("secret", "variable"):
            store = self._repos[key].secrets if kind == "secret" else self._repos[key].variables
            if event["value"] is None:
                store.pop(event["key"], None)
            else:
                store[event["key"]] = event["value"]
        elif kind in ("xorb", "xet_files", "blob"):
            self._apply_xet(event)
        elif kind == "token":
            self._tokens[event["token"]] = (event["user"], event["until"])
        else:
            raise ValueError(f"unknown journal event {kind!r}")

    def _apply_xet(self, event: dict[str, Any]) -> None:
        kind = event["t"]
        if kind == "xorb":
            key = f"xorb:{event['hash']}"
            if event["at"] is not None:
                self.blobs.locate(key, *event["at"])
            if event["hash"] not in self.cas.xorbs:  # replay: index it again from the pack
                self.cas.add_xorb(event["hash"], index_xorb(self.blobs.get(key))[1])
            return
        for sha, (offset, length) in event["blobs"].items():
            self.blobs.locate(sha, offset, length)
        for file_hash, sha256, size, terms in event.get("files", []):
            self.cas.add_file(
                XetFile(file_hash, sha256, size, tuple(Term(*term) for term in terms))
            )
        for file_hash in event.get("owned", []):
            self.cas.add_owner(file_hash, (event["repo"][0], event["repo"][1]))


def _entry_row(entry: FileEntry | None) -> list[Any] | None:
    if entry is None:
        return None
    row: list[Any] = [entry.sha256, entry.oid, entry.size]
    if entry.lfs:
        row.append(entry.xet_hash or "")
    return row


def _row_entry(row: list[Any] | None) -> FileEntry | None:
    """A journal row back to an entry; a fourth field marks an LFS file (and its Xet hash)."""
    if row is None:
        return None
    if len(row) == 3:
        return FileEntry(row[0], row[1], row[2])
    return FileEntry(row[0], row[1], row[2], lfs=True, xet_hash=row[3] or None)
