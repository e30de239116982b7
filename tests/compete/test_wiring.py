"""The competition's pieces wired into the real entry points: the leaderboard's submit
path (phases and the participant gate come before anything is read), My submissions'
follow-up interval, and `heldout reveal` on the command line."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from huggingface_hub import HfApi

from heldout.cli import main
from heldout.config import config_from_dict, load_config
from heldout.errors import NotAllowed, SubmissionsClosed
from heldout.evaluator.worker import Worker
from heldout.example.generate import make_predictions, write_benchmark
from heldout.leaderboard.context import make_context
from heldout.leaderboard.identity import Refusal
from heldout.leaderboard.mine import refresh_seconds
from heldout.leaderboard.submit import NO_FILE, prepare
from heldout.queue.backends import open_queue
from heldout.queue.submission import Submission

LABELS = ["negative", "neutral", "positive"]
UTC = timezone.utc


def test_my_submissions_follows_a_live_job_within_about_two_seconds() -> None:
    # The default leaderboard.refresh_seconds is 10; a live job is followed faster.
    ctx = SimpleNamespace(config=config_from_dict({"benchmark": {"name": "b", "primary_metric": "m"},
                                                   "storage": {"root": "/tmp/x"}}))  # fmt: skip
    assert ctx.config.leaderboard.refresh_seconds == 10
    assert refresh_seconds(ctx) <= 2.0  # type: ignore[arg-type]


def test_the_submit_path_checks_the_phase_and_the_gate_first(
    tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = "heldout-wiring"
    api = HfApi(endpoint=emulator.url, token=f"hf_test_{owner}")
    gate = f"{owner}/people-{uuid.uuid4().hex[:8]}"
    api.create_repo(gate, repo_type="dataset")
    api.update_repo_settings(gate, gated="manual", repo_type="dataset")
    api.grant_access(gate, "alice", repo_type="dataset")
    monkeypatch.setenv("HELDOUT_WIRING_TOKEN", f"hf_test_{owner}")
    later = datetime.now(UTC) + timedelta(days=1)
    raw = {
        "benchmark": {"name": "b", "primary_metric": "m"},
        "storage": {"root": str(tmp_path), "endpoint": emulator.url,
                    "token_env": "HELDOUT_WIRING_TOKEN"},
        "limits": {"participants": f"gated:{gate}"},
    }  # fmt: skip
    config = config_from_dict(raw)
    ctx = make_context(config, open_queue(config))
    with pytest.raises(NotAllowed, match=f"request access at {emulator.url}/datasets/{gate}"):
        prepare(ctx, "mallory", "m", "", None)
    with pytest.raises(Refusal, match=NO_FILE):  # alice passes the gate
        prepare(ctx, "alice", "m", "", None)
    closed = config_from_dict({**raw, "phases": {"start": later}})
    with pytest.raises(SubmissionsClosed, match="submissions open at"):
        prepare(make_context(closed, open_queue(closed)), "alice", "m", "", None)


def test_heldout_reveal_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files = write_benchmark(tmp_path / "bench", n=60, seed=1, public_fraction=0.5)
    end = datetime.now(UTC) - timedelta(minutes=1)
    path = tmp_path / "heldout.toml"
    path.write_text(
        f"""
[benchmark]
name = "cli"
primary_metric = "accuracy"
metrics = ["accuracy", "macro_f1"]
[storage]
root = "{tmp_path / "store"}"
[review]
reviewers = ["rita"]
[phases]
end = {end.strftime("%Y-%m-%dT%H:%M:%SZ")}
[evaluator]
scorer = "heldout.example.scorer:score"
truth = "{files.truth}"
""",
        encoding="utf-8",
    )
    config = load_config(path)
    queue = open_queue(config)
    queue.clock = lambda: end - timedelta(hours=1)  # submitted while it was open
    truth = pd.read_parquet(files.truth)
    for n, user in enumerate(["alice", "bob"]):
        frame = make_predictions(truth["id"], LABELS, 0.7, n, truth=truth)
        queue.submit(Submission(user, f"m{n}", frame.to_csv(index=False).encode(), "csv"))
    Worker(queue, config, sleep=lambda s: None).run(once=True)

    assert main(["reveal", "-c", str(path), "--by", "mallory"]) == 1
    assert "not among the benchmark's reviewers" in capsys.readouterr().err
    assert main(["reveal", "-c", str(path), "--by", "rita", "--preview"]) == 0
    assert "2 submitter(s)" in capsys.readouterr().out
    assert open_queue(config).results.read()["split_scores"].map(len).tolist() == [2, 2]
    assert main(["reveal", "-c", str(path), "--by", "rita"]) == 0
    assert "revealed at" in capsys.readouterr().out
    assert open_queue(config).results.read()["split_scores"].map(len).tolist() == [4, 4]
    assert main(["reveal", "-c", str(path), "--by", "rita", "--undo"]) == 1
    assert "cannot be undone" in capsys.readouterr().err
