"""Gated participation through the Hub's access-request API, on the emulator, with the
real huggingface_hub client: who may submit, the link for everyone else, the cache."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from heldout.config import config_from_dict
from heldout.errors import NotAllowed
from heldout.leaderboard.participants import Participants

OWNER = "heldout-gate"


def gated_dataset(emulator: Any) -> tuple[HfApi, str]:
    api = HfApi(endpoint=emulator.url, token=f"hf_test_{OWNER}")
    repo = f"{OWNER}/people-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo, repo_type="dataset")
    api.update_repo_settings(repo, gated="manual", repo_type="dataset")
    return api, repo


def ask(emulator: Any, repo: str, user: str) -> str:
    answer = httpx.post(
        f"{emulator.url}/datasets/{repo}/ask-access",
        headers={"Authorization": f"Bearer hf_test_{user}"},
    )
    answer.raise_for_status()
    return answer.json()["status"]


def test_the_emulator_serves_the_access_request_api(emulator: Any) -> None:
    api, repo = gated_dataset(emulator)
    assert ask(emulator, repo, "alice") == "pending"
    assert ask(emulator, repo, "bob") == "pending"
    pending = api.list_pending_access_requests(repo, repo_type="dataset")
    assert sorted(r.username for r in pending) == ["alice", "bob"]
    api.accept_access_request(repo, "alice", repo_type="dataset")
    api.reject_access_request(repo, "bob", repo_type="dataset", rejection_reason="spam")
    api.grant_access(repo, "carol", repo_type="dataset")
    accepted = api.list_accepted_access_requests(repo, repo_type="dataset")
    assert sorted(r.username for r in accepted) == ["alice", "carol"]
    assert [r.username for r in api.list_rejected_access_requests(repo, repo_type="dataset")] == [
        "bob"
    ]
    # Only the repo's writers may list or decide.
    stranger = HfApi(endpoint=emulator.url, token="hf_test_mallory")
    with pytest.raises(HfHubHTTPError) as refused:
        list(stranger.list_accepted_access_requests(repo, repo_type="dataset"))
    assert refused.value.response.status_code == 403
    # A repo that is not gated has no access requests (the Hub answers 400).
    plain = f"{OWNER}/plain-{uuid.uuid4().hex[:8]}"
    api.create_repo(plain, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as not_gated:
        list(api.list_accepted_access_requests(plain, repo_type="dataset"))
    assert not_gated.value.response.status_code == 400


def test_only_accepted_accounts_may_submit_and_others_get_the_link(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, repo = gated_dataset(emulator)
    monkeypatch.setenv("HELDOUT_GATE_TOKEN", f"hf_test_{OWNER}")
    config = config_from_dict(
        {
            "benchmark": {"name": "b", "primary_metric": "m"},
            "storage": {"root": str(tmp_path), "endpoint": emulator.url,
                        "token_env": "HELDOUT_GATE_TOKEN"},
            "limits": {"participants": f"gated:{repo}"},
        }
    )  # fmt: skip
    now = [0.0]
    gate = Participants(config, ttl=300, miss_seconds=10, clock=lambda: now[0])
    ask(emulator, repo, "alice")
    with pytest.raises(NotAllowed) as refused:
        gate.check("alice")
    assert f"request access at {emulator.url}/datasets/{repo}" in str(refused.value)
    api.accept_access_request(repo, "alice", repo_type="dataset")
    now[0] += 5
    with pytest.raises(NotAllowed):  # a miss re-reads at most every 10 s
        gate.check("alice")
    now[0] += 6
    gate.check("alice")  # accepted: allowed
    calls = emulator.counters().get("access_requests", 0)
    for _ in range(20):
        gate.check("alice")  # cached: no call to the Hub
    with pytest.raises(NotAllowed):
        gate.check("mallory")
    assert emulator.counters().get("access_requests", 0) == calls
