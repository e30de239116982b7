"""The stock client's binary path against the emulator: preupload says "lfs", the file
goes through Xet (token, CAS xorbs and shard), and every kind of reader gets it back.

Each test checks the emulator's counters, so it cannot pass by files travelling inline.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path

import hf_xet
import httpx
import pandas as pd
import pytest
from emulator_helpers import ALICE
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.hf_api import RepoFile

from heldout.hub_emulator import EmulatorServer

XET_UPLOAD = ("xet_write_token", "cas_xorb_upload", "cas_shard_upload")
XET_DOWNLOAD = ("xet_read_token", "cas_reconstruction", "cas_xorb_fetch")


def delta(server: EmulatorServer, before: dict[str, int]) -> Counter[str]:
    return Counter(server.counters()) - Counter(before)


def parquet_bytes(rows: int = 2000) -> bytes:
    frame = pd.DataFrame({"id": range(rows), "score": [i / 7 for i in range(rows)]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_binary_file_goes_through_xet_and_comes_back_byte_exact(
    emulator: EmulatorServer, alice: HfApi, dataset: str, tmp_path: Path
) -> None:
    content = os.urandom(200_000) + b"\x00" * 50_000
    before = emulator.counters()
    alice.upload_file(
        path_or_fileobj=content, path_in_repo="a.bin", repo_id=dataset, repo_type="dataset"
    )
    used = delta(emulator, before)
    assert all(used[name] >= 1 for name in XET_UPLOAD), used
    assert used["unknown"] == 0  # the client asked for nothing the emulator does not serve

    [info] = alice.get_paths_info(dataset, ["a.bin"], repo_type="dataset")
    assert isinstance(info, RepoFile) and info.lfs is not None
    assert info.size == len(content) and info.lfs.size == len(content)
    local = tmp_path / "a.bin"
    local.write_bytes(content)
    # hf_xet computes the file hash on its own: the emulator agrees with it.
    [expected] = hf_xet.hash_files([str(local)])
    assert info.xet_hash == expected.hash
    siblings = {s.rfilename: s for s in alice.dataset_info(dataset, files_metadata=True).siblings}
    assert siblings["a.bin"].lfs is not None and siblings["a.bin"].lfs.sha256 == info.lfs.sha256

    before = emulator.counters()
    path = hf_hub_download(
        dataset, "a.bin", repo_type="dataset", endpoint=emulator.url, token=ALICE
    )
    assert Path(path).read_bytes() == content
    used = delta(emulator, before)
    assert all(used[name] >= 1 for name in XET_DOWNLOAD), used
    assert used["unknown"] == 0


def test_text_files_stay_inline_and_large_ones_go_through_xet(
    emulator: EmulatorServer, alice: HfApi, dataset: str
) -> None:
    before = emulator.counters()
    alice.upload_file(
        path_or_fileobj=b'{"a": 1}\n',
        path_in_repo="small.json",
        repo_id=dataset,
        repo_type="dataset",
    )
    assert not any(delta(emulator, before)[name] for name in XET_UPLOAD)

    big = b"0123456789abcdef\n" * (11 * 1024 * 1024 // 17)  # text, but over 10 MiB
    before = emulator.counters()
    alice.upload_file(
        path_or_fileobj=big, path_in_repo="big.txt", repo_id=dataset, repo_type="dataset"
    )
    assert delta(emulator, before)["cas_shard_upload"] >= 1
    files = {f.path: f for f in alice.list_repo_tree(dataset, repo_type="dataset")}
    assert files["small.json"].lfs is None and files["small.json"].xet_hash is None
    assert files["big.txt"].lfs is not None and files["big.txt"].xet_hash
    got = hf_hub_download(
        dataset, "big.txt", repo_type="dataset", endpoint=emulator.url, token=ALICE
    )
    assert Path(got).read_bytes() == big


def test_download_by_revision_and_plain_http_readers(
    emulator: EmulatorServer, alice: HfApi, dataset: str, http: httpx.Client
) -> None:
    first, second = os.urandom(90_000), os.urandom(120_000)
    old = alice.upload_file(
        path_or_fileobj=first, path_in_repo="p.bin", repo_id=dataset, repo_type="dataset"
    )
    alice.upload_file(
        path_or_fileobj=second, path_in_repo="p.bin", repo_id=dataset, repo_type="dataset"
    )
    path = hf_hub_download(
        dataset, "p.bin", repo_type="dataset", revision=old.oid, endpoint=emulator.url, token=ALICE
    )
    assert Path(path).read_bytes() == first

    url = f"/datasets/{dataset}/resolve/main/p.bin"
    head = http.head(url)
    assert head.headers["X-Xet-Hash"] and 'rel="xet-auth"' in head.headers["Link"]
    assert head.headers["X-Linked-Size"] == str(len(second))
    assert head.headers["Content-Length"] == str(len(second))
    assert http.get(url).content == second
    ranged = http.get(url, headers={"Range": "bytes=1000-1999"})
    assert ranged.status_code == 206 and ranged.content == second[1000:2000]


def test_hffilesystem_reads_ranges_of_a_xet_file(
    emulator: EmulatorServer, alice: HfApi, dataset: str
) -> None:
    content = os.urandom(300_000)
    alice.upload_file(
        path_or_fileobj=content, path_in_repo="r.bin", repo_id=dataset, repo_type="dataset"
    )
    fs = HfFileSystem(endpoint=emulator.url, token=ALICE)
    with fs.open(f"datasets/{dataset}/r.bin", "rb", block_size=4096) as handle:
        handle.seek(123_456)
        assert handle.read(10_000) == content[123_456:133_456]
    assert fs.cat_file(f"datasets/{dataset}/r.bin", start=5, end=50) == content[5:50]
    assert fs.info(f"datasets/{dataset}/r.bin")["xet_hash"]


def test_pandas_and_datasets_read_a_parquet_uploaded_through_xet(
    emulator: EmulatorServer, alice: HfApi, dataset: str
) -> None:
    data = parquet_bytes()
    before = emulator.counters()
    alice.upload_file(
        path_or_fileobj=data,
        path_in_repo="data/train.parquet",
        repo_id=dataset,
        repo_type="dataset",
    )
    assert delta(emulator, before)["cas_shard_upload"] >= 1
    frame = pd.read_parquet(f"hf://datasets/{dataset}/data/train.parquet")
    assert len(frame) == 2000 and frame["score"].iloc[7] == 1.0

    import datasets

    loaded = datasets.load_dataset(dataset, split="train")
    assert loaded.num_rows == 2000 and loaded[14]["score"] == 2.0


def test_xet_files_survive_a_restart(make_server, tmp_path: Path) -> None:
    content = os.urandom(150_000)
    server = make_server(data_dir=tmp_path / "hub")
    api = HfApi(endpoint=server.url, token=ALICE)
    api.create_repo("alice/keep", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=content, path_in_repo="k.bin", repo_id="alice/keep", repo_type="dataset"
    )
    server.stop()

    again = make_server(data_dir=tmp_path / "hub")
    api = HfApi(endpoint=again.url, token=ALICE)
    [info] = api.get_paths_info("alice/keep", ["k.bin"], repo_type="dataset")
    assert info.xet_hash
    cache = tmp_path / "cache"
    path = hf_hub_download(
        "alice/keep", "k.bin", repo_type="dataset", endpoint=again.url, token=ALICE, cache_dir=cache
    )
    assert Path(path).read_bytes() == content
    assert again.counters()["cas_xorb_fetch"] >= 1
    # The same bytes again: the CAS already holds every xorb, so nothing new is stored.
    api.upload_file(
        path_or_fileobj=content, path_in_repo="copy.bin", repo_id="alice/keep", repo_type="dataset"
    )
    assert again.counters().get("cas_xorb_commit", 0) == 0


def test_copying_a_xet_file_keeps_its_xet_hash(alice: HfApi, dataset: str) -> None:
    from huggingface_hub import CommitOperationCopy

    alice.upload_file(
        path_or_fileobj=os.urandom(40_000),
        path_in_repo="src.bin",
        repo_id=dataset,
        repo_type="dataset",
    )
    alice.create_commit(
        dataset,
        [CommitOperationCopy("src.bin", "dst.bin")],
        commit_message="copy",
        repo_type="dataset",
    )
    infos = {
        i.path: i
        for i in alice.get_paths_info(dataset, ["src.bin", "dst.bin"], repo_type="dataset")
    }
    assert infos["dst.bin"].xet_hash == infos["src.bin"].xet_hash
    assert infos["dst.bin"].lfs.sha256 == infos["src.bin"].lfs.sha256


@pytest.mark.parametrize("path", ["x.parquet", "deep/y.zip"])
def test_gitattributes_patterns_send_text_files_through_lfs(
    emulator: EmulatorServer, alice: HfApi, dataset: str, path: str
) -> None:
    before = emulator.counters()
    alice.upload_file(
        path_or_fileobj=b"plain text\n", path_in_repo=path, repo_id=dataset, repo_type="dataset"
    )
    assert delta(emulator, before)["cas_shard_upload"] >= 1
