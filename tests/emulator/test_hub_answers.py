"""The Hub's answers for things that are not there, as the real client reads them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from emulator_helpers import ALICE
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    DatasetCard,
    HfApi,
    hf_hub_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import EntryNotFoundError
from huggingface_hub.file_download import _CACHED_NO_EXIST

from heldout.hub_emulator import EmulatorServer


def test_missing_folder_in_a_listing_is_entry_not_found(
    alice: HfApi, dataset: str, http: httpx.Client
) -> None:
    alice.upload_file(
        path_or_fileobj=b"x",
        path_in_repo="queue/PENDING/a.json",
        repo_id=dataset,
        repo_type="dataset",
    )
    with pytest.raises(EntryNotFoundError):
        list(alice.list_repo_tree(dataset, path_in_repo="queue/RUNNING", repo_type="dataset"))
    answer = http.get(f"/api/datasets/{dataset}/tree/main/queue%2FRUNNING")
    assert answer.status_code == 404 and answer.headers["X-Error-Code"] == "EntryNotFound"


def test_missing_readme_is_entry_not_found_and_remembered(
    emulator: EmulatorServer, alice: HfApi, dataset: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            dataset,
            "README.md",
            repo_type="dataset",
            endpoint=emulator.url,
            token=ALICE,
            cache_dir=cache,
        )
    # The 404 names the commit, so the client remembers the file is missing there.
    cached = try_to_load_from_cache(dataset, "README.md", cache_dir=cache, repo_type="dataset")
    assert cached is _CACHED_NO_EXIST
    with pytest.raises(EntryNotFoundError):
        DatasetCard.load(dataset, repo_type="dataset", token=ALICE)
    assert alice.dataset_info(dataset).card_data is None


def test_listings_never_hold_blank_entries(alice: HfApi, dataset: str) -> None:
    first = alice.create_commit(
        dataset,
        [CommitOperationAdd(p, b"x") for p in ("a/b/c.txt", "a/d.txt", "e.txt", "f/g/h/i.txt")],
        commit_message="files",
        repo_type="dataset",
    )
    alice.create_commit(
        dataset,
        [
            CommitOperationDelete("a/", is_folder=True),
            CommitOperationDelete("f/g/h/i.txt"),
            CommitOperationAdd("a", b"now a file"),
        ],
        commit_message="reshape",
        repo_type="dataset",
    )
    for revision in (first.oid, "main"):
        for recursive in (False, True):
            for expand in (False, True):
                entries = list(
                    alice.list_repo_tree(
                        dataset,
                        repo_type="dataset",
                        revision=revision,
                        recursive=recursive,
                        expand=expand,
                    )
                )
                paths = [entry.path for entry in entries]
                assert all(paths) and len(set(paths)) == len(paths), paths
                for entry in entries:
                    assert entry.blob_id if hasattr(entry, "blob_id") else entry.tree_id
    head = {e.path for e in alice.list_repo_tree(dataset, repo_type="dataset", recursive=True)}
    assert head == {".gitattributes", "a", "e.txt"}
