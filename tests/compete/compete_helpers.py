"""A small competition on the shared Hub emulator: a split test set, a settable clock,
a queue and results repo per test, and the real worker to score."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from heldout.config import Config, config_from_dict
from heldout.evaluator.worker import Worker
from heldout.example.generate import make_predictions, make_truth
from heldout.queue.entry import Entry
from heldout.queue.hub_store import HubStore
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.submission import Submission

OWNER = "heldout-compete"
TOKEN = f"hf_test_{OWNER}"
LABELS = ["negative", "neutral", "positive"]
N = 120
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
START = T0 + timedelta(hours=1)
END = T0 + timedelta(days=2)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class Competition:
    root: Path
    config: Config
    queue: JobQueue
    clock: Clock
    truth: pd.DataFrame
    repos: tuple[str, str]

    def predictions(self, seed: int, accuracy: float) -> bytes:
        frame = make_predictions(self.truth["id"], LABELS, accuracy, seed, truth=self.truth)
        return frame.to_csv(index=False).encode()

    def submit(self, user: str, model: str, seed: int, accuracy: float) -> Entry:
        return self.queue.submit(Submission(user, model, self.predictions(seed, accuracy), "csv"))

    def score(self) -> None:
        """The real worker, burst mode: everything submitted so far, then stop."""
        Worker(self.queue, self.config, worker_id="w1", sleep=lambda s: None).run(once=True)


def make_competition(
    root: Path,
    emulator: Any,
    *,
    phases: dict[str, Any] | None = None,
    split: bool = True,
    **sections: dict[str, Any],
) -> Competition:
    truth = make_truth(N, seed=3, public_fraction=0.5 if split else None)
    root.mkdir(parents=True, exist_ok=True)
    truth_path = root / "truth.parquet"
    truth.to_parquet(truth_path, index=False)
    name = uuid.uuid4().hex[:10]
    queue_repo, results_repo = f"{OWNER}/queue-{name}", f"{OWNER}/results-{name}"
    raw: dict[str, Any] = {
        "benchmark": {
            "name": "Compete",
            "primary_metric": "accuracy",
            "metrics": ["accuracy", "macro_f1"],
            "labels": LABELS,
        },
        "storage": {
            "backend": "hub",
            "queue_repo": queue_repo,
            "results_repo": results_repo,
            "endpoint": emulator.url,
        },
        "limits": {"submissions_per_day": 5},
        "review": {"reviewers": ["rita"]},
        "evaluator": {
            "scorer": "heldout.example.scorer:score",
            "truth": str(truth_path),
            "poll_seconds": 0.05,
        },
        "phases": phases if phases is not None else {"start": START, "end": END},
    }
    for key, values in sections.items():
        raw[key] = {**raw.get(key, {}), **values}
    config = config_from_dict(raw, base_dir=root)
    options = {"token": TOKEN, "endpoint": emulator.url, "retry_seconds": 20.0}
    store = HubStore.create(queue_repo, private=True, **options)
    results = HubStore.create(results_repo, private=False, **options)
    clock = Clock()
    queue = JobQueue(store, config, Results(results, config.benchmark), clock=clock)
    return Competition(root, config, queue, clock, truth, (queue_repo, results_repo))


def split_truth(truth: pd.DataFrame, part: str) -> pd.DataFrame:
    return truth[truth["split"] == part].drop(columns=["split"]).reset_index(drop=True)
