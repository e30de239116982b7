"""The test-set commitment: `heldout verify`, and the worker refusing a replaced test set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli

from heldout import commitment
from heldout.config import load_config
from heldout.evaluator.scoring import fingerprint
from heldout.queue.backends import open_queue
from heldout.scaffold import BenchmarkFolder

SAMPLE = "public/sample_predictions.csv"


@pytest.fixture
def test_set(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = pd.DataFrame(
        {
            "id": ["b", "a", "c", "d"],
            "label": ["pos", "neg", "pos", "neu"],
            "split": ["public", "private", "public", "private"],
        }
    )
    path = tmp_path / "truth.parquet"
    frame.to_parquet(path)
    return path, frame


def test_verify_matches_the_committed_test_set_in_any_row_order_or_format(
    test_set: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, frame = test_set
    salt = commitment.new_salt()
    published = commitment.commit(frame, salt)
    shuffled = tmp_path / "shuffled.csv"
    frame.iloc[[2, 0, 3, 1]][["split", "label", "id"]].to_csv(shuffled, index=False)
    for file in (path, shuffled):
        code, out, err = run_cli(
            capsys, "verify", "--commitment", published, "--test-set", str(file), "--salt", salt
        )
        assert code == 0, err
        assert out.startswith("match") and fingerprint(frame) in out


def test_verify_finds_a_changed_label_a_changed_split_and_a_wrong_salt(
    test_set: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, frame = test_set
    salt = commitment.new_salt()
    published = commitment.commit(frame, salt)
    for column, value in (("label", "neg"), ("split", "public")):
        changed = frame.copy()
        changed.loc[3, column] = value
        other = tmp_path / f"changed-{column}.parquet"
        changed.to_parquet(other)
        code, out, _ = run_cli(
            capsys, "verify", "--commitment", published, "--test-set", str(other), "--salt", salt
        )
        assert code == 2 and out.startswith("MISMATCH")
    code, out, _ = run_cli(
        capsys, "verify", "--commitment", published, "--test-set", str(path),
        "--salt", commitment.new_salt(),
    )  # fmt: skip
    assert code == 2 and out.startswith("MISMATCH")


def test_verify_without_the_salt_or_with_a_malformed_commitment_explains(
    test_set: tuple[Path, pd.DataFrame], capsys: pytest.CaptureFixture[str]
) -> None:
    path, frame = test_set
    published = commitment.commit(frame, commitment.new_salt())
    code, out, err = run_cli(capsys, "verify", "--commitment", published, "--test-set", str(path))
    assert code == 1 and "--salt is needed" in err
    assert fingerprint(frame) in out  # still useful: compare with the rows' test_fingerprint
    code, _, err = run_cli(capsys, "verify", "--commitment", "abc", "--test-set", str(path))
    assert code == 1 and "64 hexadecimal digits" in err
    assert "Traceback" not in err


def test_the_commitment_hides_the_labels_behind_the_salt(
    test_set: tuple[Path, pd.DataFrame],
) -> None:
    _, frame = test_set
    salt = commitment.new_salt()
    assert commitment.commit(frame, salt) != commitment.commit(frame, commitment.new_salt())
    assert commitment.commit(frame, salt) == commitment.commit(frame.iloc[::-1], salt)
    lines = "\n".join(commitment.card_lines(commitment.commit(frame, salt)))
    assert commitment.commit(frame, salt) in lines and salt not in lines


def _submit(capsys: pytest.CaptureFixture[str], cfg: str, path: Path, user: str) -> str:
    code, out, err = run_cli(capsys, "submit", str(path), "--model", "m", "--as", user, "-c", cfg)
    assert code == 0, err
    return re.search(r"job (\S+)", out).group(1)


def _status(capsys: pytest.CaptureFixture[str], cfg: str, job: str) -> dict:
    code, out, _ = run_cli(capsys, "queue", "show", job, "-c", cfg)
    return json.loads(out)


def test_a_replaced_test_set_is_refused_until_the_maintainer_rescores(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(bench.config)
    config = load_config(cfg)
    first = _submit(capsys, cfg, bench.root / SAMPLE, "alice")
    code, _, err = run_cli(capsys, "worker", "--once", "-c", cfg)
    assert code == 0, err
    old = _status(capsys, cfg, first)["test_fingerprint"]

    # The maintainer swaps one label in the private file, and a new job arrives.
    truth = pd.read_parquet(config.evaluator.truth)
    truth.loc[0, "label"] = "neutral" if truth.loc[0, "label"] != "neutral" else "positive"
    truth.to_parquet(config.evaluator.truth)
    other = bench.root / "other.csv"
    sample = pd.read_csv(bench.root / SAMPLE)
    sample["prediction"] = "positive"
    sample.to_csv(other, index=False)
    second = _submit(capsys, cfg, other, "bob")
    code, _, err = run_cli(capsys, "worker", "--once", "-c", cfg)
    assert code == 1
    assert "is not the one this benchmark's scores were computed on" in err
    assert "heldout queue rescore" in err and "Traceback" not in err
    # Nothing was claimed, nothing failed: the submitter is not blamed.
    assert _status(capsys, cfg, second)["status"] == "PENDING"
    assert _status(capsys, cfg, first)["status"] == "FINISHED"

    code, out, err = run_cli(capsys, "queue", "rescore", "-c", cfg)
    assert code == 0, err
    assert "the test set changed" in out and "requeued 1 finished job(s)" in out
    card = open_queue(config).results.store.read("README.md").decode()
    new = fingerprint(truth)
    assert "## Test-set changes" in card
    assert f"`{old[:16]}…` -> `{new[:16]}…`" in card and "re-scored" in card

    code, _, err = run_cli(capsys, "worker", "--once", "-c", cfg)
    assert code == 0, err
    for job in (first, second):
        shown = _status(capsys, cfg, job)
        assert shown["status"] == "FINISHED" and shown["test_fingerprint"] == new
    rows = open_queue(config).results.read()
    assert set(rows["test_fingerprint"]) == {new}


def test_deploy_keeps_one_salt_per_benchmark_folder(
    test_set: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    _, frame = test_set
    first = commitment.commit_for_deploy(frame, tmp_path)
    salt = (tmp_path / commitment.SALT_FILE).read_text().strip()
    assert (tmp_path / commitment.SALT_FILE).stat().st_mode & 0o077 == 0
    assert commitment.commit_for_deploy(frame, tmp_path) == first
    assert commitment.verify(frame, first, salt).matches
