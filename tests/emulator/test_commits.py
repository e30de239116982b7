"""Commits through the real client: operations, compare-and-swap, atomicity, history."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from emulator_helpers import add
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError


def read(api: HfApi, repo_id: str, path: str, revision: str | None = None) -> bytes:
    local = hf_hub_download(
        repo_id,
        path,
        repo_type="dataset",
        revision=revision,
        endpoint=api.endpoint,
        token=api.token,
    )
    with open(local, "rb") as handle:
        return handle.read()


def files(api: HfApi, repo_id: str, revision: str | None = None) -> list[str]:
    return sorted(api.list_repo_files(repo_id, repo_type="dataset", revision=revision))


def test_add_replace_delete_and_copy(alice: HfApi, dataset: str) -> None:
    first = alice.create_commit(
        dataset,
        [CommitOperationAdd("a/one.txt", b"1"), CommitOperationAdd("a/two.txt", b"2")],
        commit_message="add",
        repo_type="dataset",
    )
    assert len(first.oid) == 40 and first.commit_url.endswith(first.oid)
    alice.create_commit(
        dataset,
        [
            CommitOperationCopy("a/one.txt", "b/copy.txt"),
            CommitOperationDelete("a/two.txt"),
            CommitOperationAdd("a/one.txt", b"one"),
        ],
        commit_message="copy, delete, replace",
        repo_type="dataset",
    )
    assert files(alice, dataset) == [".gitattributes", "a/one.txt", "b/copy.txt"]
    assert read(alice, dataset, "b/copy.txt") == b"1"
    assert read(alice, dataset, "a/one.txt") == b"one"
    alice.create_commit(
        dataset, [CommitOperationDelete("a/")], commit_message="rm folder", repo_type="dataset"
    )
    assert files(alice, dataset) == [".gitattributes", "b/copy.txt"]
    assert files(alice, dataset, revision=first.oid) == [".gitattributes", "a/one.txt", "a/two.txt"]


def test_a_stale_parent_commit_gets_412(alice: HfApi, dataset: str) -> None:
    base = alice.dataset_info(dataset).sha
    alice.create_commit(
        dataset, add("x", b"1"), commit_message="w1", repo_type="dataset", parent_commit=base
    )
    with pytest.raises(HfHubHTTPError) as caught:
        alice.create_commit(
            dataset, add("y", b"2"), commit_message="w2", repo_type="dataset", parent_commit=base
        )
    assert caught.value.response.status_code == 412
    assert "y" not in files(alice, dataset)


def test_a_commit_with_a_bad_delete_changes_nothing(alice: HfApi, dataset: str) -> None:
    before = alice.dataset_info(dataset).sha
    with pytest.raises(EntryNotFoundError) as caught:
        alice.create_commit(
            dataset,
            [CommitOperationAdd("new.txt", b"n"), CommitOperationDelete("missing.txt")],
            commit_message="half",
            repo_type="dataset",
        )
    assert caught.value.response.status_code == 404
    assert "doesn't exist" in str(caught.value)
    assert alice.dataset_info(dataset).sha == before
    assert files(alice, dataset) == [".gitattributes"]


def test_history_keeps_every_version(alice: HfApi, dataset: str) -> None:
    shas = []
    for value in (b"v1", b"v2", b"v3"):
        shas.append(
            alice.create_commit(
                dataset, add("f.txt", value), commit_message=value.decode(), repo_type="dataset"
            ).oid
        )
    assert [read(alice, dataset, "f.txt", sha) for sha in shas] == [b"v1", b"v2", b"v3"]
    log = alice.list_repo_commits(dataset, repo_type="dataset")
    assert [c.commit_id for c in log[:3]] == shas[::-1]
    assert [c.title for c in log] == ["v3", "v2", "v1", "initial commit"]
    assert log[0].authors == ["alice"]


def test_commit_history_pages(alice: HfApi, dataset: str) -> None:
    for i in range(55):
        alice.create_commit(
            dataset, add("n", str(i).encode()), commit_message=f"c{i}", repo_type="dataset"
        )
    log = alice.list_repo_commits(dataset, repo_type="dataset")
    assert len(log) == 56 and log[0].title == "c54" and log[-1].title == "initial commit"


def test_preupload_reports_the_head_oid_so_the_client_skips_unchanged_files(
    alice: HfApi, dataset: str
) -> None:
    """As on the Hub: re-adding identical bytes is dropped by the client, no commit is made."""
    first = alice.create_commit(
        dataset, add("same.txt", b"s"), commit_message="a", repo_type="dataset"
    )
    again = alice.create_commit(
        dataset, add("same.txt", b"s"), commit_message="b", repo_type="dataset"
    )
    assert again.oid == first.oid


def test_malformed_commits_are_refused(http: httpx.Client, dataset: str) -> None:
    url = f"/api/datasets/{dataset}/commit/main"
    headers = {"authorization": "Bearer hf_test_alice", "content-type": "application/x-ndjson"}
    no_header = b'{"key":"deletedFile","value":{"path":".gitattributes"}}\n'
    assert http.post(url, content=no_header, headers=headers).status_code == 400
    bad_path = (
        b'{"key":"header","value":{"summary":"s"}}\n'
        b'{"key":"file","value":{"path":"../x","content":"eA==","encoding":"base64"}}\n'
    )
    answer = http.post(url, content=bad_path, headers=headers)
    assert answer.status_code == 400 and "Invalid path" in answer.json()["error"]
    over_file = (
        b'{"key":"header","value":{"summary":"s"}}\n'
        b'{"key":"file","value":{"path":".gitattributes/x","content":"eA==","encoding":"base64"}}\n'
    )
    assert http.post(url, content=over_file, headers=headers).status_code == 400


def test_concurrent_compare_and_swap_loses_no_update(alice: HfApi, dataset: str) -> None:
    """8 writers increment one counter with parentCommit; every increment must land once."""
    alice.create_commit(dataset, add("counter", b"0"), commit_message="init", repo_type="dataset")

    def increment(worker: int) -> None:
        for step in range(5):
            while True:
                head = alice.dataset_info(dataset, expand=["sha"]).sha
                value = int(read(alice, dataset, "counter", head))
                ops = [
                    CommitOperationAdd("counter", str(value + 1).encode()),
                    CommitOperationAdd("nonce", f"{worker}-{step}".encode()),  # never a no-op
                ]
                try:
                    alice.create_commit(
                        dataset, ops, commit_message="inc", repo_type="dataset", parent_commit=head
                    )
                    break
                except HfHubHTTPError as error:
                    assert error.response.status_code == 412

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(increment, range(8)))
    assert read(alice, dataset, "counter") == b"40"
