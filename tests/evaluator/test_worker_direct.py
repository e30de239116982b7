"""Short jobs are scored before they are claimed, and claimed-and-finished in one commit;
long ones still get a lease; racing workers still publish each job once."""

from __future__ import annotations

import threading
import time

from worker_helpers import Bench, assert_consistent, wait_for

from heldout.evaluator.worker import Worker
from heldout.queue.jobs import JobQueue, Scored
from heldout.queue.status import JobStatus


def scored_for(job: str, accuracy: float) -> Scored:
    return Scored(job, {"accuracy": accuracy, "macro_f1": accuracy / 2}, "f" * 64, "t 1")


class CountingCommits:
    """Counts the commits made through a store."""

    def __init__(self, store) -> None:
        self.store, self.commits = store, []

    def head(self):
        return self.store.head()

    def list(self, prefix=""):
        return self.store.list(prefix)

    def read(self, path, revision=None):
        return self.store.read(path, revision)

    def commit(self, operations, message, parent):
        self.commits.append(message)
        return self.store.commit(operations, message, parent)


def counted(bench: Bench) -> tuple[JobQueue, CountingCommits]:
    real = bench.queue()
    store = CountingCommits(real.store)
    return JobQueue(store, bench.config, real.results), store  # type: ignore[arg-type]


def test_a_lone_job_costs_its_submission_and_one_commit(make_bench) -> None:
    bench = make_bench("hub")
    queue, store = counted(bench)
    worker = Worker(queue, bench.config, worker_id="lone")
    for n in range(3):  # one at a time, each scored before the next arrives
        (job,) = bench.submit(1, start=n)
        worker.run(once=True)
        entry = queue.get(job)
        assert entry.status is JobStatus.FINISHED and entry.attempts == 1
        assert [e.status for e in entry.history] == ["PENDING", "RUNNING", "FINISHED"]
    assert len(store.commits) == 3, store.commits  # the old worker claimed, then finished: 6
    assert all(m.startswith("Settle 1 job") for m in store.commits)
    assert len(queue.results.read()) == 3


def test_two_workers_scoring_one_job_directly_publish_it_once(make_bench) -> None:
    bench = make_bench()
    (job,) = bench.submit(1)
    q = bench.queue()
    a, b = (q.look(w).jobs for w in ("a", "b"))
    assert [e.job_id for e in a] == [e.job_id for e in b] == [job]
    won = q.settle("a", [scored_for(job, 0.7)], direct=a)
    lost = q.settle("b", [scored_for(job, 0.2)], direct=b)
    assert [e.status for e in won] == [JobStatus.FINISHED] and lost == []
    entry = q.get(job)
    assert [e.by for e in entry.history] == [entry.submitter, "a", "a"]
    assert q.results.read()["primary_score"].tolist() == [0.7]
    assert_consistent(q)


def test_a_direct_job_that_runs_long_is_leased_and_then_never_stolen(
    make_bench, monkeypatch
) -> None:
    bench = make_bench(queue={"lease_seconds": 3.0}, evaluator={"direct_seconds": 0.5})
    (job,) = bench.submit(1)
    monkeypatch.setenv("HELDOUT_TEST_SCORER_SLEEP", "5")
    q = bench.queue()
    slow = Worker(q, bench.config, worker_id="slow")
    thread = threading.Thread(target=slow.run, kwargs={"once": True})
    thread.start()
    wait_for(lambda: q.get(job).status is JobStatus.RUNNING, timeout=10)  # leased at 0.5 s
    assert q.get(job).worker == "slow"
    monkeypatch.delenv("HELDOUT_TEST_SCORER_SLEEP")
    thief = Worker(bench.queue(), bench.config, worker_id="thief")
    stop = time.monotonic() + 4
    while time.monotonic() < stop:
        thief.run(once=True)
        time.sleep(0.2)
    thread.join(timeout=20)
    entry = q.get(job)
    assert entry.status is JobStatus.FINISHED and entry.attempts == 1
    assert thief.stats["finished"] == 0 and slow.stats["renewals"] >= 1
    assert sum(bench.scorer_calls("start").values()) == 1


def test_a_worker_killed_while_scoring_directly_leaves_the_job_to_the_next(make_bench) -> None:
    bench = make_bench()
    (job,) = bench.submit(1)
    proc = bench.spawn("--id", "doomed", HELDOUT_TEST_SCORER_SLEEP="60")
    try:
        wait_for(lambda: sum(bench.scorer_calls("start").values()) == 1, timeout=60)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    q = bench.queue()
    assert q.get(job).status is JobStatus.PENDING  # never claimed: no lease to wait out
    Worker(q, bench.config, worker_id="next").run(once=True)
    entry = q.get(job)
    assert entry.status is JobStatus.FINISHED and entry.attempts == 1
    assert q.results.read()["job_id"].tolist() == [job]
