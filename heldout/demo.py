"""`heldout demo`: the whole stack on one machine, with no internet and no token.

The example benchmark on the embedded store (or, with `--backend hub`, on the Hub
emulator through the real `huggingface_hub` client), one evaluator worker, the
leaderboard, and sign-in through the emulator's OpenID provider. The first run seeds
a few submissions so that every tab has something to show; later runs reuse the
folder and keep its data.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from heldout.config import Config, StorageConfig, load_config
from heldout.queue.backends import open_queue
from heldout.queue.jobs import JobQueue
from heldout.queue.submission import Submission
from heldout.scaffold import BenchmarkFolder, init_benchmark

DEMO_REVIEWER = "reviewer"
DEMO_TOKEN_ENV = "HELDOUT_DEMO_TOKEN"
DEMO_NAMESPACE = "demo"
OAUTH_CLIENT_ID = "heldout-local"


@dataclass(frozen=True)
class Seed:
    user: str
    model: str
    accuracy: float
    fmt: str
    broken: bool = False  # some ids left out: the evaluator explains the failure
    copy_of: str | None = None  # same bytes as another seed: flagged for review


SEEDS = (
    Seed("ada", "tf-idf + logistic regression", 0.72, "csv"),
    Seed("grace", "distilroberta fine-tuned", 0.86, "parquet"),
    Seed("linus", "majority class", 0.5, "jsonl"),
    Seed("dennis", "half-finished run", 0.8, "csv", broken=True),
    Seed("mallory", "definitely my own model", 0.0, "csv", copy_of="ada"),
)


def prepare_folder(root: Path) -> tuple[BenchmarkFolder, bool]:
    """The demo's benchmark folder, written on the first run only."""
    folder = BenchmarkFolder(root)
    if folder.config.exists():
        return folder, False
    init_benchmark(
        root, name="Review sentiment (demo)", reviewers=(DEMO_REVIEWER,), poll_seconds=0.5
    )
    return folder, True


def hub_config(config: Config, endpoint: str) -> Config:
    """The same benchmark, stored in two repos on the emulator."""
    from huggingface_hub import HfApi

    os.environ[DEMO_TOKEN_ENV] = f"hf_test_{DEMO_NAMESPACE}"
    storage = StorageConfig(
        backend="hub",
        queue_repo=f"{DEMO_NAMESPACE}/review-sentiment-queue",
        results_repo=f"{DEMO_NAMESPACE}/review-sentiment-results",
        token_env=DEMO_TOKEN_ENV,
        endpoint=endpoint,
        retry_seconds=30.0,
    )
    api = HfApi(endpoint=endpoint, token=os.environ[DEMO_TOKEN_ENV])
    api.create_repo(storage.queue_repo, repo_type="dataset", private=True, exist_ok=True)
    api.create_repo(storage.results_repo, repo_type="dataset", private=False, exist_ok=True)
    return replace(config, storage=storage)


def _encode(frame: object, fmt: str) -> bytes:
    sink = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(sink, index=False)  # type: ignore[attr-defined]
    elif fmt == "jsonl":
        frame.to_json(sink, orient="records", lines=True)  # type: ignore[attr-defined]
    else:
        frame.to_parquet(sink, index=False)  # type: ignore[attr-defined]
    return sink.getvalue()


def seed(queue: JobQueue, config: Config, out: TextIO) -> int:
    """Submit the example submissions, as a maintainer would from the CLI."""
    from tqdm import tqdm

    from heldout.evaluator.scoring import load_truth
    from heldout.example.generate import make_predictions

    assert config.evaluator is not None
    truth = load_truth(config.evaluator.truth, config.benchmark)
    labels = config.benchmark.labels
    files: dict[str, bytes] = {}
    for n, s in enumerate(tqdm(SEEDS, desc="seeding", unit="job", file=out), start=1):
        if s.copy_of:
            content = files[s.copy_of]
        else:
            frame = make_predictions(truth["id"], labels, s.accuracy, seed=n, truth=truth)
            content = _encode(frame.iloc[:-25] if s.broken else frame, s.fmt)
        files[s.user] = content
        queue.submit(Submission(s.user, s.model, content, s.fmt))
    return len(SEEDS)


def run(root: Path, *, port: int, host: str, backend: str, out: TextIO) -> int:

    folder, first = prepare_folder(root.resolve())
    config = load_config(folder.config)
    from heldout.local_run import serve, start_sign_in

    emulator, provider = start_sign_in(OAUTH_CLIENT_ID, folder.root / "hub-emulator")
    try:
        if backend == "hub":
            config = hub_config(config, emulator.url)
        queue = open_queue(config)
        if first or not queue.has_users():
            print(f"seeded {seed(queue, config, out)} example submissions", file=out)
        serve(
            config,
            provider,
            host=host,
            port=port,
            stop=threading.Event(),
            out=out,
            worker_id="demo-worker",
            welcome=lambda url: _welcome(url, config, out),
        )
    finally:
        emulator.stop()
    print("heldout demo stopped; run it again to pick up where you left off.", file=out)
    return 0


def _welcome(url: str, config: Config, out: TextIO) -> None:
    where = config.storage.root if config.storage.backend == "local" else config.storage.endpoint
    print(
        f"""
heldout demo is running: {url}

  - Sign in with any name (it is a local stand-in for Hugging Face sign-in).
  - Submit public/sample_predictions.csv from the demo folder, or your own file.
  - Sign in as "{DEMO_REVIEWER}" to see the Review tab and approve mallory's flagged job.
  - Data: {where} ({config.storage.backend} backend). Stop with Ctrl-C.
""",
        file=out,
        flush=True,
    )
