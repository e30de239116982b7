"""Helpers for the leaderboard tests: configs, the app and worker processes, sign-in, API calls.

The app always runs in its own process (`python -m heldout.leaderboard`), because gradio
reads the sign-in settings at import time; the evaluator worker runs in its own process
too, with a config only it can read.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from browser_support import wait_for  # noqa: F401  (shared with the browser tests)

from heldout.example.generate import make_predictions, make_truth, write_benchmark
from heldout.queue.local_store import LocalStore

REVIEWER = "rita"
FLAGGED = "mallory"  # every submission by these accounts is held for review
FLAGGED_API = "mallory-api"
FLAGGED_WEB = "mallory-web"  # the web-security tests' own flagged account (daily quota)
PER_DAY = 3
MAX_FILE_MB = 0.25
N_IDS = 300
CLIENT_SECRET = secrets.token_urlsafe(24)  # the board refuses a publicly known one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Setup:
    root: Path
    board_config: Path  # the leaderboard's heldout.toml: public files only
    worker_config: Path  # the evaluator's: the only one naming the truth
    store: Path
    sample: Path
    ids: list[str]

    def queue_store(self) -> LocalStore:
        return LocalStore(self.store / "queue")

    def predictions(self, seed: int, accuracy: float = 0.6) -> bytes:
        """A valid CSV of predictions; each seed gives a different file (no duplicates)."""
        truth = make_truth(N_IDS, 0)
        frame = make_predictions(
            truth["id"], ["negative", "neutral", "positive"], accuracy, seed, truth
        )
        return frame.to_csv(index=False, lineterminator="\n").encode()


def write_setup(root: Path, *, cache_seconds: float = 0.5, refresh_seconds: float = 1.0) -> Setup:
    files = write_benchmark(root / "bench", n=N_IDS, seed=0)
    store = root / "store"
    common = f"""
[benchmark]
name = "Sentiment test"
primary_metric = "accuracy"
metrics = ["accuracy", "macro_f1"]
description = "A small benchmark for the leaderboard's tests."
labels = ["negative", "neutral", "positive"]
public_ids = "{files.public_ids}"
example_predictions = "{files.sample_predictions}"
citation = "@misc{{heldout-test}}"

[storage]
backend = "local"
root = "{store}"

[limits]
submissions_per_day = {PER_DAY}
max_file_mb = {MAX_FILE_MB}

[review]
reviewers = ["{REVIEWER}"]
flag_accounts = ["{FLAGGED}", "{FLAGGED_API}", "{FLAGGED_WEB}"]

[leaderboard]
cache_seconds = {cache_seconds}
refresh_seconds = {refresh_seconds}
"""
    board = root / "board" / "heldout.toml"
    board.parent.mkdir(parents=True)
    board.write_text(common, encoding="utf-8")
    worker = root / "evaluator" / "heldout.toml"
    worker.parent.mkdir(parents=True)
    worker.write_text(
        common
        + f"""
[evaluator]
scorer = "heldout.example.scorer:score"
truth = "{files.truth}"
poll_seconds = 0.2
""",
        encoding="utf-8",
    )
    ids = files.public_ids.read_text().split()
    return Setup(root, board, worker, store, files.sample_predictions, ids)


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GRADIO_TEMP_DIR"] = str(root / "gradio-tmp")
    env["PYTHONUNBUFFERED"] = "1"
    env["HELDOUT_OAUTH_CLIENT_SECRET"] = CLIENT_SECRET
    for name in ("SYSTEM", "SPACE_ID", "SPACE_HOST", "HF_TOKEN"):
        env.pop(name, None)
    return env


class Process:
    """A child process whose output goes to a log file, stopped by its own pid."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._out.close()


class App(Process):
    def __init__(self, setup: Setup, provider: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "heldout.leaderboard", "-c", str(setup.board_config)]
        args += ["--port", str(self.port), "--oauth-provider", provider]
        super().__init__(args, setup.root / "app.log", _env(setup.root))

    def wait_ready(self, timeout: float = 180.0) -> None:  # gradio imports slowly under load
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.output()[-3000:]}")
            try:
                if httpx.get(self.url + "/config", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the app did not start:\n{self.output()[-3000:]}")


class WorkerProcess(Process):
    """The real evaluator worker (`heldout worker`), started on demand."""

    def __init__(self, setup: Setup) -> None:
        args = [sys.executable, "-m", "heldout.cli", "worker", "-c", str(setup.worker_config)]
        super().__init__(args, setup.root / "worker.log", _env(setup.root))


# ---- signing in and calling the API over HTTP ------------------------------------


def session_cookie(response: httpx.Response) -> str | None:
    """The `session` cookie a response sets. It is Secure, so httpx would not send it
    back over http by itself: callers pass it in a Cookie header."""
    for key, value in response.headers.multi_items():
        if key.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


def sign_in(app_url: str, username: str) -> str:
    """The real OpenID flow, as a browser does it: app -> provider's page -> callback."""
    with httpx.Client(timeout=30) as client:
        start = client.get(f"{app_url}/login/huggingface")
        assert start.status_code in (302, 307), start.text[:300]
        cookie = session_cookie(start)
        authorize = start.headers["location"]
        page = client.get(authorize)
        fields = {
            name: html.unescape(value)
            for name, value in re.findall(
                r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
            )
        }
        fields["username"] = username
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action, page.text[:500]
        back = client.post(httpx.URL(authorize).join(action.group(1)), data=fields)
        assert back.status_code in (302, 303), back.text[:300]
        done = client.get(back.headers["location"], headers={"Cookie": f"session={cookie}"})
        signed = session_cookie(done)
        assert signed, f"no session after the callback ({done.status_code})"
        return signed


class ApiError(RuntimeError):
    """The endpoint answered with an error event (gradio hides the message: show_error off)."""


class Api:
    def __init__(self, app_url: str) -> None:
        self.url = app_url
        self.client = httpx.Client(timeout=60)

    def upload(
        self, content: bytes, name: str = "predictions.csv", cookie: str | None = None
    ) -> dict[str, Any]:
        """Upload as the signed-in owner of `cookie` (uploads need a session)."""
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        response = self.client.post(
            f"{self.url}/gradio_api/upload", files={"files": (name, content)}, headers=headers
        )
        response.raise_for_status()
        path = response.json()[0]
        return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def call(self, name: str, data: list[Any], cookie: str | None = None) -> list[Any]:
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        start = self.client.post(
            f"{self.url}/gradio_api/call/{name}", json={"data": data}, headers=headers
        )
        start.raise_for_status()
        event_id = start.json()["event_id"]
        stream = self.client.get(f"{self.url}/gradio_api/call/{name}/{event_id}", headers=headers)
        event = None
        for line in stream.text.splitlines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in ("complete", "error"):
                payload = json.loads(line[len("data: ") :])
                if event == "error":
                    raise ApiError(str(payload))
                return payload
        raise ApiError(f"no result in {stream.text[:300]!r}")

    def submit(self, cookie: str | None, model: str, content: bytes, description: str = "") -> str:
        """The status message of one submission."""
        return self.call(
            "submit", [model, description, self.upload(content, cookie=cookie)], cookie
        )[0]

    def mine(self, cookie: str) -> dict[str, Any]:
        """My submissions: the table payload ({headers, data})."""
        return self.call("my_submissions", [], cookie)[1]

    def close(self) -> None:
        self.client.close()


def job_id_in(message: str) -> str:
    found = re.search(r"\d{8}T\d{6}Z-[0-9a-f]{8}", message)
    assert found, message
    return found.group(0)
