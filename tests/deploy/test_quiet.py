"""By default a command prints what a person needs: no line per HTTP request, each
warning once. `-v` shows the requests."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from deploy_helpers import child_env

from heldout.scaffold import BenchmarkFolder

pytestmark = pytest.mark.slow  # four `heldout` processes


def _run(*argv: str, token: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "heldout.cli", *argv],
        env=child_env(HF_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_deploy_and_submit_print_no_requests_and_no_warning_twice(
    bench: BenchmarkFolder, emulator
) -> None:
    token = "hf_test_quinn"
    deploy = ("deploy", "-c", str(bench.config), "--endpoint", emulator.url)
    first = _run(*deploy, token=token)
    again = _run(*deploy, token=token)  # nothing changed: the Hub client warns, per upload
    board = bench.leaderboard / "heldout.toml"
    board.write_text(board.read_text().replace("YOUR-NAME", "quinn"))
    sample = str(bench.root / "public" / "sample_predictions.csv")
    submit = _run("submit", "-c", str(board), sample, "--model", "quiet", token=token)
    for output in (first, again, submit):
        assert "HTTP Request" not in output
        repeated = [line for line, n in Counter(output.splitlines()).items() if n > 1]
        assert repeated == []
    assert again.count("No files have been modified") == 1
    assert "deployed under quinn" in first and "submitted as job" in submit
    verbose = _run("-v", "queue", "ls", "-c", str(board), token=token)
    assert "HTTP Request: GET" in verbose
