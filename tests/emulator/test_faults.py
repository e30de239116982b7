"""Misbehaviour on purpose: commit quota, injected faults, lost replies, slowness, counters."""

from __future__ import annotations

import time

import httpx
import pytest
from emulator_helpers import ALICE, add
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from heldout.hub_emulator import EmulatorServer
from heldout.hub_emulator.faults import CommitQuota
from heldout.hub_emulator.settings import EmulatorSettings


def test_commit_quota_answers_429_with_retry_after(alice: HfApi, faults, dataset: str) -> None:
    faults.commit_quota_per_hour = 2
    for i in range(2):
        alice.create_commit(
            dataset, add("n", str(i).encode()), commit_message="c", repo_type="dataset"
        )
    with pytest.raises(HfHubHTTPError) as caught:
        alice.create_commit(dataset, add("n", b"over"), commit_message="c", repo_type="dataset")
    answer = caught.value.response
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600
    assert "rate limit for repository commits (2 per hour)" in answer.json()["error"]


def test_quota_window_rolls_and_refused_commits_give_their_slot_back() -> None:
    now = [1000.0]
    settings = EmulatorSettings(commit_quota_per_hour=1)
    quota = CommitQuota(settings, clock=lambda: now[0])
    slot = quota.reserve(("dataset", "a/b"))
    quota.release(("dataset", "a/b"), slot)
    quota.reserve(("dataset", "a/b"))
    now[0] += 1000
    with pytest.raises(Exception) as caught:
        quota.reserve(("dataset", "a/b"))
    assert caught.value.retry_after == 2600  # type: ignore[attr-defined]
    now[0] += 2600
    quota.reserve(("dataset", "a/b"))


def test_fault_rate_fails_about_that_fraction(http: httpx.Client, faults, dataset: str) -> None:
    faults.fault_rate = 0.3
    statuses = [
        http.get(f"/api/datasets/{dataset}", headers={"authorization": f"Bearer {ALICE}"})
        for _ in range(400)
    ]
    failed = [r for r in statuses if r.status_code != 200]
    assert {r.status_code for r in failed} <= {500, 503, 429}
    assert 0.2 < len(failed) / 400 < 0.4
    assert all(r.headers["retry-after"] == "1" for r in failed if r.status_code == 429)
    assert http.get("/_emulator/counters").status_code == 200  # admin is never faulted


def test_a_lost_reply_still_applies_the_commit(alice: HfApi, faults, dataset: str) -> None:
    faults.lost_reply_rate = 1.0
    with pytest.raises(HfHubHTTPError) as caught:
        alice.create_commit(dataset, add("landed.txt"), commit_message="c", repo_type="dataset")
    assert caught.value.response.status_code == 500
    faults.lost_reply_rate = 0.0
    assert "landed.txt" in alice.list_repo_files(dataset, repo_type="dataset")


def test_slow_requests_are_delayed(http: httpx.Client, faults, dataset: str) -> None:
    faults.slow_rate, faults.slow_seconds = 1.0, 0.2
    started = time.monotonic()
    assert http.get(f"/api/datasets/{dataset}").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_settings_change_over_http(http: httpx.Client, faults) -> None:
    answer = http.post("/_emulator/settings", json={"fault_rate": 1.0, "page_size": 5})
    assert answer.status_code == 200 and answer.json()["page_size"] == 5
    assert faults.fault_rate == 1.0
    assert http.get("/api/whoami-v2").status_code in (500, 503, 429)
    assert http.post("/_emulator/settings", json={"fault_rate": 2}).status_code == 400
    assert http.post("/_emulator/settings", json={"data_dir": "/"}).status_code == 400


def test_counters_count_by_endpoint(
    alice: HfApi, emulator: EmulatorServer, http: httpx.Client, faults, dataset: str
) -> None:
    emulator.reset_counters()
    alice.create_commit(dataset, add("a"), commit_message="c", repo_type="dataset")
    alice.dataset_info(dataset)
    list(alice.list_repo_tree(dataset, repo_type="dataset"))
    assert emulator.counters() == {"preupload": 1, "commit": 1, "repo_info": 1, "tree": 1}
    faults.fault_rate = 1.0
    http.get(f"/api/datasets/{dataset}")
    assert emulator.counters()["repo_info"] == 2  # faulted requests count too
    over_http = http.get("/_emulator/counters").json()
    assert over_http == emulator.counters()
    http.post("/_emulator/counters/reset")
    assert emulator.counters() == {}
