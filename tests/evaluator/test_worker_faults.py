"""A flaky Hub (one request in five fails) with a tight commit quota: every job still
finishes once, because transient errors are retried and commits are batched."""

from __future__ import annotations

import threading
import time
import types

import pytest
from huggingface_hub import HfApi
from worker_helpers import TOKEN_ENV, assert_consistent

from heldout.evaluator.worker import Worker
from heldout.queue.hub_store import HubStore
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.status import JobStatus

JOBS = 24
QUOTA = 15  # commits per repo per hour; the simple design (three per job) needs 72


def commits(repo: str, emulator) -> int:
    import os

    api = HfApi(endpoint=emulator.url, token=os.environ[TOKEN_ENV])
    return len(api.list_repo_commits(repo, repo_type="dataset"))


@pytest.fixture(autouse=True)
def quick_client_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub's own retries sleep 1-8 s; a tenth of that still backs off."""
    from huggingface_hub.utils import _http

    fake_time = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
    )
    fake_time.sleep = lambda seconds: time.sleep(seconds / 10)
    monkeypatch.setattr(_http, "time", fake_time)


def quick_queue(bench) -> JobQueue:
    """The configured queue, with the store's backoff (and Retry-After) cut tenfold."""
    s = bench.config.storage
    options = dict(token=s.token(), endpoint=s.endpoint, sleep=lambda t: time.sleep(t / 10))
    store, results = (HubStore(repo, **options) for repo in (s.queue_repo, s.results_repo))
    return JobQueue(store, bench.config, Results(results, bench.config.benchmark))


@pytest.mark.slow
def test_every_job_finishes_once_through_faults_and_a_commit_quota(
    make_bench, faults, emulator, caplog: pytest.LogCaptureFixture
) -> None:
    bench = make_bench("hub", storage={"retry_seconds": 20.0})
    jobs = bench.submit(JOBS, users=6)
    storage = bench.config.storage
    before = {repo: commits(repo, emulator) for repo in (storage.queue_repo, storage.results_repo)}
    faults.fault_rate = 0.2
    faults.commit_quota_per_hour = QUOTA
    workers = [Worker(quick_queue(bench), bench.config, worker_id=f"flaky{n}") for n in range(2)]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    with caplog.at_level("WARNING"):
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    faults.fault_rate = 0.0
    injected = [
        r
        for r in caplog.records
        if "(injected)" in r.getMessage() or "HTTP Error" in r.getMessage()
    ]
    assert len(injected) >= 5, len(injected)  # the faults did happen
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


def test_commits_whose_replies_are_lost_still_finish_every_job_once(make_bench, faults) -> None:
    bench = make_bench("hub")
    jobs = bench.submit(16, users=4)
    faults.lost_reply_rate = 0.3  # applied, but answered 500
    worker = Worker(quick_queue(bench), bench.config, worker_id="lossy")
    worker.run(once=True)
    faults.lost_reply_rate = 0.0
    q = bench.queue()
    assert {q.get(j).status for j in jobs} == {JobStatus.FINISHED}
    assert sorted(q.results.read()["job_id"]) == sorted(jobs)
    done = bench.scorer_calls("done")
    assert len(done) == 16 and max(done.values()) == 1
    assert_consistent(q)
