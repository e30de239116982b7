"""A config that cannot work is refused at start, with one line naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_helpers import free_port, run_cli
from huggingface_hub import HfApi

from heldout.scaffold import BenchmarkFolder


def _hub_config(folder: Path, ns: str, endpoint: str | None) -> Path:
    """The evaluator's config with the placeholder replaced (and an endpoint, if given)."""
    text = (folder / "heldout.toml").read_text().replace("YOUR-NAME", ns)
    if endpoint:
        text = text.replace(
            'token_env = "HF_TOKEN"', f'token_env = "HF_TOKEN"\nendpoint = "{endpoint}"'
        )
    path = folder / f"{ns}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ("worker", "--once", "-c", "evaluator/heldout.toml"),
        ("leaderboard", "-c", "leaderboard/heldout.toml"),
        ("queue", "ls", "-c", "evaluator/heldout.toml"),
        (
            "submit",
            "-c",
            "leaderboard/heldout.toml",
            "public/sample_predictions.csv",
            "--model",
            "m",
        ),
    ],
    ids=lambda argv: argv[0],
)
def test_a_fresh_init_is_refused_before_any_request(
    bench: BenchmarkFolder, capsys, emulator, monkeypatch, argv
) -> None:
    monkeypatch.chdir(bench.root)
    monkeypatch.setenv("HF_TOKEN", "hf_test_newbie")
    emulator.reset_counters()
    code, out, err = run_cli(capsys, *argv)
    assert code != 0
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "storage.queue_repo" in lines[0] and "YOUR-NAME" in lines[0]
    assert "heldout deploy" in lines[0]
    assert emulator.counters() == {}  # not one request, to the emulator or anywhere


def test_an_unreachable_hub_is_named(bench: BenchmarkFolder, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_test_newbie")
    config = _hub_config(bench.evaluator, "newbie", f"http://127.0.0.1:{free_port()}")
    code, out, err = run_cli(capsys, "worker", "--once", "-c", str(config))
    assert code != 0
    assert err.count("\n") == 1 and "storage.endpoint: cannot reach http://127.0.0.1:" in err


def test_a_queue_the_token_cannot_read_is_named(
    bench: BenchmarkFolder, capsys, emulator, monkeypatch
) -> None:
    HfApi(endpoint=emulator.url, token="hf_test_owner").create_repo(
        "owner/review-sentiment-queue", repo_type="dataset", private=True, exist_ok=True
    )
    config = _hub_config(bench.evaluator, "owner", emulator.url)
    monkeypatch.setenv("HF_TOKEN", "hf_test_stranger")
    code, out, err = run_cli(capsys, "worker", "--once", "-c", str(config))
    assert code != 0 and err.count("\n") == 1
    assert "storage.queue_repo: owner/review-sentiment-queue does not exist" in err
    monkeypatch.setenv("HF_TOKEN", "not-a-token")
    code, out, err = run_cli(capsys, "worker", "--once", "-c", str(config))
    assert code != 0 and "refused the token in $HF_TOKEN (401)" in err
    monkeypatch.delenv("HF_TOKEN")
    code, out, err = run_cli(capsys, "queue", "ls", "-c", str(config))
    assert code != 0 and "set $HF_TOKEN" in err
