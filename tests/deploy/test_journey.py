"""The whole way from `heldout init` to a live benchmark, in one test.

init -> check -> preview (a browser submission scored by the maintainer's own scorer)
-> deploy --endpoint <emulator> -> the two Spaces downloaded with the real client into
empty folders, installed into a fresh venv with `pip install -r requirements.txt` (as a
Space builds, from PyPI; see `SpaceBuild`) and started with the environment a Space gets
-> doctor -> sign-in and a submission in a real browser, scored because the queue's
webhook woke the evaluator (it polls only every ten minutes) -> doctor again.

The default huggingface_hub client is used throughout (Xet is not switched off).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import Visitor, chromium, wait_for
from deploy_helpers import Process, free_port, run_cli
from huggingface_hub import snapshot_download

from heldout.hub_emulator import EmulatorServer, EmulatorSettings

# pip resolves ~65 pinned packages against the index: minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(1200)]
NS = "maya"
SPACE_CLIENT = ("space-client-id", "space-client-secret-for-this-test-only")
SCORER = '''

_example_score = score


def score(predictions, truth):
    """The maintainer's own: the example's accuracy, and a macro-F1 nobody else reports."""
    return {**_example_score(predictions, truth), "macro_f1": 0.4242}
'''
READY = re.compile(r"heldout preview is running: (http://127\.0\.0\.1:\d+)")


class SpaceVisitor(Visitor):
    """A visitor of a Space. A Space is served over https by the Hub's front end, so
    gradio sends the OpenID provider an https callback URL; this test serves the Space
    over plain http on the same host and port. The provider's redirect to that https
    callback is turned back into http here; nothing else is changed, and everything off
    127.0.0.1 is blocked, as for every visitor."""

    # What a Space's page fetches by design: its Space header and web fonts (blocked).
    SPACE_PAGE = ("huggingface.co/api/spaces/", "fonts.googleapis.com")

    def _route(self, route: Any) -> None:
        if "/oauth/authorize" not in route.request.url:
            super()._route(route)
            return
        answer = route.fetch(max_redirects=0)
        headers = dict(answer.headers)
        location = headers.get("location", "")
        if location.startswith("https://127.0.0.1:"):
            headers["location"] = "http://" + location[len("https://") :]
        route.fulfill(status=answer.status, headers=headers, body=answer.body())

    def close(self) -> None:
        self.outside = [u for u in self.outside if not any(s in u for s in self.SPACE_PAGE)]
        super().close()


class SpaceBuild:
    """The Space's fresh venv, built on a thread while init, check and preview run.

    pip spends minutes on index round trips, so the venv is started early from the
    requirements.txt and wheel that deploy will write (both made from this same running
    heldout). After deploy, the downloaded Space's requirements.txt and wheel must be
    byte for byte what the venv was built from, and `pip install -r requirements.txt`
    then runs again in the Space's own folder, as a Space's build does.
    """

    def __init__(self, folder: Path) -> None:
        from heldout.space_bundle import WHEEL_DIR, build_wheel, requirements_text

        self.venv = folder / "space-venv"
        source = folder / "expected-space"
        self.wheel = build_wheel(source / WHEEL_DIR)
        self.requirements = requirements_text(self.wheel.name)
        (source / "requirements.txt").write_text(self.requirements)
        self.result: subprocess.CompletedProcess[str] | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._build, args=(source,), daemon=True)
        self.thread.start()

    def _build(self, source: Path) -> None:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        self.result = subprocess.run(
            [
                str(self.venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                "requirements.txt",
            ],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.seconds = time.monotonic() - started

    def ready(self) -> str:
        self.thread.join(timeout=900)
        assert self.result is not None and self.result.returncode == 0, self.result
        print(
            f"\nfresh venv + pip install -r requirements.txt: {self.seconds:.0f} s",
            file=sys.__stderr__,
        )
        return str(self.venv / "bin" / "python")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def space_env(space_id: str, port: int, endpoint: str, **secrets: str) -> dict[str, str]:
    """What a Space's process gets: no PYTHONPATH (heldout comes from the wheel)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "SYSTEM": "spaces",
        "SPACE_ID": space_id,
        "SPACE_HOST": f"127.0.0.1:{port}",
        "HF_ENDPOINT": endpoint,
        "HF_HOME": tempfile.mkdtemp(prefix="space-hf-home-"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "NO_PROXY": "127.0.0.1,localhost",
        **secrets,
    }


def submit_and_see(visitor: Visitor, model: str, path: Path, score: str) -> None:
    status = visitor.submit(model, path)
    assert "as job" in status, status
    visitor.tab("Leaderboard")

    def on_board() -> bool:
        visitor.page.locator("#board-refresh").click()
        text = visitor.table_text("board")
        return model in text and score in text

    wait_for(on_board, timeout=120, every=2.0, what=f"{model} scored {score} on the board")


