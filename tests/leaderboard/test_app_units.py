"""The app's wiring without a browser: sign-in setup, the import graph, the upload checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lb_support import MAX_FILE_MB, write_setup

from heldout.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter: gradio's import-time settings need one."""
    merged = {k: v for k, v in os.environ.items() if k not in ("SYSTEM", "SPACE_ID")}
    merged.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=merged, cwd=ROOT
    )


def test_local_oauth_puts_gradio_in_space_mode_pointing_at_the_provider() -> None:
    done = python(
        "from heldout.leaderboard.oauth_env import configure_local_oauth\n"
        "configure_local_oauth('http://127.0.0.1:9/', 'cid', 'secret')\n"
        "import gradio.oauth as o, gradio.utils as u\n"
        "print(o.OAUTH_CLIENT_ID, o.OAUTH_CLIENT_SECRET, o.OPENID_PROVIDER_URL, u.get_space())\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "cid",
        "secret",
        "http://127.0.0.1:9",
        "local/heldout-leaderboard",
    ]


def test_configuring_oauth_after_gradio_is_imported_is_an_error() -> None:
    done = python(
        "import gradio\n"
        "from heldout.leaderboard.oauth_env import configure_local_oauth, OAuthSetupError\n"
        "try:\n"
        "    configure_local_oauth('http://127.0.0.1:9', 'cid', 'secret')\n"
        "except OAuthSetupError as e:\n"
        "    print('refused:', e)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused: gradio was imported before")


def test_the_leaderboard_never_imports_the_evaluator() -> None:
    done = python(
        "import sys\n"
        "from heldout.leaderboard.oauth_env import configure_local_oauth\n"
        "configure_local_oauth('http://127.0.0.1:9', 'cid', 'secret')\n"
        "import heldout.leaderboard.app, heldout.leaderboard.cli, heldout.leaderboard.server\n"
        "bad = sorted(m for m in sys.modules if m.startswith('heldout.evaluator'))\n"
        "print(bad)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_a_provider_off_a_space_the_command_says_what_to_do(tmp_path: Path) -> None:
    setup = write_setup(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "heldout.leaderboard", "-c", str(setup.board_config)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("SYSTEM", "SPACE_ID")},
        timeout=60,
    )
    assert done.returncode == 2
    assert "--oauth-provider" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture()
def ctx(tmp_path: Path):  # noqa: ANN201
    from heldout.leaderboard.context import make_context
    from heldout.queue.backends import open_queue

    setup = write_setup(tmp_path)
    config = load_config(setup.board_config)
    return make_context(config, open_queue(config)), setup


def test_the_handler_checks_size_format_and_ids_before_writing(
    ctx,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    from heldout.errors import InvalidPredictions
    from heldout.leaderboard.identity import Refusal
    from heldout.leaderboard.submit import UPLOAD_LOST, prepare

    context, setup = ctx
    before = context.queue.store.head()
    with pytest.raises(Refusal, match=UPLOAD_LOST):  # not an upload: never opened
        prepare(context, "alice", "m", "", str(setup.sample))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # files here count as uploads
    big = tmp_path / "big.csv"  # as if the upload limit had been bypassed
    big.write_bytes(b"id,prediction\n" + b"x" * int(MAX_FILE_MB * 2**20))
    with pytest.raises(Refusal, match="the limit is 0.25 MB"):
        prepare(context, "alice", "m", "", str(big))
    wrong = tmp_path / "preds.json"
    wrong.write_bytes(setup.predictions(seed=1))
    with pytest.raises(InvalidPredictions, match="must end in .jsonl"):
        prepare(context, "alice", "m", "", str(wrong))
    short = tmp_path / "short.csv"
    short.write_bytes(b"\n".join(setup.predictions(seed=1).splitlines()[:-5]) + b"\n")
    with pytest.raises(InvalidPredictions, match="missing"):
        prepare(context, "alice", "m", "", str(short))
    good = tmp_path / "good.csv"
    good.write_bytes(setup.predictions(seed=1))
    sub = prepare(context, "alice", "  my model ", "", str(good))
    assert (sub.model, sub.format, sub.submitter) == ("my model", "csv", "alice")
    assert context.queue.store.head() == before  # checking never writes


def test_the_app_drops_the_private_evaluator_section(tmp_path: Path) -> None:
    from heldout.leaderboard.context import public_config

    setup = write_setup(tmp_path)
    full = load_config(setup.worker_config)
    assert full.evaluator is not None
    assert public_config(full).evaluator is None
    assert "truth" not in setup.board_config.read_text()


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_a_public_client_secret_is_refused_on_every_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """gradio derives its cookie-signing key from the client secret; a known one is a
    forgeable session for anyone who can reach the port, and a reverse proxy makes a
    loopback port reachable, so the host makes no difference."""
    from heldout.leaderboard.cli import SECRET_ENV, main

    monkeypatch.delenv(SECRET_ENV, raising=False)
    setup = write_setup(tmp_path)
    args = ["-c", str(setup.board_config), "--host", host, "--oauth-provider", "http://127.0.0.1:9"]
    assert main([*args, "--oauth-client-secret", "heldout-local-secret"]) == 2
    assert "'heldout-local-secret' is public" in capsys.readouterr().err
    assert main(args) == 2  # no secret at all: no default to fall back on
    assert "--oauth-client-secret" in capsys.readouterr().err


def test_the_emulator_makes_a_random_secret_per_data_dir(tmp_path: Path) -> None:
    from heldout.hub_emulator.__main__ import client_secret

    first = client_secret(tmp_path / "a")
    assert first == client_secret(tmp_path / "a") != client_secret(tmp_path / "b")
    assert len(first) >= 32 and first != "heldout-local-secret"
    assert (tmp_path / "a" / "oauth-client-secret").stat().st_mode & 0o077 == 0
