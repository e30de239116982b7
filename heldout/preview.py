"""`heldout preview -c my-bench/heldout.toml`: your own benchmark, running on this machine.

What `heldout demo` does for the example, for the folder `heldout init` wrote and you
edited: a worker with your scorer and your test set, your leaderboard, and sign-in
through the Hub emulator's OpenID provider (any name works). Nothing reaches the Hub.
The queue and results live in the config's local folder (`storage.root`); a config
on the Hub backend is previewed on a scratch folder beside it instead, so a preview
never writes to the real datasets.
"""

from __future__ import annotations

import secrets
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from heldout.config import Config, StorageConfig, load_config
from heldout.errors import ConfigError

PREVIEW_FOLDER = "preview-data"
OAUTH_CLIENT_ID = "heldout-preview"


def preview_config(config: Config) -> Config:
    """The config as previewed: must have an [evaluator]; always on a local folder."""
    if config.evaluator is None:
        raise ConfigError(
            "preview needs the maintainer's heldout.toml (with its [evaluator] section), "
            "e.g. `heldout preview -c my-bench/heldout.toml`"
        )
    if config.storage.backend == "local":
        return config
    assert config.source is not None
    root = config.source.parent / PREVIEW_FOLDER
    return replace(config, storage=StorageConfig(backend="local", root=root))


def run(config_path: Path, *, port: int, host: str, out: TextIO) -> int:
    from heldout.checking import check_benchmark
    from heldout.hub_emulator import EmulatorServer, EmulatorSettings

    config = preview_config(load_config(config_path))
    check_benchmark(config)  # a scorer that cannot score stops here, not on the first job
    # A fresh client secret each run: gradio signs session cookies with a key derived from it.
    client = (OAUTH_CLIENT_ID, secrets.token_urlsafe(32))
    emulator = EmulatorServer(EmulatorSettings(oauth_clients=dict([client])), port=0).start()
    stop = threading.Event()
    try:
        _serve(config, (emulator.url, *client), host, port, stop, out)
    finally:
        emulator.stop()
    print("heldout preview stopped.", file=out, flush=True)
    return 0


def _serve(
    config: Config,
    provider: tuple[str, str, str],
    host: str,
    port: int,
    stop: threading.Event,
    out: TextIO,
) -> None:
    from heldout.evaluator.worker import Worker
    from heldout.leaderboard.oauth_env import configure_local_oauth
    from heldout.queue.backends import open_queue

    configure_local_oauth(*provider)  # before gradio is imported
    worker = Worker(open_queue(config), config, worker_id="preview-worker")
    worker_thread = threading.Thread(target=worker.run, name="heldout-worker", daemon=True)
    worker_thread.start()

    from heldout.leaderboard.cli import build_app
    from heldout.leaderboard.server import BackgroundServer

    board_config = replace(config, evaluator=None)  # the board never sees the test set
    server = BackgroundServer(
        build_app(board_config, open_queue(board_config), local=True), board_config, host, port
    )
    server.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(
        f"""
heldout preview is running: {server.url}

  - {config.benchmark.name}, scored by {config.evaluator.scorer if config.evaluator else "?"}
    against {config.evaluator.truth if config.evaluator else "?"}.
  - Sign in with any name (a local stand-in for Hugging Face sign-in) and submit a file.
  - Data: {config.storage.root} (local). Stop with Ctrl-C.
  - When it looks right: heldout deploy -c {config.source}
""",
        file=out,
        flush=True,
    )
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
