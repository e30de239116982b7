"""The boosting attack on the public split (Blum & Hardt 2015), through the real queue.

An attacker with no model at all submits many random label vectors, keeps those the
board says scored above chance on the public split, and submits their majority vote.
With every score released, the vote climbs on the public split and not on the private
one: a gap that is pure overfitting to the public labels. "Above chance" is above the
median of the public scores the attacker was shown. Under the Ladder the board
tells the attacker almost nothing, and the gap stays at the size of plain noise.

Everything runs for real: the example benchmark (2,000 items, half public), the queue
on the local backend, the worker with the example scorer in its child processes, and
the attacker reading only what My submissions and the board show. Daily limits are
lifted. The run is deterministic: the vectors come from a fixed seed, job ids sort in
submission order (even 50 to a commit), and the Ladder judges a submitter's jobs in id
order (oldest first, one decision at a time), so it meets the vectors in the order
they were sent.

The Ladder's k-th judgement of a submitter is at level 0.05·6/(π²k²) (alpha spending),
so noise gets through for one of 500 random vectors with probability below 0.05. What
is left under the Ladder is then the first vector's own public-minus-private noise
(always shown, rounded), which no release rule can remove; the boosting gain is gone.
In a numpy replay of this protocol over vector seeds 0 to 19 (the same judge, no
queue), the unprotected gap was +0.093 to +0.189 and the Ladder's -0.029 to +0.035: at
most a third in 20 of 20 (at a fixed level of 0.05 for every judgement, 16 of 20, the
Ladder letting a second lucky vector through). This test's seed, 2015, gives +0.153
and +0.008.
"""

from __future__ import annotations

import io
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heldout.config import load_config
from heldout.evaluator.worker import Worker
from heldout.example import LABELS
from heldout.leaderboard.ranking import board_table
from heldout.leaderboard.tables import mine_table
from heldout.queue.backends import open_stores
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.splits import PRIVATE, metrics_of
from heldout.queue.submission import Submission
from heldout.scaffold import init_benchmark

RANDOM_VECTORS = int(os.environ.get("HELDOUT_ATTACK_VECTORS", "500"))
ATTACKER = "mallory"


class Clock:
    """The queue's clock: real time at the start, one second more per submission."""

    def __init__(self) -> None:
        self.start = datetime.now(timezone.utc).replace(microsecond=0)
        self.ticks = 0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.ticks)


def attack(root: Path, release: str) -> dict[str, float]:
    folder = init_benchmark(root, reviewers=("rita",), n_items=2000)
    text = folder.config.read_text()
    text = re.sub(r"submissions_per_day = \d+", "submissions_per_day = 100000", text)
    text = re.sub(r"claim_batch = \d+", "claim_batch = 50", text)
    text = text.replace("[review]", f'[review]\nrelease = "{release}"')
    folder.config.write_text(text)
    config = load_config(folder.config)
    bench = config.benchmark
    clock = Clock()
    queue_store, results_store = open_stores(config)
    queue = JobQueue(queue_store, config, Results(results_store, bench), clock=clock)
    ids = pd.read_csv(folder.root / "public" / "sample_predictions.csv")["id"]
    rng = np.random.default_rng(2015)

    def file(labels: np.ndarray, model: str) -> Submission:
        frame = pd.DataFrame({"id": ids, "prediction": np.asarray(LABELS)[labels]})
        return Submission(ATTACKER, model, frame.to_csv(index=False).encode(), "csv")

    def submit(labels: np.ndarray, model: str) -> str:
        clock.ticks += 1
        return queue.submit(file(labels, model)).job_id

    def score_all() -> None:
        Worker(queue, config, worker_id=f"w{clock.ticks}", concurrency=2).run(once=True)

    def shown_scores() -> dict[str, float]:
        """What My submissions shows the attacker: a public score per job, or none."""
        table = mine_table(queue.user_jobs(ATTACKER), {}, bench)
        found = {}
        for job, text in zip(table["Job id"], table["Score"], strict=True):
            match = re.search(rf"{bench.primary_metric} ([0-9.]+)", text)
            if match:
                found[job] = float(match.group(1))
        return found

    vectors = [rng.integers(0, 3, len(ids)) for _ in range(RANDOM_VECTORS)]
    # 50 to a commit; job ids sort in submission order, so the Ladder meets them in it
    for start in range(0, RANDOM_VECTORS, 50):
        clock.ticks += 1
        batch = [file(v, f"random {start + n}") for n, v in enumerate(vectors[start:][:50])]
        assert all(not isinstance(o, Exception) for o in queue.submit_many(batch))
    score_all()
    # "Above chance": above the median of the scores the board showed for random vectors.
    seen = shown_scores()
    chance = float(np.median(list(seen.values())))
    kept = [job for job, score in seen.items() if score > chance]
    labels: dict[str, np.ndarray] = {}
    for job in kept:
        data = queue.store.read(queue.get(job).predictions_path)
        frame = pd.read_csv(io.BytesIO(data))
        labels[job] = pd.Categorical(frame["prediction"], categories=LABELS).codes
    if len(kept) > 1:  # (a vote of one vector is that vector: nothing new to submit)
        votes = np.stack([np.bincount(v, minlength=3) for v in np.stack(list(labels.values())).T])
        submit(votes.argmax(axis=1), "majority vote")
        score_all()

    # The board as a visitor sees it: the attacker's best row, and the job behind it.
    board = board_table(queue.results.read(), bench)
    mine = board[board["Submitter"] == ATTACKER].iloc[0]
    public = float(str(mine[bench.primary_metric]).split(" ")[0])
    private = metrics_of(queue.get(mine["Job id"]).split_scores, PRIVATE)[bench.primary_metric]
    print(
        f'release = "{release}": {RANDOM_VECTORS} random vectors, {len(seen)} scores shown, '
        f"{len(kept)} kept; board {public:.4f}, private {private:.4f}, "
        f"public-minus-private gap {public - private:+.4f}",
        flush=True,
    )
    return {
        "kept": len(kept),
        "released": len(seen),
        "public": public,
        "private": private,
        "gap": public - private,
    }


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_the_ladder_defeats_the_boosting_attack(tmp_path: Path, capsys: Any) -> None:
    everything = attack(tmp_path / "all", "all")
    ladder = attack(tmp_path / "ladder", "ladder")
    with capsys.disabled():  # the figures show in CI's output, not only on failure
        for name, run in (("all", everything), ("ladder", ladder)):
            print(
                f'\nattack test, release = "{name}": {RANDOM_VECTORS} random vectors, '
                f"{run['released']} scores shown, {run['kept']} kept; board "
                f"{run['public']:.4f}, private {run['private']:.4f}, "
                f"public-minus-private gap {run['gap']:+.4f}"
            )
    assert everything["gap"] > 0.05  # the attack works when every score is released
    assert ladder["gap"] <= everything["gap"] / 3  # and the Ladder takes its gain away
