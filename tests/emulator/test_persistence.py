"""A restarted emulator with the same data_dir keeps repos, history, secrets and tokens."""

from __future__ import annotations

from pathlib import Path

from emulator_helpers import ALICE, add
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download

from heldout.hub_emulator import EmulatorServer, EmulatorSettings


def read(server: EmulatorServer, path: str, revision: str) -> bytes:
    local = hf_hub_download(
        "alice/kept", path, repo_type="dataset", revision=revision, endpoint=server.url, token=ALICE
    )
    return Path(local).read_bytes()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorSettings(data_dir=tmp_path)) as server:
        api = HfApi(endpoint=server.url, token=ALICE)
        api.create_repo("alice/kept", repo_type="dataset", private=True)
        first = api.create_commit(
            "alice/kept",
            [CommitOperationAdd("a.txt", b"one"), CommitOperationAdd("big.bin", bytes(300_000))],
            commit_message="first",
            repo_type="dataset",
        ).oid
        second = api.create_commit(
            "alice/kept",
            [CommitOperationAdd("a.txt", b"two"), CommitOperationDelete("big.bin")],
            commit_message="second",
            repo_type="dataset",
        ).oid
        api.create_repo("alice/board", repo_type="space", space_sdk="gradio")
        api.add_space_secret("alice/board", "TOKEN", "v")
    journal_size = (tmp_path / "journal.jsonl").stat().st_size

    with EmulatorServer(EmulatorSettings(data_dir=tmp_path)) as server:
        api = HfApi(endpoint=server.url, token=ALICE)
        info = api.dataset_info("alice/kept")
        assert info.sha == second and info.private is True
        assert read(server, "a.txt", first) == b"one"
        assert read(server, "big.bin", first) == bytes(300_000)
        assert read(server, "a.txt", "main") == b"two"
        assert [c.title for c in api.list_repo_commits("alice/kept", repo_type="dataset")] == [
            "second",
            "first",
            "initial commit",
        ]
        assert list(api.get_space_secrets("alice/board")) == ["TOKEN"]
        third = api.create_commit(
            "alice/kept", add("c.txt"), commit_message="third", repo_type="dataset"
        )
        assert third.oid not in (first, second)
    # A small commit appends a little to the journal; it never rewrites the state.
    assert 0 < (tmp_path / "journal.jsonl").stat().st_size - journal_size < 2_000


def test_a_torn_last_journal_line_is_dropped(tmp_path: Path) -> None:
    with EmulatorServer(EmulatorSettings(data_dir=tmp_path)) as server:
        HfApi(endpoint=server.url, token=ALICE).create_repo("alice/kept", repo_type="dataset")
    with open(tmp_path / "journal.jsonl", "ab") as journal:
        journal.write(b'{"t":"commit","type":"data')  # a crash mid-write
    with EmulatorServer(EmulatorSettings(data_dir=tmp_path)) as server:
        api = HfApi(endpoint=server.url, token=ALICE)
        api.create_commit("alice/kept", add("x"), commit_message="after crash", repo_type="dataset")
    with EmulatorServer(EmulatorSettings(data_dir=tmp_path)) as server:
        api = HfApi(endpoint=server.url, token=ALICE)
        assert "x" in api.list_repo_files("alice/kept", repo_type="dataset")
