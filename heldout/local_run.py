"""A benchmark running on this machine: a worker, the board, and sign-in through the
Hub emulator's OpenID provider (any name works). What `heldout demo` and `heldout
preview` share; each brings its own config and its own welcome text."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from heldout.config import Config
from heldout.hub_emulator import EmulatorServer, EmulatorSettings

Provider = tuple[str, str, str]  # the OpenID provider's URL, client id and secret


def start_sign_in(client_id: str, data_dir: Path | None = None) -> tuple[EmulatorServer, Provider]:
    """The Hub emulator, started as the OpenID provider. A fresh client secret each run:
    gradio signs session cookies with a key derived from it, so a well-known secret
    would let anyone forge a session."""
    secret = secrets.token_urlsafe(32)
    settings = EmulatorSettings(data_dir=data_dir, oauth_clients={client_id: secret})
    emulator = EmulatorServer(settings, port=0).start()
    return emulator, (emulator.url, client_id, secret)


def serve(
    config: Config,
    provider: Provider,
    *,
    host: str,
    port: int,
    stop: threading.Event,
    out: TextIO,
    worker_id: str,
    welcome: Callable[[str], None],
) -> None:
    """Run a worker and the board until Ctrl-C, SIGTERM or `stop`; `welcome(url)` once
    the board is up."""
    from heldout.evaluator.worker import Worker
    from heldout.leaderboard.oauth_env import configure_local_oauth
    from heldout.queue.backends import open_queue

    configure_local_oauth(*provider)  # before gradio is imported
    worker = Worker(open_queue(config), config, worker_id=worker_id)
    worker_thread = threading.Thread(target=worker.run, name="heldout-worker", daemon=True)
    worker_thread.start()

    from heldout.leaderboard.cli import build_app
    from heldout.leaderboard.server import BackgroundServer

    board_config = replace(config, evaluator=None)  # the board never sees the test set
    app = build_app(board_config, open_queue(board_config), local=True)
    server = BackgroundServer(app, board_config, host, port)
    server.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    welcome(server.url)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", file=out, flush=True)
        worker.request_stop()
        worker_thread.join(timeout=30)
        server.stop()
