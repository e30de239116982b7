"""A repo as the emulator keeps it: settings, linear history and its file tree.

Only one branch, `main`, is kept, so history is a list and a commit's position in it
(`seq`) is also its version number in the `RepoTree`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from heldout.hub_emulator.errors import BadRequest, RevisionNotFound
from heldout.hub_emulator.tree import RepoTree

REPO_TYPES = ("model", "dataset", "space")
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
DEFAULT_BRANCH = "main"
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_HEX = re.compile(r"^[0-9a-f]{7,40}$")

GITATTRIBUTES = b"""*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
"""
"""What the Hub puts in a new repo's first commit (abridged). `preupload` reads it:
files it tracks with `filter=lfs` go through LFS or Xet, as on the Hub."""


def check_repo_name(namespace: str, name: str) -> str:
    for part in (namespace, name):
        if not REPO_NAME.match(part) or ".." in part or "--" in part:
            raise BadRequest(
                f"Invalid repo name {namespace}/{name}: use letters, digits, '-', '_' and '.'"
            )
    return f"{namespace}/{name}"


def iso(timestamp: float) -> str:
    """The Hub's date format, which `huggingface_hub.utils.parse_datetime` expects."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Commit:
    seq: int
    oid: str
    parent: str | None
    title: str
    message: str
    author: str
    date: float


@dataclass
class Repo:
    type: str
    id: str
    private: bool
    sdk: str | None = None
    created: float = field(default_factory=time.time)
    tree: RepoTree = field(default_factory=RepoTree)
    commits: list[Commit] = field(default_factory=list)
    by_oid: dict[str, Commit] = field(default_factory=dict)
    secrets: dict[str, dict[str, str | None]] = field(default_factory=dict)
    variables: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.id)

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def path_prefix(self) -> str:
        """`datasets/ns/name`, `spaces/ns/name` or `ns/name`, as in the Hub's web URLs."""
        return URL_PREFIXES[self.type] + self.id

    def resolve(self, revision: str | None) -> Commit:
        """The commit a revision names: the branch `main`, or a commit id (7+ hex digits)."""
        if revision is None or revision == DEFAULT_BRANCH:
            return self.head
        commit = self.by_oid.get(revision)
        if commit is not None:
            return commit
        if _HEX.match(revision):
            matches = [c for c in self.commits if c.oid.startswith(revision)]
            if len(matches) == 1:
                return matches[0]
        raise RevisionNotFound(f"Invalid rev id: {revision}")

    def add_commit(self, commit: Commit) -> None:
        self.commits.append(commit)
        self.by_oid[commit.oid] = commit
