"""Bad repo ids and paths are refused with a clear InvalidPath, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from heldout.errors import InvalidPath
from heldout.queue.hub_store import HubStore
from heldout.queue.local_store import LocalStore
from heldout.queue.store import Add, Delete

# Nothing listens here: a request would fail with a connection error, not InvalidPath.
NOWHERE = "http://127.0.0.1:9"

BAD_PATHS = {
    "dotdot": ("../escape", "'..'"),
    "inner dotdot": ("a/../../b", "'..'"),
    "absolute": ("/etc/passwd", "relative"),
    "empty": ("", "non-empty"),
    "empty segment": ("a//b", "empty"),
    "backslash": ("a\\b", "relative"),
    "too long": ("a" * 600, "at most 512"),
    "odd characters": ("a/b c", "characters"),
}

BAD_REPO_IDS = ["", "no-namespace", "a/b/c", "../x", "a/..", "/abs", "a/" + "b" * 200, "a b/c"]


@pytest.fixture(params=["local", "hub"])
def offline_store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        return LocalStore(tmp_path)
    return HubStore("alice/repo", token="hf_test_alice", endpoint=NOWHERE, retry_seconds=0)


@pytest.mark.parametrize("name", BAD_PATHS)
def test_bad_paths_are_refused_by_read_and_in_operations(offline_store, name: str) -> None:
    path, says = BAD_PATHS[name]
    with pytest.raises(InvalidPath, match=says):
        offline_store.read(path)
    with pytest.raises(InvalidPath, match=says):
        Add(path, b"x")
    with pytest.raises(InvalidPath, match=says):
        Delete(path)


@pytest.mark.parametrize("prefix", ["../up", "a/../b", "a//b"])
def test_bad_prefixes_are_refused_by_list(offline_store, prefix: str) -> None:
    with pytest.raises(InvalidPath):
        offline_store.list(prefix)


@pytest.mark.parametrize("repo_id", BAD_REPO_IDS)
def test_bad_repo_ids_are_refused(repo_id: str) -> None:
    with pytest.raises(InvalidPath, match="namespace/name"):
        HubStore(repo_id, token="hf_test_alice", endpoint=NOWHERE)
    with pytest.raises(InvalidPath, match="namespace/name"):
        HubStore.create(repo_id, token="hf_test_alice", endpoint=NOWHERE)


def test_the_marker_folder_is_reserved_on_the_hub() -> None:
    store = HubStore("alice/repo", token="hf_test_alice", endpoint=NOWHERE, retry_seconds=0)
    with pytest.raises(InvalidPath, match="reserved"):
        store.commit([Add(".heldout/commit.json", b"{}")], "sneaky", "0" * 40)


def test_the_token_is_not_in_the_repr() -> None:
    store = HubStore("alice/repo", token="hf_secret_value", endpoint=NOWHERE)
    assert "hf_secret_value" not in repr(store)
