"""The maintainer's and reviewer's commands, driven as a person would type them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from huggingface_hub import HfApi

from heldout.scaffold import BenchmarkFolder

SAMPLE = "public/sample_predictions.csv"


def submit(
    capsys: pytest.CaptureFixture[str], bench: BenchmarkFolder, user: str, path: Path, model: str
) -> str:
    code, out, err = run_cli(
        capsys, "submit", str(path), "--model", model, "--as", user, "-c", str(bench.config)
    )
    assert code == 0, err
    return re.search(r"job (\S+)", out).group(1)


def test_submit_score_inspect_and_export(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = str(bench.config)
    job = submit(capsys, bench, "alice", bench.root / SAMPLE, "baseline <b>")
    code, out, _ = run_cli(capsys, "queue", "ls", "-c", cfg)
    assert job in out and "PENDING" in out and "#1 in line" in out and "1 job(s)" in out

    code, out, err = run_cli(capsys, "worker", "--once", "-c", cfg)
    assert code == 0, err
    code, out, _ = run_cli(capsys, "queue", "show", job, "-c", cfg)
    shown = json.loads(out)
    assert shown["status"] == "FINISHED" and shown["model"] == "baseline <b>"
    assert set(shown["scores"]) == {"accuracy", "macro_f1"}
    assert [e["status"] for e in shown["history"]] == ["PENDING", "RUNNING", "FINISHED"]

    code, out, _ = run_cli(capsys, "queue", "ls", "--status", "finished", "--json", "-c", cfg)
    assert [e["job_id"] for e in json.loads(out)] == [job]
    code, out, _ = run_cli(capsys, "queue", "stats", "-c", cfg)
    assert "FINISHED=1" in out and "PENDING=0" in out and "1 finished in the last hour" in out

    for fmt in ("csv", "parquet"):
        target = tmp_path / f"results.{fmt}"
        code, out, _ = run_cli(
            capsys, "results", "export", "--format", fmt, "-o", str(target), "-c", cfg
        )
        assert code == 0 and "wrote 1 result(s)" in out
        frame = pd.read_csv(target) if fmt == "csv" else pd.read_parquet(target)
        assert frame["job_id"].tolist() == [job]
        assert frame["model"].tolist() == ["baseline <b>"]


def test_review_flow_and_refusals(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(bench.config)
    submit(capsys, bench, "alice", bench.root / SAMPLE, "original")
    copied = submit(capsys, bench, "mallory", bench.root / SAMPLE, "copy")
    code, out, _ = run_cli(capsys, "review", "ls", "-c", cfg)
    assert copied in out and "shared_file" in out and "1 job(s) waiting" in out

    code, _, err = run_cli(capsys, "review", "approve", copied, "--by", "mallory", "-c", cfg)
    assert code == 1 and err == "error: mallory is not a reviewer of this benchmark\n"
    code, _, err = run_cli(
        capsys, "review", "reject", copied, "--by", "rita", "--reason", " ", "-c", cfg
    )
    assert code == 1 and "needs a reason" in err
    code, out, _ = run_cli(
        capsys,
        "review",
        "reject",
        copied,
        "--by",
        "rita",
        "--reason",
        "copied from alice",
        "-c",
        cfg,
    )
    assert code == 0
    code, out, _ = run_cli(capsys, "queue", "show", copied, "-c", cfg)
    shown = json.loads(out)
    assert shown["status"] == "FAILED"
    assert shown["error"] == {
        "kind": "rejected",
        "message": "rejected by a reviewer: copied from alice",
    }


def test_requeue_rescore_and_cancel(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(bench.config)
    job = submit(capsys, bench, "alice", bench.root / SAMPLE, "m")
    code, _, err = run_cli(capsys, "queue", "requeue", job, "-c", cfg)
    assert code == 1 and "cannot requeue a job that is PENDING" in err
    run_cli(capsys, "worker", "--once", "-c", cfg)
    code, out, _ = run_cli(capsys, "queue", "rescore", "-c", cfg)
    assert code == 0 and "requeued 1 finished job(s)" in out
    code, out, _ = run_cli(capsys, "queue", "cancel", job, "-c", cfg)
    assert code == 0
    code, out, _ = run_cli(capsys, "queue", "show", job, "-c", cfg)
    assert json.loads(out)["error"]["kind"] == "cancelled"
    code, _, err = run_cli(capsys, "queue", "show", "20200101T000000Z-00000000", "-c", cfg)
    assert code == 1 and "no job 20200101T000000Z-00000000" in err
    code, _, err = run_cli(capsys, "queue", "show", "../etc/passwd", "-c", cfg)
    assert code == 1 and "is not a job id" in err


def test_submit_refuses_bad_files_before_writing(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = str(bench.config)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,prediction\nex-99999,positive\n")
    code, _, err = run_cli(capsys, "submit", str(bad), "--model", "m", "--as", "alice", "-c", cfg)
    assert code == 1 and "ex-99999" in err
    code, _, err = run_cli(capsys, "submit", str(bench.root / SAMPLE), "--model", "m", "-c", cfg)
    assert code == 1 and "--as USER is required with the local backend" in err
    code, out, _ = run_cli(capsys, "queue", "ls", "-c", cfg)
    assert "0 job(s)" in out


def test_on_the_hub_identity_comes_from_the_token(
    bench: BenchmarkFolder,
    capsys: pytest.CaptureFixture[str],
    emulator,
    monkeypatch,
    tmp_path: Path,
) -> None:
    api = HfApi(endpoint=emulator.url, token="hf_test_carol")
    for repo, private in (("carol/cli-queue", True), ("carol/cli-results", False)):
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    text = bench.config.read_text().replace(
        'backend = "local"',
        f'backend = "hub"\nqueue_repo = "carol/cli-queue"\nresults_repo = "carol/cli-results"\n'
        f'endpoint = "{emulator.url}"',
    )
    hub_cfg = bench.root / "hub.toml"
    hub_cfg.write_text(text)
    monkeypatch.setenv("HF_TOKEN", "hf_test_carol")
    sample = str(bench.root / SAMPLE)
    code, _, err = run_cli(
        capsys, "submit", sample, "--model", "m", "--as", "alice", "-c", str(hub_cfg)
    )
    assert code == 1 and "--as alice does not match the token's user carol" in err
    code, out, err = run_cli(capsys, "submit", sample, "--model", "m", "-c", str(hub_cfg))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "queue", "ls", "--user", "carol", "-c", str(hub_cfg))
    assert "carol" in out and "1 job(s)" in out
    # the commit budget is the repo's, shared by every process: read from the Hub
    made = {r: len(api.list_repo_commits(r, repo_type="dataset")) for r in ("carol/cli-queue",)}
    code, out, _ = run_cli(capsys, "queue", "stats", "-c", str(hub_cfg))
    assert f"carol/cli-queue {made['carol/cli-queue']}/128" in out and made["carol/cli-queue"] >= 2
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_token!")
    code, _, err = run_cli(capsys, "submit", sample, "--model", "m2", "-c", str(hub_cfg))
    assert code == 1 and "refused the token" in err and "hf_not_a_token" not in err


def test_results_reconcile_repairs_a_row_lost_between_the_two_repos(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from heldout.config import load_config
    from heldout.queue.backends import open_queue

    cfg = str(bench.config)
    job = submit(capsys, bench, "alice", bench.root / SAMPLE, "m")
    run_cli(capsys, "worker", "--once", "-c", cfg)
    code, out, _ = run_cli(capsys, "results", "reconcile", "-c", cfg)
    assert code == 0 and "in step: 1 finished job(s), 1 row(s)" in out
    # as if the worker died after its queue commit, before the results commit
    open_queue(load_config(bench.config)).results.remove([job])
    code, out, _ = run_cli(capsys, "results", "reconcile", "-c", cfg)
    assert code == 0 and f"published {job}" in out and "1 row(s) published" in out
    target = str(tmp_path / "r.csv")
    code, out, _ = run_cli(capsys, "results", "export", "--format", "csv", "-o", target, "-c", cfg)
    assert "wrote 1 result(s)" in out
