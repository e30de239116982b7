"""A commit quota that runs out mid-burst and comes back: every job ends FINISHED once,
nothing is lost, no result row is published twice, and the Hub is probed once per
Retry-After, not hammered."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
from huggingface_hub import HfApi
from worker_helpers import TOKEN_ENV, assert_consistent

from heldout.errors import QueueDelayed
from heldout.evaluator.worker import Worker
from heldout.queue.governor import reset_governor
from heldout.queue.group import GroupCommitter
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission

JOBS = 12
COMES_BACK = 6.0  # seconds until the quota frees up again


def titles(repo: str, emulator) -> list[str]:
    api = HfApi(endpoint=emulator.url, token=os.environ[TOKEN_ENV])
    return [c.title for c in api.list_repo_commits(repo, repo_type="dataset")]


@pytest.fixture()
def aged_quota(emulator, faults, monkeypatch):
    """`age(seconds_left)`: every commit made so far counts as made almost an hour ago,
    so a quota that is spent now frees up in `seconds_left`."""
    quota = emulator.services.quota
    offset = [0.0]
    real = time.monotonic
    monkeypatch.setattr(quota, "_clock", lambda: real() + offset[0])

    def age(seconds_left: float) -> None:
        offset[0] = 3600.0 - seconds_left

    return age


@pytest.mark.slow
def test_a_quota_spent_mid_burst_and_back_loses_nothing_and_publishes_once(
    make_bench, emulator, faults, aged_quota
) -> None:
    bench = make_bench("hub", queue={"claim_batch": 4}, storage={"retry_seconds": 30.0})
    jobs = [j for k in range(0, JOBS, 2) for j in bench.submit(2, users=4, start=k)]
    s = bench.config.storage
    made = {repo: len(titles(repo, emulator)) for repo in (s.queue_repo, s.results_repo)}
    # Two more queue commits are allowed, then 429 until the submissions' six commits
    # (aged to an hour ago) leave the window, COMES_BACK seconds from now.
    aged = len(emulator.services.quota._times.get(("dataset", s.queue_repo), ()))
    assert aged >= 6
    faults.commit_quota_per_hour = aged + 2
    aged_quota(COMES_BACK)
    emulator.reset_counters()
    worker = Worker(bench.queue(), bench.config, worker_id="quota")
    started = time.monotonic()
    worker.run(once=True)
    took = time.monotonic() - started
    faults.commit_quota_per_hour = None

    q = bench.queue()
    entries = {e.job_id: e for e in q.jobs()}
    assert {entries[j].status for j in jobs} == {JobStatus.FINISHED}
    for job in jobs:
        assert [e.status for e in entries[job].history].count("FINISHED") == 1
    assert took >= COMES_BACK - 1  # it did have to wait for the quota
    results = q.results.read()
    assert sorted(results["job_id"]) == sorted(jobs)
    published = [
        int(m.group(1))
        for t in titles(s.results_repo, emulator)
        if (m := re.match(r"Publish (\d+)", t))
    ]
    assert sum(published) == JOBS  # no row written twice
    landed = sum(len(titles(r, emulator)) - n for r, n in made.items())
    refused = emulator.counters().get("commit", 0) - landed
    assert 1 <= refused <= 3, refused  # one probe per Retry-After, not a retry storm
    assert_consistent(q)


def test_submissions_hear_the_queue_is_delayed_and_land_once_a_commit_is_allowed(
    make_bench, emulator, faults, aged_quota
) -> None:
    bench = make_bench("hub")
    s = bench.config.storage
    bench.submit(1)
    bench.submit(1, start=1)
    faults.commit_quota_per_hour = len(
        emulator.services.quota._times.get(("dataset", s.queue_repo), ())
    )
    aged_quota(3600.0)  # spent for the whole hour
    impatient = GroupCommitter(bench.queue(), max_wait=0)
    sub = Submission("ann", "m", bench.predictions(1), "csv")
    with pytest.raises(QueueDelayed, match="nothing is broken") as caught:
        impatient.submit(sub)
    assert caught.value.retry_after and caught.value.retry_after > 3000
    emulator.reset_counters()
    with pytest.raises(QueueDelayed):  # asked already: no second probe before Retry-After
        impatient.submit(Submission("bo", "m", bench.predictions(2), "csv"))
    assert emulator.counters().get("commit", 0) == 0

    aged_quota(2.0)  # the two commits made above leave the window in two seconds
    # The Hub said "an hour" and this process believes it (one probe per Retry-After);
    # a fresh process would not know, and that is what this half of the test is.
    reset_governor()
    patient = GroupCommitter(bench.queue(), max_wait=10)
    outcomes: list[object] = [None] * 3

    def send(i: int) -> None:
        outcomes[i] = patient.submit(Submission(f"u{i}", "m", bench.predictions(10 + i), "csv"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    for t in threads:
        t.join(timeout=30)
    assert all(getattr(o, "status", None) is JobStatus.PENDING for o in outcomes), outcomes
    assert patient.commits <= 2  # those who came while it waited rode on one commit
