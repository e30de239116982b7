"""The salt at the reveal, end to end on the emulator with the real Hub client:
`heldout deploy` commits to the test set, `heldout reveal --publish-salt` publishes
the salt (and the test set) once the private scores are out, and anyone then checks
the test set with `heldout verify --results REPO`, reading only the public card."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli
from huggingface_hub import HfApi

from heldout.commitment import SALT_FILE
from heldout.scaffold import BenchmarkFolder, init_benchmark

RESULTS = "dora/review-sentiment-results"
QUEUE = "dora/review-sentiment-queue"


@pytest.fixture()
def deployed(tmp_path: Path, emulator, monkeypatch, capsys) -> BenchmarkFolder:
    """A benchmark deployed by dora, its heldout.toml then pointed at the deployed repos."""
    bench = init_benchmark(tmp_path / "bench", reviewers=("dora",), n_items=200)
    monkeypatch.setenv("HF_TOKEN", "hf_test_dora")
    code, _, err = run_cli(capsys, "deploy", "-c", str(bench.config), "--endpoint", emulator.url)
    assert code == 0, err
    text = bench.config.read_text()
    hub = (
        f'backend = "hub"\nqueue_repo = "{QUEUE}"\nresults_repo = "{RESULTS}"\n'
        f'endpoint = "{emulator.url}"'
    )
    text = re.sub(r'backend = "local"\n(#[^\n]*\n)*root = "data"', hub, text)
    assert QUEUE in text
    bench.config.write_text(text)
    return bench


def card(emulator) -> tuple[str, str]:
    """The results card as anyone reads it, and the repo's head (to see nothing changed)."""
    api = HfApi(endpoint=emulator.url)
    path = api.hf_hub_download(RESULTS, "README.md", repo_type="dataset", force_download=True)
    return Path(path).read_text(), api.repo_info(RESULTS, repo_type="dataset").sha


def submit_and_score(capsys, cfg: str) -> None:
    sample = str(Path(cfg).parent / "public" / "sample_predictions.csv")
    code, _, err = run_cli(capsys, "submit", sample, "--model", "m", "--as", "dora", "-c", cfg)
    assert code == 0, err
    code, _, err = run_cli(capsys, "worker", "--once", "-c", cfg)
    assert code == 0, err


@pytest.mark.timeout(300)
def test_the_salt_is_published_at_the_reveal_and_verify_reads_it_from_the_card(
    deployed: BenchmarkFolder, emulator, capsys, monkeypatch, tmp_path: Path
) -> None:
    cfg = str(deployed.config)
    submit_and_score(capsys, cfg)
    before = card(emulator)
    salt_file = deployed.root / SALT_FILE
    salt = salt_file.read_text().strip()

    # Before the reveal: refused, nothing changed.
    code, _, err = run_cli(capsys, "reveal", "--publish-salt", "-c", cfg)
    assert code == 1 and "have not been revealed yet" in err and "nothing was published" in err
    assert card(emulator) == before and salt not in before[0]

    code, out, err = run_cli(capsys, "reveal", "-c", cfg)
    assert code == 0, err
    revealed = card(emulator)

    # A salt that does not open the commitment is never published; nor is a missing one.
    salt_file.write_text("ab" * 32 + "\n")
    code, _, err = run_cli(capsys, "reveal", "--publish-salt", "-c", cfg)
    assert code == 1 and "do not give the commitment" in err and "nothing was published" in err
    salt_file.unlink()
    code, _, err = run_cli(capsys, "reveal", "--publish-salt", "-c", cfg)
    assert code == 1 and f"no {SALT_FILE}" in err
    assert card(emulator) == revealed and "Traceback" not in err
    code, _, err = run_cli(capsys, "reveal", "--publish-labels", "-c", cfg)
    assert code == 1 and "goes with --publish-salt" in err

    salt_file.write_text(salt + "\n")
    code, out, err = run_cli(capsys, "reveal", "--publish-salt", "--publish-labels", "-c", cfg)
    assert code == 0, err
    assert "published the test-set salt" in out
    text, _ = card(emulator)
    assert re.search(rf"Test-set salt \(published at the reveal\): `{salt}`", text)
    code, out, _ = run_cli(capsys, "reveal", "--publish-salt", "-c", cfg)
    assert code == 0 and "already published" in out and card(emulator)[0] == text

    # Anyone, with no token: the card alone and the test set file.
    monkeypatch.delenv("HF_TOKEN")
    truth_path = deployed.evaluator / "private" / "truth.parquet"
    code, out, err = run_cli(capsys, "verify", "--results", RESULTS, "--test-set", str(truth_path))
    assert code == 0, err
    assert out.startswith("match")
    changed = pd.read_parquet(truth_path)
    changed.loc[0, "label"] = "neutral" if changed.loc[0, "label"] != "neutral" else "positive"
    other = tmp_path / "changed.csv"
    changed.to_csv(other, index=False)
    code, out, _ = run_cli(capsys, "verify", "--results", RESULTS, "--test-set", str(other))
    assert code == 2 and out.startswith("MISMATCH")
    # The published test set itself, checked from the Hub alone.
    code, out, err = run_cli(capsys, "verify", "--results", RESULTS)
    assert code == 0, err
    assert "checking the test set published" in out and "match" in out
    code, _, err = run_cli(
        capsys, "verify", "--results", "dora/nothing-here", "--test-set", str(other)
    )
    assert code == 1 and "could not read README.md" in err and "Traceback" not in err


def test_the_published_test_set_file_is_the_committed_bytes_and_reads_back(
    tmp_path: Path, capsys
) -> None:
    from heldout import commitment

    frame = pd.DataFrame(
        {"id": ["b", "a", "c"], "label": ["x\u2028y", "neg", None], "split": ["public"] * 3}
    )
    salt = commitment.new_salt()
    published = commitment.commit(frame, salt)
    data = commitment.canonical_file(frame)
    assert data.replace(b"\n", b"") == b"".join(commitment.canonical_chunks(frame))
    path = tmp_path / "test-set.canonical.jsonl"
    path.write_bytes(data)
    argv = ("verify", "--commitment", published, "--salt", salt, "--test-set", str(path))
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and out.startswith("match"), err
    path.write_bytes(b"not json\n")
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and "canonical encoding" in err and "Traceback" not in err
