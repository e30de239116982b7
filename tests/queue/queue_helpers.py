"""What every queue test needs: a small config, submissions, and a way to fake time."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from heldout.config import Config, config_from_dict
from heldout.queue.jobs import JobQueue, Scored
from heldout.queue.results import Results
from heldout.queue.store import Store
from heldout.queue.submission import Submission

OWNER = "heldout-tests"
TOKEN = f"hf_test_{OWNER}"
FINGERPRINT = "f" * 64

# Every path the queue may write: none is built from a model name or other free text.
SAFE_PATHS = re.compile(
    r"^(queue/(PENDING|RUNNING|REVIEW|FINISHED|FAILED)/\d{8}T\d{6}Z-[0-9a-f]{8}\.json"
    r"|predictions/\d{8}T\d{6}Z-[0-9a-f]{8}\.(csv|jsonl|parquet)"
    r"|users/[A-Za-z0-9][A-Za-z0-9._-]{0,95}\.json"
    r"|hashes/[0-9a-f]{64}\.json"
    r"|\.gitattributes)$"
)


def make_config(root: Path, **sections: dict[str, Any]) -> Config:
    raw: dict[str, Any] = {
        "benchmark": {
            "name": "toy",
            "primary_metric": "accuracy",
            "metrics": ["accuracy", "macro_f1"],
            "labels": ["a", "b"],
        },
        "storage": {"backend": "local", "root": str(root)},
        "limits": {"submissions_per_day": 5},
        "queue": {"lease_seconds": 60.0, "max_attempts": 3, "claim_batch": 8},
        "review": {"reviewers": ["rita"]},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return config_from_dict(raw)


def submission(
    user: str = "alice", model: str = "my-model", content: bytes | None = None, **extra: Any
) -> Submission:
    """A submission whose file is unique unless `content` is given."""
    content = content if content is not None else f"id,prediction\n{uuid.uuid4()},a\n".encode()
    return Submission(submitter=user, model=model, content=content, format="csv", **extra)


def scored(job_id: str, accuracy: float = 0.5) -> Scored:
    return Scored(job_id, {"accuracy": accuracy, "macro_f1": accuracy / 2}, FINGERPRINT, "t 1")


class Clock:
    """A settable UTC clock for leases and quotas."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class QueueEnv:
    """One backend's queue and results stores, and a way to open queues on them."""

    backend: str
    store: Store
    results_store: Store
    config: Config
    root: Path
    repos: tuple[str, str] | None = None
    clock: Clock = field(default_factory=Clock)

    def queue(self, config: Config | None = None, clock: Any = None) -> JobQueue:
        config = config or self.config
        return JobQueue(
            self.store, config, Results(self.results_store, config.benchmark), clock or self.clock
        )

    def config_with(self, **sections: dict[str, Any]) -> Config:
        return make_config(self.root, **sections)
