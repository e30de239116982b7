"""Results follow the queue: a row exists only for a FINISHED job, and a crash between
the two repos is repaired by a reconcile."""

from __future__ import annotations

import pytest
from queue_helpers import QueueEnv, scored, submission

from heldout.errors import StoreError
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.status import JobStatus


class Crashing:
    """A store whose next `crashes` commits fail, as a process dying mid-step would
    (`before`: nothing written; `after`: the commit lands, then the caller dies)."""

    def __init__(self, store, crashes: int = 1, landed: bool = False) -> None:
        self.store, self.crashes, self.landed = store, crashes, landed

    def head(self):
        return self.store.head()

    def list(self, prefix=""):
        return self.store.list(prefix)

    def read(self, path, revision=None):
        return self.store.read(path, revision)

    def commit(self, operations, message, parent):
        if self.crashes > 0:
            self.crashes -= 1
            if self.landed:
                self.store.commit(operations, message, parent)
            raise StoreError("the process died here")
        return self.store.commit(operations, message, parent)


def queue_with(env: QueueEnv, queue_store=None, results_store=None) -> JobQueue:
    results = Results(results_store or env.results_store, env.config.benchmark)
    return JobQueue(queue_store or env.store, env.config, results, env.clock)


def rows(env: QueueEnv) -> dict[str, float]:
    frame = Results(env.results_store, env.config.benchmark).read()
    return dict(zip(frame["job_id"], frame["primary_score"], strict=True))


def finished_job(env: QueueEnv, accuracy: float = 0.6) -> str:
    q = env.queue()
    job = q.submit(submission()).job_id
    q.claim("w")
    q.finish("w", [scored(job, accuracy)])
    return job


def test_no_row_appears_before_the_finish_commit_lands(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    q.claim("w")
    with pytest.raises(StoreError):
        queue_with(env, queue_store=Crashing(env.store)).finish("w", [scored(job)])
    assert q.get(job).status is JobStatus.RUNNING
    assert rows(env) == {}  # the old code published first: a score for a RUNNING job


def test_a_crash_after_the_finish_commit_is_repaired_by_reconcile(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    q.claim("w")
    crashing = queue_with(env, results_store=Crashing(env.results_store))
    (done,) = crashing.finish("w", [scored(job, 0.7)])  # the queue commit stands
    assert done.status is JobStatus.FINISHED and crashing.owed == 1
    assert rows(env) == {}
    # the process is gone; a new one (a worker starting) reconciles
    fixed = env.queue().reconcile()
    assert fixed.added == (job,) and fixed.removed == () and fixed.commit
    assert rows(env) == {job: 0.7}
    again = env.queue().reconcile()
    assert again.commit is None and "in step" in again.describe()


def test_a_requeued_published_job_loses_its_row_and_a_rescore_replaces_it(env: QueueEnv) -> None:
    job = finished_job(env, 0.6)
    assert rows(env) == {job: 0.6}
    q = env.queue()
    q.requeue(job, "maintainer")
    assert q.get(job).status is JobStatus.PENDING
    assert rows(env) == {}  # the old code kept the score on the public board
    q.claim("w2")
    q.finish("w2", [scored(job, 0.9)])
    assert rows(env) == {job: 0.9}


def test_a_crash_mid_requeue_either_way_is_repaired(env: QueueEnv) -> None:
    a, b = finished_job(env, 0.6), finished_job(env, 0.8)
    # a: the row went, then the process died before the queue commit
    with pytest.raises(StoreError):
        queue_with(env, queue_store=Crashing(env.store)).requeue(a, "maintainer")
    assert env.queue().get(a).status is JobStatus.FINISHED and a not in rows(env)
    # b: the queue commit landed, the reply never came back; the row is still there
    crashing = Crashing(env.store, landed=True)
    with pytest.raises(StoreError):
        queue_with(env, queue_store=crashing).requeue(b, "maintainer")
    assert env.queue().get(b).status is JobStatus.PENDING
    fixed = env.queue().reconcile()
    assert fixed.added == (a,)
    assert rows(env) == {a: 0.6}  # b is not FINISHED: no row, whatever happened


def test_approve_publishes_after_its_commit_and_reject_publishes_nothing(queue_factory) -> None:
    env = queue_factory(review={"reviewers": ["rita"], "score_threshold": 0.9})
    q = env.queue()
    jobs = []
    for _ in range(2):
        job = q.submit(submission()).job_id
        q.claim("w")
        (held,) = q.finish("w", [scored(job, 0.95)])
        assert held.status is JobStatus.REVIEW
        jobs.append(job)
    with pytest.raises(StoreError):
        queue_with(env, queue_store=Crashing(env.store)).approve(jobs[0], "rita")
    assert rows(env) == {}  # the old code published before the approval landed
    q.approve(jobs[0], "rita")
    q.reject(jobs[1], "rita", "trained on the test set")
    assert rows(env) == {jobs[0]: 0.95}


def test_a_deep_reconcile_rewrites_a_stale_row_and_removes_a_stray_one(env: QueueEnv) -> None:
    from heldout.queue.results import result_row

    job = finished_job(env, 0.6)
    stray = finished_job(env, 0.4)
    q = env.queue()
    results = Results(env.results_store, env.config.benchmark)
    entry = q.get(job)
    results.upsert([result_row(entry, env.config.benchmark) | {"primary_score": 0.1}])
    # a row whose job left FINISHED without it being removed (an old heldout did that)
    was = q.get(stray)
    q.requeue(stray, "maintainer")
    results.upsert([result_row(was, env.config.benchmark)])
    assert rows(env) == {job: 0.1, stray: 0.4}
    assert env.queue().reconcile().removed == (stray,)
    assert rows(env) == {job: 0.1}  # a shallow reconcile reads no entry that has a row
    fixed = env.queue().reconcile(deep=True)
    assert fixed.added == (job,)
    assert rows(env) == {job: 0.6}
