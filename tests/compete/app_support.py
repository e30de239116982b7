"""A competition served by the real leaderboard process, with its repos on a Hub emulator.

The app's own clock is the real one (the competition is open: it started an hour ago
and ends tomorrow). What happens after the end (the reveal) is done from the test
process with a `JobQueue` whose clock the test sets, exactly as `heldout reveal` would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from compete_helpers import LABELS, Clock
from lb_support import CLIENT_SECRET, App, Setup

from heldout.config import Config, load_config
from heldout.evaluator.worker import Worker
from heldout.example.generate import make_predictions, write_benchmark
from heldout.hub_emulator import EmulatorServer, EmulatorSettings
from heldout.queue.hub_store import HubStore
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.reveal import Reveal, RevealRecord

OWNER = "heldout-arena"
TOKEN_ENV = "HELDOUT_ARENA_TOKEN"
N = 200
NOW = datetime.now(timezone.utc).replace(microsecond=0)
START, END = NOW - timedelta(hours=1), NOW + timedelta(days=1)


@dataclass
class Arena:
    root: Path
    url: str  # the leaderboard
    hub: str  # the emulator: Hub API and OpenID provider
    repos: tuple[str, str]  # (queue, results)
    worker_config: Config
    truth: pd.DataFrame
    app: App
    clock: Clock = field(default_factory=lambda: Clock(NOW))

    def queue(self) -> JobQueue:
        options = {"token": f"hf_test_{OWNER}", "endpoint": self.hub, "retry_seconds": 20.0}
        store = HubStore(self.repos[0], **options)
        results = HubStore(self.repos[1], **options)
        return JobQueue(
            store, self.worker_config, Results(results, self.worker_config.benchmark), self.clock
        )

    def predictions(self, seed: int, accuracy: float) -> bytes:
        frame = make_predictions(self.truth["id"], LABELS, accuracy, seed, truth=self.truth)
        return frame.to_csv(index=False, lineterminator="\n").encode()

    def score(self) -> None:
        self.clock.set(datetime.now(timezone.utc))  # a burst takes the jobs submitted by now
        queue = self.queue()
        Worker(queue, self.worker_config, worker_id="arena", sleep=lambda s: None).run(once=True)

    def reveal(self) -> RevealRecord:
        """`heldout reveal --by rita`, a minute after the end (everything scored first)."""
        self.score()
        self.clock.set(END + timedelta(minutes=1))
        return Reveal(self.queue()).publish("rita")


def write_configs(root: Path, hub: str, repos: tuple[str, str]) -> tuple[Path, Path]:
    files = write_benchmark(root / "bench", n=N, seed=7, public_fraction=0.5)
    common = f"""
[benchmark]
name = "Arena"
primary_metric = "accuracy"
metrics = ["accuracy", "macro_f1"]
labels = {LABELS!r}
public_ids = "{files.public_ids}"

[storage]
backend = "hub"
queue_repo = "{repos[0]}"
results_repo = "{repos[1]}"
endpoint = "{hub}"
token_env = "{TOKEN_ENV}"

[limits]
submissions_per_day = 10

[review]
reviewers = ["rita"]

[phases]
start = {START.strftime("%Y-%m-%dT%H:%M:%SZ")}
end = {END.strftime("%Y-%m-%dT%H:%M:%SZ")}
late = true
select_max = 2

[leaderboard]
cache_seconds = 0.5
refresh_seconds = 1
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
poll_seconds = 0.05
""",
        encoding="utf-8",
    )
    return board, worker


@contextmanager
def start_arena(root: Path) -> Iterator[Arena]:
    emulator = EmulatorServer(
        EmulatorSettings(oauth_clients={"heldout-local": CLIENT_SECRET}), port=0
    )
    emulator.start()
    saved = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = f"hf_test_{OWNER}"  # the app process inherits it
    app = None
    try:
        name = uuid.uuid4().hex[:8]
        repos = (f"{OWNER}/queue-{name}", f"{OWNER}/results-{name}")
        options = {"token": f"hf_test_{OWNER}", "endpoint": emulator.url}
        HubStore.create(repos[0], private=True, **options)
        HubStore.create(repos[1], private=False, **options)
        board, worker = write_configs(root, emulator.url, repos)
        setup = Setup(root, board, worker, root / "unused", root / "unused", [])
        app = App(setup, emulator.url)
        app.wait_ready(timeout=240)
        worker_config = load_config(worker)
        truth = pd.read_parquet(worker_config.evaluator.truth)
        yield Arena(root, app.url, emulator.url, repos, worker_config, truth, app)
    finally:
        if app is not None:
            app.stop()
        emulator.stop()
        if saved is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = saved
