"""With `HF_HUB_DISABLE_XET=1` the stock client uploads "lfs" files through the git LFS
batch API (basic transfer) and downloads Xet files over plain HTTP.

`huggingface_hub` reads the variable at import, so the client runs in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import httpx
import pytest
from emulator_helpers import ALICE
from huggingface_hub import HfApi, hf_hub_download

from heldout.hub_emulator import EmulatorServer

CLIENT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from huggingface_hub import HfApi, constants, hf_hub_download
    assert constants.HF_HUB_DISABLE_XET
    endpoint, repo, *steps = sys.argv[1:]
    api = HfApi(endpoint=endpoint, token="hf_test_alice")
    for step in steps:
        action, path, local = step.split("|")
        if action == "upload":
            api.upload_file(path_or_fileobj=local, path_in_repo=path, repo_id=repo, repo_type="dataset")
        else:
            got = hf_hub_download(repo, path, repo_type="dataset", endpoint=endpoint,
                                  token="hf_test_alice", cache_dir=local + ".cache")
            Path(local).write_bytes(Path(got).read_bytes())
    """
)


def run_without_xet(server: EmulatorServer, repo: str, *steps: str) -> None:
    env = {**os.environ, "HF_HUB_DISABLE_XET": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [sys.executable, "-c", CLIENT, server.url, repo, *steps], env=env, check=True, timeout=120
    )


@pytest.mark.slow
def test_lfs_upload_without_xet_and_downloads_both_ways(
    emulator: EmulatorServer, alice: HfApi, dataset: str, tmp_path: Path
) -> None:
    content, xet_content = os.urandom(120_000), os.urandom(80_000)
    source = tmp_path / "model.bin"
    source.write_bytes(content)
    # Stored through Xet here, then read by the client with Xet off: plain HTTP.
    alice.upload_file(
        path_or_fileobj=xet_content, path_in_repo="x.bin", repo_id=dataset, repo_type="dataset"
    )
    out = tmp_path / "x.out"
    before = Counter(emulator.counters())
    run_without_xet(
        emulator,
        dataset,
        f"upload|model.bin|{source}",
        f"upload|again.bin|{source}",  # same bytes: the batch answer has no actions
        f"download|x.bin|{out}",
    )
    used = Counter(emulator.counters()) - before
    assert used["lfs_batch"] == 2 and used["lfs_upload"] == 1 and used["lfs_verify"] == 1, used
    assert used["cas_shard_upload"] == 0 and used["xet_write_token"] == 0
    assert used["cas_reconstruction"] == 0
    assert out.read_bytes() == xet_content

    infos = alice.get_paths_info(dataset, ["model.bin", "again.bin"], repo_type="dataset")
    for info in infos:
        assert info.lfs is not None and info.lfs.size == len(content) and info.xet_hash is None
    path = hf_hub_download(
        dataset, "model.bin", repo_type="dataset", endpoint=emulator.url, token=ALICE
    )
    assert Path(path).read_bytes() == content


def test_lfs_upload_urls_are_signed_and_checked(
    alice: HfApi, dataset: str, http: httpx.Client
) -> None:
    import hashlib

    content = b"\x00binary" * 1000
    oid = hashlib.sha256(content).hexdigest()
    batch = http.post(
        f"/datasets/{dataset}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": len(content)}],
        },
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert batch.status_code == 200
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    assert http.put(href.split("&sig=")[0] + "&sig=forged", content=content).status_code == 403
    assert http.put(href, content=content[:-1] + b"!").status_code == 400
    verify = batch.json()["objects"][0]["actions"]["verify"]["href"]
    auth = {"Authorization": f"Bearer {ALICE}"}
    assert (
        http.post(verify, json={"oid": oid, "size": len(content)}, headers=auth).status_code == 404
    )
    assert http.put(href, content=content).status_code == 200
    assert (
        http.post(verify, json={"oid": oid, "size": len(content)}, headers=auth).status_code == 200
    )
    anonymous = http.post(
        f"/datasets/{dataset}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(content)}]},
    )
    assert anonymous.status_code == 401


def test_an_lfs_object_uploaded_before_a_restart_can_be_committed_after(
    make_server, tmp_path
) -> None:
    import hashlib
    import json

    content = b"\x00\x01binary payload" * 500
    oid = hashlib.sha256(content).hexdigest()
    auth = {"Authorization": f"Bearer {ALICE}"}
    server = make_server(data_dir=tmp_path / "hub")
    HfApi(endpoint=server.url, token=ALICE).create_repo("alice/lfs", repo_type="dataset")
    with httpx.Client(base_url=server.url) as http:
        batch = http.post(
            "/datasets/alice/lfs.git/info/lfs/objects/batch",
            json={"operation": "upload", "objects": [{"oid": oid, "size": len(content)}]},
            headers=auth,
        ).json()
        assert (
            http.put(batch["objects"][0]["actions"]["upload"]["href"], content=content).status_code
            == 200
        )
    server.stop()

    again = make_server(data_dir=tmp_path / "hub")
    lines = [
        {"key": "header", "value": {"summary": "add an LFS file"}},
        {
            "key": "lfsFile",
            "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(content)},
        },
    ]
    with httpx.Client(base_url=again.url) as http:
        answer = http.post(
            "/api/datasets/alice/lfs/commit/main",
            content="\n".join(json.dumps(line) for line in lines).encode(),
            headers={**auth, "Content-Type": "application/x-ndjson"},
        )
        assert answer.status_code == 200, answer.text
        assert http.get("/datasets/alice/lfs/resolve/main/w.bin").content == content
        unknown = dict(lines[1]["value"], oid="0" * 64, path="x.bin")
        refused = http.post(
            "/api/datasets/alice/lfs/commit/main",
            content="\n".join(
                json.dumps(line) for line in [lines[0], {"key": "lfsFile", "value": unknown}]
            ).encode(),
            headers={**auth, "Content-Type": "application/x-ndjson"},
        )
        assert refused.status_code == 400
