"""`heldout demo` as a newcomer runs it: a subprocess, a real browser, Ctrl-C, and again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Visitor, chromium, wait_for

from heldout.config import load_config
from heldout.queue.hub_store import HubStore
from heldout.queue.local_store import LocalStore
from heldout.queue.results import Results

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-board.png"
READY = re.compile(r"heldout demo is running: (http://127\.0\.0\.1:\d+)")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """`heldout demo` in its own process group, its output collected as it comes."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "heldout.cli",
                "demo",
                "--dir",
                str(folder),
                "--port",
                str(free_port()),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.url = wait_for(self._ready, timeout=120, every=0.2, what="the demo to start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def _ready(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError("the demo exited early:\n" + "".join(self.lines))
        found = READY.search("".join(self.lines))
        return found.group(1) if found else None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def interrupt(self) -> int:
        """Ctrl-C, as a person in a terminal sends it; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def left_behind(self) -> list[int]:
        """Processes still alive in the demo's process group (scoring children, say)."""
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                alive.append(int(stat.parent.name))
        return alive


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_demo_first_run_submit_see_score_stop_and_restart(browser: Any, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    demo = Demo(folder)
    assert "seeded 5 example submissions" in demo.output
    newcomer = Visitor(browser, demo.url).sign_in("newcomer")
    status = newcomer.submit("my first model", folder / "public" / "sample_predictions.csv")
    assert "as job" in status, status
    newcomer.tab("Leaderboard")

    def on_board() -> bool:
        newcomer.page.locator("#board-refresh").click()
        return "my first model" in newcomer.table_text("board")

    wait_for(on_board, timeout=60, every=1.0, what="the new score on the board")
    board = newcomer.table_text("board")
    assert "distilroberta fine-tuned" in board and "newcomer" in board
    assert "half-finished run" not in board and "definitely my own model" not in board
    # Only a passing run refreshes the picture the README shows, once the page is still.
    settled = newcomer.page.locator(".progress-text, .pending")
    wait_for(lambda: settled.count() == 0, timeout=30, what="the board to finish refreshing")
    newcomer.page.screenshot(path=str(SCREENSHOT))
    newcomer.close()

    assert demo.interrupt() == 0
    assert "heldout demo stopped" in demo.output
    assert demo.left_behind() == []

    again = Demo(folder)
    try:
        assert "seeded" not in again.output
        config = load_config(folder / "heldout.toml")
        results = Results(LocalStore(config.storage.root / "results"), config.benchmark).read()
        assert "my first model" in set(results["model"])
        assert len(results) == 4  # three seeded scores and the newcomer's
    finally:
        assert again.interrupt() == 0
    assert again.left_behind() == []


def test_demo_on_the_hub_backend_scores_through_the_emulator(tmp_path: Path) -> None:
    demo = Demo(tmp_path / "demo-hub", "--backend", "hub")
    try:
        endpoint = re.search(r"Data: (http://127\.0\.0\.1:\d+) \(hub backend\)", demo.output).group(
            1
        )
        config = load_config(tmp_path / "demo-hub" / "heldout.toml")
        store = HubStore("demo/review-sentiment-results", token="hf_test_demo", endpoint=endpoint)

        def scored() -> set[str]:
            models = set(Results(store, config.benchmark).read()["model"])
            return models if len(models) == 3 else set()

        models = wait_for(scored, timeout=60, every=0.5, what="three seeded scores")
        assert models == {
            "tf-idf + logistic regression",
            "distilroberta fine-tuned",
            "majority class",
        }
    finally:
        assert demo.interrupt() == 0
