"""A small benchmark on disk, configs for either backend, submissions and worker runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from heldout.config import Config, load_config
from heldout.example.generate import make_predictions, make_truth
from heldout.queue.backends import open_queue
from heldout.queue.jobs import JobQueue
from heldout.queue.submission import Submission

HERE = Path(__file__).parent
OWNER = "heldout-worker-tests"
TOKEN_ENV = "HELDOUT_TEST_TOKEN"
LABELS = ["negative", "neutral", "positive"]
N_EXAMPLES = 40


@dataclass
class Bench:
    """One test benchmark: its folder, config file, queue, and the scorer's call log."""

    root: Path
    config_path: Path
    truth: pd.DataFrame
    scorer_log: Path
    backend: str

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def queue(self) -> JobQueue:
        return open_queue(self.config)

    def predictions(self, seed: int, accuracy: float = 0.7) -> bytes:
        frame = make_predictions(self.truth["id"], LABELS, accuracy, seed, truth=self.truth)
        return frame.to_csv(index=False).encode()

    def submit(self, count: int, users: int = 10, start: int = 0) -> list[str]:
        """Distinct files from several users, in batches of 50 per commit."""
        q = self.queue()
        jobs: list[str] = []
        for first in range(start, start + count, 50):
            subs = [
                Submission(f"user{n % users}", f"model {n}", self.predictions(n), "csv")
                for n in range(first, min(first + 50, start + count))
            ]
            for outcome in q.submit_many(subs):
                assert not isinstance(outcome, Exception), outcome
                jobs.append(outcome.job_id)
        return jobs

    def scorer_calls(self, event: str = "done") -> Counter[str]:
        """How many times each submission (by digest) reached `event` in the scorer."""
        if not self.scorer_log.exists():
            return Counter()
        lines = self.scorer_log.read_text().splitlines()
        return Counter(line.split()[1] for line in lines if line.split()[0] == event)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, HELDOUT_TEST_SCORER_LOG=str(self.scorer_log), **extra)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        return env

    def spawn(self, *args: str, **extra_env: str) -> subprocess.Popen:
        """`heldout worker -c ... ARGS` as a separate process."""
        return subprocess.Popen(
            [sys.executable, "-m", "heldout.evaluator.cli", "-c", str(self.config_path), *args],
            env=self.env(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def toml_table(values: dict[str, Any]) -> str:
    """Enough TOML for these configs: JSON strings, numbers, booleans and lists are TOML."""
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())


def write_bench(
    root: Path, backend: str, emulator: Any = None, **sections: dict[str, Any]
) -> Bench:
    root.mkdir(parents=True, exist_ok=True)
    truth = make_truth(N_EXAMPLES, seed=1)
    truth_path = root / "private" / "truth.parquet"
    truth_path.parent.mkdir(exist_ok=True)
    truth.to_parquet(truth_path, index=False)
    storage: dict[str, Any] = {"backend": "local", "root": "store"}
    if backend == "hub":
        from heldout.queue.hub_store import HubStore

        name = uuid.uuid4().hex[:10]
        storage = {
            "backend": "hub",
            "queue_repo": f"{OWNER}/queue-{name}",
            "results_repo": f"{OWNER}/results-{name}",
            "token_env": TOKEN_ENV,
            "endpoint": emulator.url,
            "retry_seconds": 30.0,
        }
        os.environ[TOKEN_ENV] = f"hf_test_{OWNER}"
        for repo, private in ((storage["queue_repo"], True), (storage["results_repo"], False)):
            HubStore.create(
                repo, token=os.environ[TOKEN_ENV], endpoint=emulator.url, private=private
            )
    tables = {
        "benchmark": {
            "name": "worker-test",
            "primary_metric": "accuracy",
            "metrics": ["accuracy", "macro_f1"],
            "labels": LABELS,
        },
        "storage": storage,
        "limits": {"submissions_per_day": 1000, "max_file_mb": 1.0},
        "queue": {"lease_seconds": 60.0, "max_attempts": 3, "claim_batch": 8},
        "evaluator": {
            "scorer": "worker_scorers:score",
            "truth": "private/truth.parquet",
            "code_dir": str(HERE),
            "poll_seconds": 0.05,
            "idle_poll_seconds": 0.5,
            "score_timeout_seconds": 30.0,
        },
    }
    for name, values in sections.items():
        tables[name] = {**tables.get(name, {}), **values}
    config_path = root / "heldout.toml"
    config_path.write_text(
        "\n\n".join(f"[{name}]\n{toml_table(values)}" for name, values in tables.items()) + "\n"
    )
    return Bench(root, config_path, truth, root / "scorer.log", backend)


def digest_of(content: bytes) -> str:
    """The digest `worker_scorers` logs for this file."""
    import io

    from worker_scorers import digest

    return digest(pd.read_csv(io.BytesIO(content), dtype=str))


def assert_consistent(queue: JobQueue) -> None:
    """No half-written state: each job in exactly one status folder, and every user's
    index agreeing with the entries."""
    from heldout.queue.status import JobStatus

    seen: dict[str, str] = {}
    for status in JobStatus:
        for job_id in queue.ids(status):
            assert job_id not in seen, f"{job_id} is both {seen[job_id]} and {status}"
            seen[job_id] = status.value
    for entry in queue.jobs():
        listed = {e.job_id: e.status.value for e in queue.user_jobs(entry.submitter)}
        assert listed[entry.job_id] == seen[entry.job_id]


def wait_for(condition, timeout: float = 20.0, every: float = 0.05) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(every)
