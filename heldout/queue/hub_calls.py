"""One attempt of each Hub request a `HubStore` makes: no retry, no caching, no translation.

Retrying (`retry.py`), the process-wide rate governor (`governor.py`), error
translation (`hub_errors.py`) and caching (`hub_reads.py`) all sit above this module,
so each request is written once and can be counted as exactly one request.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_url,
)
from huggingface_hub.errors import RemoteEntryNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, paginate

from heldout.errors import Conflict, StoreError
from heldout.queue.hub_client import STORE_HEADER
from heldout.queue.store import Add, Operation

DEFAULT_BRANCH = "main"


class HubCalls:
    """The requests themselves, on one repo with one token."""

    def __init__(
        self, repo_id: str, repo_type: str, token: str | None, endpoint: str | None
    ) -> None:
        self.repo_id = repo_id
        self.repo_type = repo_type
        self._token = token
        self._endpoint = endpoint
        self._headers = {STORE_HEADER: "1"}  # no retries inside the client: see hub_client
        self.api = HfApi(endpoint=endpoint, token=token, headers=self._headers)

    def create_repo(self, private: bool) -> None:
        self.api.create_repo(self.repo_id, private=private, repo_type=self.repo_type, exist_ok=True)

    def head(self) -> str:
        """One request: the repo info, trimmed to the branch's sha."""
        info = self.api.repo_info(self.repo_id, repo_type=self.repo_type, expand=["sha"])
        if not info.sha:
            raise StoreError(f"repo {self.repo_id} has no commit yet")
        return info.sha

    def tree(self, folder: str, *, recursive: bool, revision: str | None = None) -> list[RepoFile]:
        """The files under `folder` (paged by the Hub); a missing folder has none."""
        try:
            entries = list(
                self.api.list_repo_tree(
                    self.repo_id,
                    path_in_repo=folder or None,
                    recursive=recursive,
                    expand=False,
                    revision=revision,
                    repo_type=self.repo_type,
                )
            )
        except RemoteEntryNotFoundError:
            return []
        return [entry for entry in entries if isinstance(entry, RepoFile)]

    def paths_info(self, paths: list[str], revision: str) -> list[RepoFile]:
        infos = self.api.get_paths_info(
            self.repo_id, paths, repo_type=self.repo_type, revision=revision
        )
        return [info for info in infos if isinstance(info, RepoFile)]

    def get(self, path: str, revision: str) -> tuple[bytes, str | None]:
        """One GET of the file at `revision`: (content, its content id from the ETag).

        No HEAD first, unlike `hf_hub_download`: the caller already knows which file it
        wants, and caches by content id itself."""
        url = hf_hub_url(
            self.repo_id, path, repo_type=self.repo_type, revision=revision, endpoint=self._endpoint
        )
        response = get_session().get(
            url,
            headers=build_hf_headers(token=self._token, headers=self._headers),
            follow_redirects=True,
        )
        hf_raise_for_status(response)
        etag = response.headers.get("X-Linked-Etag") or response.headers.get("ETag")
        content_id = etag.removeprefix("W/").strip('"') if etag else None
        return response.content, content_id or None

    def commits_since(self, parent: str) -> Iterator[tuple[str, str]]:
        """(id, title and message) of each commit after `parent`, newest first.

        Reads the history page by page and stops at `parent`, so it costs one request
        when fewer than a page of commits were made since. Raises `Conflict` if the
        history does not reach `parent` (rewritten, or not ours to read)."""
        for item in self.history():
            if item.get("id") == parent:
                return
            yield str(item.get("id")), f"{item.get('title') or ''}\n{item.get('message') or ''}"
        raise Conflict(f"commit to {self.repo_id}: the history does not reach the parent commit")

    def history(self) -> Iterator[dict]:
        """The commits of the main branch, newest first, read a page at a time."""
        url = f"{self.api.endpoint}/api/{self.repo_type}s/{self.repo_id}/commits/{DEFAULT_BRANCH}"
        headers = build_hf_headers(token=self._token, headers=self._headers)
        yield from paginate(url, params={}, headers=headers)

    def count_commits_after(self, when: datetime) -> int:
        """How many commits were made after `when` (the pages up to it, no more)."""
        n = 0
        for item in self.history():
            date = item.get("date")
            if not date or datetime.fromisoformat(str(date).replace("Z", "+00:00")) <= when:
                break
            n += 1
        return n

    def create_commit(
        self,
        extra: list[Add],
        operations: list[Operation],
        message: str,
        description: str,
        parent: str,
    ) -> str:
        """One `create_commit`; fresh operation objects each time, as the client mutates them."""
        hub_ops: list[CommitOperationAdd | CommitOperationDelete] = []
        for op in [*extra, *operations]:
            if isinstance(op, Add):
                hub_ops.append(CommitOperationAdd(path_in_repo=op.path, path_or_fileobj=op.content))
            else:
                hub_ops.append(CommitOperationDelete(path_in_repo=op.path, is_folder=False))
        info = self.api.create_commit(
            self.repo_id,
            hub_ops,
            commit_message=message,
            commit_description=description,
            repo_type=self.repo_type,
            parent_commit=parent,
        )
        return info.oid
