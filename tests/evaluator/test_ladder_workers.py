"""The Ladder with several workers: the settle commit is the arbiter of each decision.

One submitter sends eight files in four real levels of quality, two of each (twins:
the same quality, different mistakes). Two real workers share the queue and race for
them. What a visitor and the submitter can check: the shown score climbs once per real
level at most; every decision was made against the state the decisions before it left
(replayed here from the predictions); and the decisions are numbered 1, 2, 3, … with
none judged against the same state as another.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import HfApi

from heldout.config import Config, load_config
from heldout.evaluator.honest import ladder_decision
from heldout.evaluator.scoring import load_scorer
from heldout.evaluator.worker import Worker
from heldout.example import LABELS
from heldout.example.generate import make_predictions
from heldout.leaderboard.ranking import board_table
from heldout.predictions import read_predictions
from heldout.queue.backends import open_queue
from heldout.queue.entry import Entry, job_time, new_job_id
from heldout.queue.jobs import JobQueue
from heldout.queue.ladder import STALE_NOTE
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission
from heldout.scaffold import init_benchmark

LEVELS = (0.5, 0.65, 0.8, 0.95)  # macro-F1 steps of 0.15 on 600 public items: all real
USER = "eve"


def bench(
    root: Path, claim_batch: int, hub: str | None = None
) -> tuple[Config, JobQueue, pd.DataFrame]:
    """The example benchmark under the Ladder; with `hub` (the emulator's address), its
    queue and results in two new dataset repos there (token from HF_TOKEN)."""
    folder = init_benchmark(root, reviewers=("rita",), n_items=1200)
    text = folder.config.read_text()
    text = re.sub(r"submissions_per_day = \d+", "submissions_per_day = 100", text)
    text = re.sub(r"claim_batch = \d+", f"claim_batch = {claim_batch}", text)
    if hub is not None:
        name = f"ladder-{uuid.uuid4().hex[:8]}"
        api = HfApi(endpoint=hub, token=os.environ["HF_TOKEN"])
        api.create_repo(f"{USER}/{name}-q", repo_type="dataset", private=True)
        api.create_repo(f"{USER}/{name}-r", repo_type="dataset")
        storage = (
            f'backend = "hub"\nqueue_repo = "{USER}/{name}-q"\n'
            f'results_repo = "{USER}/{name}-r"\nendpoint = "{hub}"'
        )
        text = re.sub(r'backend = "local"\n(#[^\n]*\n)*root = "data"', storage, text)
    folder.config.write_text(text.replace("[review]\n", '[review]\nrelease = "ladder"\n'))
    config = load_config(folder.config)
    return config, open_queue(config), pd.read_parquet(config.evaluator.truth)


def submit_levels(queue: JobQueue, truth: pd.DataFrame) -> dict[str, float]:
    """Eight jobs, two per level, in rising order; job id -> level."""
    jobs = {}
    for n, level in enumerate(level for level in LEVELS for _ in range(2)):
        frame = make_predictions(truth["id"], LABELS, level, 100 + n, truth=truth)
        data = frame.to_csv(index=False).encode()
        jobs[queue.submit(Submission(USER, f"model {n}", data, "csv")).job_id] = level
    return jobs


def replay(config: Config, queue: JobQueue, truth: pd.DataFrame, chain: list[Entry]) -> None:
    """One judge taking the decisions in their order makes each decision recorded."""
    scorer = load_scorer(config.evaluator.scorer, config.evaluator.code_dir or config.source.parent)
    bench = config.benchmark

    def frame(entry: Entry) -> pd.DataFrame:
        data = queue.predictions(entry)
        return read_predictions(data, entry.format, bench, config.limits.max_file_bytes)

    best: tuple[str, float, pd.DataFrame] | None = None
    for k, entry in enumerate(chain, start=1):
        release = ladder_decision(frame(entry), truth, scorer, config, entry.job_id, best, k)
        assert release == entry.release, f"decision {k} ({entry.job_id})"
        if release.updated:
            best = (entry.job_id, release.shown, frame(entry))


def run_together(queue_of: list[JobQueue], config: Config) -> None:
    workers = [Worker(q, config, worker_id=f"w{n}", concurrency=2) for n, q in enumerate(queue_of)]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["local", "hub"])
def test_two_workers_make_one_chain_of_ladder_decisions(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = None
    if backend == "hub":
        hub = request.getfixturevalue("emulator").url
        monkeypatch.setenv("HF_TOKEN", f"hf_test_{USER}")
    config, queue, truth = bench(tmp_path / "b", claim_batch=2, hub=hub)
    assert config.storage.backend == backend
    jobs = submit_levels(queue, truth)
    run_together([queue, open_queue(config)], config)
    Worker(queue, config, worker_id="w-last").run(once=True)  # any job sent back late

    entries = {e.job_id: e for e in queue.user_jobs(USER)}
    assert {e.status for e in entries.values()} == {JobStatus.FINISHED}
    # What the submitter sees: the shown score rises at most once per real level.
    released = [e for e in entries.values() if e.release.updated]
    assert len(released) <= len(LEVELS), sorted((e.job_id, e.release.shown) for e in released)
    # The board shows the best level's score (rounded), from one of its two files.
    board = board_table(queue.results.read(), config.benchmark)
    row = board[board["Submitter"] == USER].iloc[0]
    assert jobs[row["Job id"]] == LEVELS[-1]
    chain = sorted(entries.values(), key=lambda e: e.release.step)
    assert float(str(row["macro_f1"]).split(" ")[0]) == pytest.approx(chain[-1].release.shown)
    shown = [e.release.shown for e in chain]
    assert shown == sorted(shown)  # and it never falls
    # One chain: judgements 1..8, each against the job shown after the one before it.
    assert [e.release.step for e in chain] == list(range(1, len(jobs) + 1))
    previous = None
    for e in chain:
        assert e.release.against == previous
        previous = e.release.best_job
    replay(config, queue, truth, chain)
    # A decision that lost the race was judged again, with no attempt used up.
    assert {e.attempts for e in entries.values()} == {1}
    again = [e for e in entries.values() if any(h.note == STALE_NOTE for h in e.history)]
    print(f"\n{len(again)} of {len(jobs)} decisions were judged again after losing the race")


@pytest.mark.timeout(600)
def test_one_worker_judges_a_submitters_jobs_in_submission_order(tmp_path: Path) -> None:
    config, queue, truth = bench(tmp_path / "b", claim_batch=3)
    jobs = submit_levels(queue, truth)
    Worker(queue, config, worker_id="w", concurrency=3).run(once=True)
    entries = [queue.get(j) for j in sorted(jobs)]
    assert [e.release.step for e in entries] == list(range(1, len(jobs) + 1))
    assert not any(h.note == STALE_NOTE for e in entries for h in e.history)
    replay(config, queue, truth, entries)


def test_job_ids_made_together_sort_in_the_order_they_were_made() -> None:
    moment = pd.Timestamp("2026-11-30T01:02:03.999998Z").to_pydatetime()
    ids = [new_job_id(moment) for _ in range(50)]  # one group commit: one `now`
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert {job_time(j) for j in ids} == {moment.replace(microsecond=0)}
    assert all(re.fullmatch(r"20261130T010203Z-[0-9a-f]{8}", j) for j in ids)
