"""`heldout init` writes a folder that `heldout check` passes, and breakage is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_cli

from heldout.config import load_config, tomllib
from heldout.scaffold import BenchmarkFolder


def test_init_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "init", str(tmp_path / "mine"))
    assert code == 0 and "wrote a benchmark" in out
    code, out, err = run_cli(capsys, "check", "-c", str(tmp_path / "mine" / "heldout.toml"))
    assert code == 0, err
    assert "macro_f1=" in out and "accuracy=" in out and "ok: the benchmark is ready" in out


def test_init_writes_two_spaces_and_keeps_the_truth_out_of_the_leaderboard(
    bench: BenchmarkFolder,
) -> None:
    for space in (bench.leaderboard, bench.evaluator):
        assert {"app.py", "README.md", "requirements.txt", "heldout.toml"} <= {
            p.name for p in space.iterdir()
        }
        compile((space / "app.py").read_text(), str(space / "app.py"), "exec")
    board_readme = (bench.leaderboard / "README.md").read_text()
    assert "sdk: gradio" in board_readme and "hf_oauth: true" in board_readme
    assert "openid" in board_readme
    truths = sorted(p.relative_to(bench.root) for p in bench.root.rglob("truth*"))
    assert truths == [Path("evaluator/private/truth.parquet")]
    board = load_config(bench.leaderboard / "heldout.toml")
    assert board.evaluator is None and board.storage.backend == "hub"
    assert "truth" not in (bench.leaderboard / "heldout.toml").read_text()
    evaluator = load_config(bench.evaluator / "heldout.toml")
    assert evaluator.evaluator is not None
    assert evaluator.evaluator.truth == bench.evaluator / "private" / "truth.parquet"


def test_every_setting_in_the_written_config_is_commented(bench: BenchmarkFolder) -> None:
    lines = bench.config.read_text().splitlines()
    settings = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    for i in settings:
        above = lines[i - 1]
        assert above.startswith("#") or "=" in above, f"{lines[i]!r} has no comment"
    config = tomllib.loads(bench.config.read_text())
    assert config["storage"]["backend"] == "local"
    assert config["review"]["reviewers"] == ["rita"]


def test_init_refuses_to_overwrite(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "init", str(bench.root))
    assert code == 1 and "already exists" in err


def test_a_broken_scorer_gives_an_exact_error(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    (bench.evaluator / "scorer.py").write_text("def score(predictions, truth):\n    return {\n")
    code, _, err = run_cli(capsys, "check", "-c", str(bench.config))
    assert code == 1
    assert err.startswith("error: ") and "scorer" in err and "line" in err
    assert "Traceback" not in err


def test_a_scorer_missing_a_metric_is_named(
    bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    (bench.evaluator / "scorer.py").write_text(
        "def score(predictions, truth):\n    return {'macro_f1': 0.5}\n"
    )
    code, _, err = run_cli(capsys, "check", "-c", str(bench.config))
    assert code == 1 and "accuracy" in err


def test_missing_truth_is_named(bench: BenchmarkFolder, capsys: pytest.CaptureFixture[str]) -> None:
    (bench.evaluator / "private" / "truth.parquet").unlink()
    code, _, err = run_cli(capsys, "check", "-c", str(bench.config))
    assert code == 1 and "evaluator.truth" in err


def test_the_console_script_prints_one_line_on_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "heldout.cli", "queue", "ls", "-c", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: no config file at {tmp_path / 'nope.toml'}"
    ]
