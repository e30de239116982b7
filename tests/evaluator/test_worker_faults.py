"""A flaky Hub (one request in five fails) with a tight commit quota: every job still
finishes once, because transient errors are retried and commits are batched."""

from __future__ import annotations

import threading

import pytest
from huggingface_hub import HfApi
from worker_helpers import TOKEN_ENV, assert_consistent

from heldout.evaluator.worker import Worker
from heldout.queue.status import JobStatus

JOBS = 16
QUOTA = 12  # commits per repo per hour; the simple design (three per job) needs 48


def commits(repo: str, emulator) -> int:
    import os

    api = HfApi(endpoint=emulator.url, token=os.environ[TOKEN_ENV])
    return len(api.list_repo_commits(repo, repo_type="dataset"))


@pytest.mark.slow
def test_every_job_finishes_once_through_faults_and_a_commit_quota(
    make_bench, faults, emulator
) -> None:
    bench = make_bench("hub", storage={"retry_seconds": 20.0})
    jobs = bench.submit(JOBS, users=6)
    storage = bench.config.storage
    before = {repo: commits(repo, emulator) for repo in (storage.queue_repo, storage.results_repo)}
    faults.fault_rate = 0.2
    faults.commit_quota_per_hour = QUOTA
    workers = [Worker(bench.queue(), bench.config, worker_id=f"flaky{n}") for n in range(2)]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    faults.fault_rate = 0.0
    assert not any(t.is_alive() for t in threads)

    q = bench.queue()
    entries = {e.job_id: e for e in q.jobs()}
    assert {entries[j].status for j in jobs} == {JobStatus.FINISHED}
    results = q.results.read()
    assert len(results) == JOBS and set(results["job_id"]) == set(jobs)
    done = bench.scorer_calls("done")
    assert len(done) == JOBS and max(done.values()) == 1
    assert_consistent(q)
    spent = {r: commits(r, emulator) - n for r, n in before.items()}
    assert all(n <= QUOTA for n in spent.values()), spent
    print(f"commits for {JOBS} jobs under faults: {spent}")
