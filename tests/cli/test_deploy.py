"""`heldout deploy` against the emulator: the repos exist, with the right privacy and files."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pandas as pd
import pytest
from cli_helpers import run_cli
from huggingface_hub import HfApi

from heldout import commitment
from heldout.config import load_config
from heldout.deploy import plan_deploy
from heldout.scaffold import BenchmarkFolder


def test_plan_is_pure_and_names_the_four_repos(bench: BenchmarkFolder) -> None:
    plan = plan_deploy(load_config(bench.config), "org")
    assert [(r.repo_id, r.repo_type, r.private) for r in plan.repos] == [
        ("org/review-sentiment-queue", "dataset", True),
        ("org/review-sentiment-results", "dataset", False),
        ("org/review-sentiment-leaderboard", "space", False),
        ("org/review-sentiment-evaluator", "space", True),
    ]


def test_deploy_creates_what_it_says(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str], emulator, monkeypatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_test_dora")
    code, out, err = run_cli(capsys, "deploy", "-c", str(bench.config), "--endpoint", emulator.url)
    assert code == 0, err
    assert "deployed under dora" in out
    api = HfApi(endpoint=emulator.url, token="hf_test_dora")
    infos = {
        name: api.repo_info(f"dora/review-sentiment-{name}", repo_type=kind)
        for name, kind in (
            ("queue", "dataset"),
            ("results", "dataset"),
            ("leaderboard", "space"),
            ("evaluator", "space"),
        )
    }
    assert {n: i.private for n, i in infos.items()} == {
        "queue": True,
        "results": False,
        "leaderboard": False,
        "evaluator": True,
    }
    board = set(api.list_repo_files("dora/review-sentiment-leaderboard", repo_type="space"))
    assert {
        "app.py",
        "README.md",
        "requirements.txt",
        "heldout.toml",
        "public/test_ids.txt",
    } <= board
    assert not any("truth" in f for f in board)
    evaluator = set(api.list_repo_files("dora/review-sentiment-evaluator", repo_type="space"))
    assert "private/truth.parquet" in evaluator and "scorer.py" in evaluator
    board_toml = api.hf_hub_download(
        "dora/review-sentiment-leaderboard", "heldout.toml", repo_type="space"
    )
    text = Path(board_toml).read_text(encoding="utf-8")
    assert 'queue_repo = "dora/review-sentiment-queue"' in text and "YOUR-NAME" not in text
    for space, secrets in (
        ("leaderboard", ["HF_TOKEN"]),
        ("evaluator", ["HF_TOKEN", "WEBHOOK_SECRET"]),
    ):
        keys = httpx.get(f"{emulator.url}/_emulator/spaces/dora/review-sentiment-{space}/secrets")
        assert keys.json()["keys"] == secrets
    # The results card commits to the test set; the salt stays in the benchmark folder,
    # and with it anyone can check the commitment against the test set.
    card = api.hf_hub_download("dora/review-sentiment-results", "README.md", repo_type="dataset")
    found = re.search(
        r"Test-set commitment \(salted SHA-256\): `([0-9a-f]{64})`", Path(card).read_text()
    )
    assert found is not None
    salt = (bench.root / "commitment-salt.txt").read_text().strip()
    assert salt not in Path(card).read_text()
    truth = pd.read_parquet(bench.evaluator / "private" / "truth.parquet")
    assert commitment.verify(truth, found.group(1), salt).matches
    # Anyone else can see the public parts and nothing of the private ones.
    stranger = HfApi(endpoint=emulator.url, token="hf_test_eve")
    assert stranger.repo_info("dora/review-sentiment-results", repo_type="dataset").id
    with pytest.raises(Exception) as info:
        stranger.repo_info("dora/review-sentiment-evaluator", repo_type="space")
    assert info.value.response.status_code in (401, 404)


def test_deploy_without_a_token_says_what_to_set(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str], emulator, monkeypatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, _, err = run_cli(capsys, "deploy", "-c", str(bench.config), "--endpoint", emulator.url)
    assert code == 1 and "set HF_TOKEN" in err
