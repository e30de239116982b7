"""The evaluator's side of the pinned test set (`heldout.queue.testset`): fingerprint
the truth this config names and pin it, for `heldout queue rescore`."""

from __future__ import annotations

from heldout.config import Config
from heldout.queue.jobs import JobQueue
from heldout.queue.testset import check_test_set, pin

__all__ = ["check_test_set", "pin_truth"]


def pin_truth(queue: JobQueue, config: Config, by: str) -> tuple[str | None, bool]:
    """`pin` the test set that this (maintainer's) config's evaluator.truth names."""
    from heldout.evaluator.scoring import fingerprint, load_truth

    assert config.evaluator is not None
    truth = load_truth(config.evaluator.truth, config.benchmark)
    return pin(queue, fingerprint(truth, config.benchmark.id_column), by)
