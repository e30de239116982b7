"""Listing and downloading through the real client, HfFileSystem, pandas and datasets."""

from __future__ import annotations

import io

import httpx
import pandas as pd
import pytest
from emulator_helpers import ALICE
from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from heldout.hub_emulator import EmulatorServer


def test_tree_pages_past_one_page(make_server) -> None:
    server = make_server(page_size=7)
    api = HfApi(endpoint=server.url, token=ALICE)
    api.create_repo("alice/q", repo_type="dataset")
    ops = [CommitOperationAdd(f"queue/PENDING/{i:03d}.json", b"{}") for i in range(30)]
    ops += [CommitOperationAdd(f"queue/DONE/{i:03d}.json", b"{}") for i in range(5)]
    api.create_commit("alice/q", ops, commit_message="c", repo_type="dataset")
    server.reset_counters()
    pending = list(api.list_repo_tree("alice/q", "queue/PENDING", repo_type="dataset"))
    assert [e.path for e in pending] == [f"queue/PENDING/{i:03d}.json" for i in range(30)]
    assert server.counters()["tree"] == 5  # 30 entries at 7 a page
    top = list(api.list_repo_tree("alice/q", "queue", repo_type="dataset"))
    assert [(type(e), e.path) for e in top] == [
        (RepoFolder, "queue/DONE"),
        (RepoFolder, "queue/PENDING"),
    ]
    everything = api.list_repo_files("alice/q", repo_type="dataset")
    assert len(everything) == 36 and len(set(everything)) == 36
    link = httpx.get(f"{server.url}/api/datasets/alice/q/tree/main/queue%2FPENDING").headers["link"]
    assert 'rel="next"' in link


def test_tree_of_a_missing_folder_is_entry_not_found(alice: HfApi, dataset: str) -> None:
    with pytest.raises(EntryNotFoundError):
        list(alice.list_repo_tree(dataset, "nope", repo_type="dataset"))


def test_paths_info(alice: HfApi, dataset: str) -> None:
    alice.create_commit(
        dataset, [CommitOperationAdd("d/f.txt", b"hello")], commit_message="c", repo_type="dataset"
    )
    infos = alice.get_paths_info(dataset, ["d/f.txt", "d", "missing"], repo_type="dataset")
    assert [type(i) for i in infos] == [RepoFile, RepoFolder]
    assert infos[0].size == 5 and len(infos[0].blob_id) == 40
    expanded = alice.get_paths_info(dataset, ["d/f.txt"], repo_type="dataset", expand=True)
    assert expanded[0].last_commit is not None and expanded[0].last_commit.title == "c"


def test_download_at_branch_and_at_old_sha(
    alice: HfApi, emulator: EmulatorServer, http: httpx.Client, dataset: str
) -> None:
    old = alice.create_commit(
        dataset, [CommitOperationAdd("f.txt", b"old")], commit_message="1", repo_type="dataset"
    ).oid
    new = alice.create_commit(
        dataset, [CommitOperationAdd("f.txt", b"new")], commit_message="2", repo_type="dataset"
    ).oid

    def get(revision: str | None) -> bytes:
        path = hf_hub_download(
            dataset,
            "f.txt",
            repo_type="dataset",
            revision=revision,
            endpoint=emulator.url,
            token=ALICE,
        )
        with open(path, "rb") as handle:
            return handle.read()

    assert get(None) == b"new" and get("main") == b"new"
    assert get(old) == b"old" and get(new) == b"new"
    head = http.head(f"/datasets/{dataset}/resolve/main/f.txt")
    assert head.headers["x-repo-commit"] == new
    assert head.headers["content-length"] == "3" and head.headers["etag"].startswith('"')


def test_download_errors_carry_the_hub_error_codes(
    alice: HfApi, emulator: EmulatorServer, dataset: str
) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(
            dataset, "missing.txt", repo_type="dataset", endpoint=emulator.url, token=ALICE
        )
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            dataset,
            ".gitattributes",
            repo_type="dataset",
            revision="f" * 40,
            endpoint=emulator.url,
            token=ALICE,
        )
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(
            "alice/no-such-repo", "x", repo_type="dataset", endpoint=emulator.url, token=ALICE
        )


def test_range_requests_get_206(
    alice: HfApi, emulator: EmulatorServer, http: httpx.Client, dataset: str
) -> None:
    alice.create_commit(
        dataset,
        [CommitOperationAdd("r.bin", bytes(range(100)))],
        commit_message="c",
        repo_type="dataset",
    )
    url = f"/datasets/{dataset}/resolve/main/r.bin"
    part = http.get(url, headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/100"
    assert http.get(url, headers={"range": "bytes=-5"}).content == bytes(range(95, 100))
    assert http.get(url, headers={"range": "bytes=200-"}).status_code == 416
    fs = HfFileSystem(endpoint=emulator.url, token=ALICE)
    with fs.open(f"datasets/{dataset}/r.bin", "rb", block_size=16) as handle:
        handle.seek(50)
        assert handle.read(5) == bytes(range(50, 55))


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_pandas_and_datasets_read_parquet(
    alice: HfApi, emulator: EmulatorServer, dataset: str
) -> None:
    first = pd.DataFrame({"job_id": ["a", "b"], "score": [0.5, 0.75]})
    second = pd.DataFrame({"job_id": ["c"], "score": [0.9]})
    alice.create_commit(
        dataset,
        [
            CommitOperationAdd("data/part-0.parquet", parquet(first)),
            CommitOperationAdd("data/part-1.parquet", parquet(second)),
        ],
        commit_message="results",
        repo_type="dataset",
    )
    HfFileSystem.clear_instance_cache()
    frame = pd.read_parquet(f"hf://datasets/{dataset}/data/part-0.parquet")
    pd.testing.assert_frame_equal(frame, first)

    import datasets

    loaded = datasets.load_dataset(dataset, split="train")
    assert sorted(loaded["job_id"]) == ["a", "b", "c"]