def test_init_check_preview_deploy_doctor_and_a_webhook_scored_submission(
    browser: Any, capsys, tmp_path: Path, monkeypatch
) -> None:
    build = SpaceBuild(tmp_path)
    bench = tmp_path / "my-bench"
    config = bench / "heldout.toml"
    # init, then make it the maintainer's own: their scorer, and a worker that polls
    # only every ten minutes once a webhook wakes it.
    assert run_cli(capsys, "init", str(bench), "--name", "Review sentiment")[0] == 0
    (bench / "evaluator" / "scorer.py").write_text(
        (bench / "evaluator" / "scorer.py").read_text() + SCORER
    )
    evaluator_toml = bench / "evaluator" / "heldout.toml"
    evaluator_toml.write_text(
        re.sub(r"poll_seconds = \S+", "poll_seconds = 600", evaluator_toml.read_text())
    )
    code, out, err = run_cli(capsys, "check", "-c", str(config))
    assert code == 0 and "macro_f1=0.4242" in out, out + err
    sample = bench / "public" / "sample_predictions.csv"

    # preview: the maintainer's own folder, their scorer, a browser submission.
    preview = Process.heldout("preview", "-c", str(config), "--port", str(free_port()))
    try:
        url = wait_for(
            lambda: preview.alive() and (m := READY.search(preview.output)) and m.group(1),
            timeout=120,
            what="the preview",
        )
        visitor = Visitor(browser, url).sign_in("pia")
        submit_and_see(visitor, "previewed model", sample, "0.4242")
        visitor.close()
    finally:
        preview.proc.send_signal(signal.SIGINT)
        preview.proc.wait(timeout=60)
    assert "heldout preview stopped" in preview.output

    emulator = EmulatorServer(EmulatorSettings(oauth_clients=dict([SPACE_CLIENT]))).start()
    processes: list[Process] = []
    try:
        token = f"hf_test_{NS}"
        monkeypatch.setenv("HF_TOKEN", token)
        ev_port, lb_port = free_port(), free_port()
        code, out, err = run_cli(
            capsys,
            "deploy",
            "-c",
            str(config),
            "--endpoint",
            emulator.url,
            "--evaluator-url",
            f"http://127.0.0.1:{ev_port}",
        )
        assert code == 0, err

        # Each Space as it is built: its repo in an empty folder, pip from the repo root.
        spaces = {}
        for name in ("leaderboard", "evaluator"):
            spaces[name] = Path(
                snapshot_download(
                    f"{NS}/review-sentiment-{name}",
                    repo_type="space",
                    local_dir=tmp_path / "spaces" / name,
                    endpoint=emulator.url,
                    token=token,
                )
            )
        requirements = {n: (f / "requirements.txt").read_text() for n, f in spaces.items()}
        assert requirements["leaderboard"] == requirements["evaluator"]  # one venv serves both
        python = build.ready()
        assert requirements["leaderboard"] == build.requirements  # what the venv was built for
        wheel = build.wheel.name
        assert (spaces["leaderboard"] / "wheels" / wheel).read_bytes() == build.wheel.read_bytes()
        pip = subprocess.run(
            [python, "-m", "pip", "install", "-q", "-r", "requirements.txt"],
            cwd=spaces["leaderboard"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert pip.returncode == 0, pip.stdout + pip.stderr
        venv = build.venv
        installed = subprocess.run(
            [python, "-c", "import heldout; print(heldout.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env=space_env("x/y", 0, emulator.url),
        ).stdout
        assert str(venv) in installed  # the wheel's heldout, not this source tree

        state = emulator.services.state
        secret = state.repo("space", f"{NS}/review-sentiment-evaluator").secrets
        evaluator = Process(
            [python, "app.py"],
            cwd=spaces["evaluator"],
            env=space_env(
                f"{NS}/review-sentiment-evaluator",
                ev_port,
                emulator.url,
                HF_TOKEN=secret["HF_TOKEN"]["value"],
                WEBHOOK_SECRET=secret["WEBHOOK_SECRET"]["value"],
            ),
        )
        processes.append(evaluator)
        board_secret = state.repo("space", f"{NS}/review-sentiment-leaderboard").secrets
        leaderboard = Process(
            [python, "app.py"],
            cwd=spaces["leaderboard"],
            env=space_env(
                f"{NS}/review-sentiment-leaderboard",
                lb_port,
                emulator.url,
                HF_TOKEN=board_secret["HF_TOKEN"]["value"],
                OAUTH_CLIENT_ID=SPACE_CLIENT[0],
                OAUTH_CLIENT_SECRET=SPACE_CLIENT[1],
                OAUTH_SCOPES="openid profile",
                OPENID_PROVIDER_URL=emulator.url,
            ),
        )
        processes.append(leaderboard)
        wait_for(
            lambda: evaluator.alive() and "webhook server listening" in evaluator.output,
            timeout=180,
            what="the evaluator Space",
        )
        board_url = f"http://127.0.0.1:{lb_port}"

        def board_up() -> bool:
            leaderboard.alive()
            try:
                return httpx.get(board_url, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(board_up, timeout=180, every=1.0, what="the leaderboard Space")

        doctor = ("doctor", "-c", str(config), "--endpoint", emulator.url)
        code, out, err = run_cli(capsys, *doctor)
        assert code == 0, out + err

        visitor = SpaceVisitor(browser, board_url).sign_in("sam")
        submit_and_see(visitor, "deployed model", sample, "0.4242")
        visitor.close()
        assert "webhook: the queue changed" in evaluator.output

        code, out, err = run_cli(capsys, *doctor)
        assert code == 0 and "deliveries succeeded" in out, out + err
    finally:
        for process in processes:
            process.stop()
        emulator.stop()
