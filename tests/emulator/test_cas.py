"""The emulated CAS refuses what the Xet specification says a CAS must refuse.

Xorb bytes come from the real client's upload (fetched back through a reconstruction);
shards are built here, field by field, to break exactly one rule each.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import httpx
import pytest
from emulator_helpers import ALICE
from huggingface_hub import HfApi

from heldout.hub_emulator.xet_format import hash_hex

TAG = b"HFRepoMetaData\x00" + bytes(17)


def token(http: httpx.Client, dataset: str, kind: str) -> tuple[str, dict[str, str]]:
    answer = http.get(
        f"/api/datasets/{dataset}/xet-{kind}-token/main",
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert answer.headers["X-Xet-Access-Token"] == body["accessToken"]
    return body["casUrl"], {"Authorization": f"Bearer {body['accessToken']}"}


@pytest.fixture()
def uploaded(alice: HfApi, dataset: str, http: httpx.Client) -> dict:
    """A random file uploaded by the real client, and its reconstruction."""
    content = os.urandom(70_000)
    alice.upload_file(
        path_or_fileobj=content, path_in_repo="f.bin", repo_id=dataset, repo_type="dataset"
    )
    [info] = alice.get_paths_info(dataset, ["f.bin"], repo_type="dataset")
    cas, auth = token(http, dataset, "read")
    plan = http.get(f"{cas}/v2/reconstructions/{info.xet_hash}", headers=auth).json()
    return {"content": content, "file": info.xet_hash, "plan": plan, "cas": cas}


def shard(file_hash: bytes, xorb_hash: bytes, size: int, chunks: int) -> bytes:
    bookend = b"\xff" * 32 + bytes(16)
    header = TAG + struct.pack("<QQ", 2, 0)
    info = file_hash + struct.pack("<IIQ", 0, 1, 0)
    term = xorb_hash + struct.pack("<IIII", 0, size, 0, chunks)
    return header + info + term + bookend + bookend


def raw(text: str) -> bytes:
    return struct.pack("<4Q", *(int(text[i : i + 16], 16) for i in range(0, 64, 16)))


def test_hash_strings_follow_the_spec_example() -> None:
    # The spec's example string drops the "10" of the third word (62 digits); this is
    # its procedure applied to bytes 0..31: each 8-byte word read little-endian.
    assert hash_hex(bytes(range(32))) == (
        "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    )


def test_reconstruction_ranges_and_signed_fetches(
    uploaded: dict, http: httpx.Client, dataset: str
) -> None:
    cas, auth = token(http, dataset, "read")
    file_id, content = uploaded["file"], uploaded["content"]
    part = http.get(
        f"{cas}/v2/reconstructions/{file_id}", headers={**auth, "Range": "bytes=65000-65099"}
    )
    body = part.json()
    offset = body["offset_into_first_range"]
    assert 0 < offset <= 65000
    [(xorb, [fetch])] = body["xorbs"].items()
    first, last = fetch["ranges"][0]["bytes"]["start"], fetch["ranges"][0]["bytes"]["end"]
    got = http.get(fetch["url"], headers={"Range": f"bytes={first}-{last}"})
    assert got.status_code == 206 and len(got.content) == last - first + 1
    forged = fetch["url"].split("&sig=")[0] + "&sig=" + "0" * 64
    assert http.get(forged, headers={"Range": f"bytes={first}-{last}"}).status_code == 403
    outside = http.get(
        f"{cas}/v1/reconstructions/{file_id}", headers={**auth, "Range": f"bytes={len(content)}-"}
    )
    assert outside.status_code == 416
    v1 = http.get(f"{cas}/v1/reconstructions/{file_id}", headers=auth).json()
    assert v1["offset_into_first_range"] == 0 and xorb in v1["fetch_info"]
    assert sum(term["unpacked_length"] for term in v1["terms"]) == len(content)
    assert http.get(f"{cas}/v2/reconstructions/{'ab' * 32}", headers=auth).status_code == 404
    assert http.get(f"{cas}/v2/reconstructions/{file_id}").status_code == 401
    # A token is scoped to its repo: another public repo's token cannot read this file.
    other = f"{dataset}-other"
    HfApi(endpoint=http.base_url.__str__().rstrip("/"), token=ALICE).create_repo(
        other, repo_type="dataset"
    )
    _, elsewhere = token(http, other, "read")
    assert http.get(f"{cas}/v2/reconstructions/{file_id}", headers=elsewhere).status_code == 404
    assert http.head(f"{cas}/v1/files/{file_id}", headers=elsewhere).status_code == 404


def test_cas_refuses_bad_tokens_tampered_xorbs_and_false_shards(
    uploaded: dict, http: httpx.Client, dataset: str
) -> None:
    cas, read = token(http, dataset, "read")
    _, write = token(http, dataset, "write")
    [(xorb, [fetch])] = uploaded["plan"]["xorbs"].items()
    last = fetch["ranges"][-1]["bytes"]["end"]
    data = http.get(fetch["url"], headers={"Range": f"bytes=0-{last}"}).content
    assert (
        http.post(f"{cas}/v1/xorbs/default/{xorb}", content=data, headers=read).status_code == 403
    )
    # Stored already: accepted, not inserted again.
    same = http.post(f"{cas}/v1/xorbs/default/{xorb}", content=data, headers=write)
    assert same.status_code == 200 and same.json() == {"was_inserted": False}
    tampered = bytearray(data)
    tampered[-1] ^= 0xFF
    other = "cd" * 32
    answer = http.post(f"{cas}/v1/xorbs/default/{other}", content=bytes(tampered), headers=write)
    assert answer.status_code == 400
    assert http.head(f"{cas}/v1/xorbs/default/{other}", headers=read).status_code == 404

    size = len(uploaded["content"])
    chunks = fetch["ranges"][-1]["chunks"]["end"]
    missing = shard(os.urandom(32), raw(other), size, chunks)
    answer = http.post(f"{cas}/v1/shards", content=missing, headers=write)
    assert answer.status_code == 400 and "never uploaded" in answer.json()["error"]
    wrong_file = shard(os.urandom(32), raw(xorb), size, chunks)
    answer = http.post(f"{cas}/v1/shards", content=wrong_file, headers=write)
    assert answer.status_code == 400 and "another file" in answer.json()["error"]
    streamed = http.post(f"{cas}/v2/shards", content=wrong_file, headers=write)
    assert streamed.status_code == 200
    assert streamed.text.strip().splitlines()[-1].startswith('{"type": "error"')
    assert http.post(f"{cas}/v1/shards", content=b"not a shard", headers=write).status_code == 400
    # The true shard for this file registers again without error.
    true = shard(raw(uploaded["file"]), raw(xorb), size, chunks)
    answer = http.post(f"{cas}/v1/shards", content=true, headers=write)
    assert answer.status_code == 200 and answer.json() == {"result": 0}


def test_token_routes_check_the_caller(alice: HfApi, dataset: str, http: httpx.Client) -> None:
    bob = {"Authorization": "Bearer hf_test_bob"}
    assert http.get(f"/api/datasets/{dataset}/xet-write-token/main", headers=bob).status_code == 403
    assert http.get(f"/api/datasets/{dataset}/xet-read-token/main", headers=bob).status_code == 200
    assert http.get(f"/api/datasets/{dataset}/xet-write-token/main").status_code == 401
    missing = http.get(
        f"/api/datasets/{dataset}/xet-read-token/nope", headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "RevisionNotFound"


def test_lz4_and_byte_grouped_chunks_from_the_client_are_read_back(
    emulator, alice: HfApi, dataset: str, http: httpx.Client, tmp_path
) -> None:
    """The client compresses floats with byte grouping + LZ4 and repetitive bytes with
    LZ4; the emulator unpacks both to check the hashes and to serve plain readers."""
    import numpy as np
    from huggingface_hub import hf_hub_download

    from heldout.hub_emulator.xet_format import parse_chunks

    floats = np.sin(np.arange(200_000) / 100.0).astype("<f4").tobytes()
    repeated = b"\x00" + b"the same line again and again\n" * 20_000
    schemes = set()
    for path, content in (("floats.bin", floats), ("repeated.bin", repeated)):
        alice.upload_file(
            path_or_fileobj=content, path_in_repo=path, repo_id=dataset, repo_type="dataset"
        )
        got = hf_hub_download(
            dataset,
            path,
            repo_type="dataset",
            endpoint=emulator.url,
            token=ALICE,
            cache_dir=tmp_path,
        )
        assert Path(got).read_bytes() == content
        assert http.get(f"/datasets/{dataset}/resolve/main/{path}").content == content
        [info] = alice.get_paths_info(dataset, [path], repo_type="dataset")
        cas, auth = token(http, dataset, "read")
        plan = http.get(f"{cas}/v2/reconstructions/{info.xet_hash}", headers=auth).json()
        for fetches in plan["xorbs"].values():
            for fetch in fetches:
                last = fetch["ranges"][-1]["bytes"]["end"]
                data = http.get(fetch["url"], headers={"Range": f"bytes=0-{last}"}).content
                schemes.update(chunk.scheme for chunk in parse_chunks(data))
    assert schemes >= {1, 2}  # LZ4 and ByteGrouping4LZ4


def test_batch_reconstruction_and_multi_range_fetches(
    uploaded: dict, http: httpx.Client, dataset: str
) -> None:
    cas, auth = token(http, dataset, "read")
    file_id = uploaded["file"]
    batch = http.get(f"{cas}/v1/reconstructions", params=[("file_id", file_id)] * 2, headers=auth)
    assert batch.status_code == 200
    body = batch.json()
    assert list(body["files"]) == [file_id]
    [(xorb, [fetch])] = uploaded["plan"]["xorbs"].items()
    assert xorb in body["fetch_info"]
    whole = http.get(fetch["url"], headers={"Range": "bytes=0-99"}).content
    parts = http.get(fetch["url"], headers={"Range": "bytes=0-9,20-29"})
    assert parts.status_code == 206
    boundary = parts.headers["content-type"].split("boundary=")[1]
    chunks = [p for p in parts.content.split(f"--{boundary}".encode()) if b"Content-Range" in p]
    assert [c.split(b"\r\n\r\n", 1)[1][:-2] for c in chunks] == [whole[0:10], whole[20:30]]
    assert b"Content-Range: bytes 20-29/" in chunks[1]
