"""`heldout preview -c my-bench/heldout.toml`: your own benchmark, running on this machine.

What `heldout demo` does for the example, for the folder `heldout init` wrote and you
edited: a worker with your scorer and your test set, your leaderboard, and sign-in
through the Hub emulator's OpenID provider (any name works). Nothing reaches the Hub.
The queue and results live in the config's local folder (`storage.root`); a config
on the Hub backend is previewed on a scratch folder beside it instead, so a preview
never writes to the real datasets.
"""

from __future__ import annotations

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
    from heldout.local_run import serve, start_sign_in

    config = preview_config(load_config(config_path))
    check_benchmark(config)  # a scorer that cannot score stops here, not on the first job
    emulator, provider = start_sign_in(OAUTH_CLIENT_ID)
    try:
        serve(
            config,
            provider,
            host=host,
            port=port,
            stop=threading.Event(),
            out=out,
            worker_id="preview-worker",
            welcome=lambda url: _welcome(url, config, out),
        )
    finally:
        emulator.stop()
    print("heldout preview stopped.", file=out, flush=True)
    return 0


def _welcome(url: str, config: Config, out: TextIO) -> None:
    print(
        f"""
heldout preview is running: {url}

  - {config.benchmark.name}, scored by {config.evaluator.scorer if config.evaluator else "?"}
    against {config.evaluator.truth if config.evaluator else "?"}.
  - Sign in with any name (a local stand-in for Hugging Face sign-in) and submit a file.
  - Data: {config.storage.root} (local). Stop with Ctrl-C.
  - When it looks right: heldout deploy -c {config.source}
""",
        file=out,
        flush=True,
    )
