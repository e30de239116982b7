"""Every allowed move of a job, and every refused one leaving the repo untouched."""

from __future__ import annotations

import pytest
from queue_helpers import QueueEnv, scored, submission

from heldout.errors import InvalidTransition, NotAllowed, QueueError
from heldout.queue.entry import ErrorKind, JobError
from heldout.queue.jobs import OUT_OF_ATTEMPTS
from heldout.queue.status import Action, JobStatus


def statuses(env: QueueEnv) -> dict[str, str]:
    q = env.queue()
    return {e.job_id: e.status.value for e in q.jobs()}


def test_submit_claim_finish_publishes_once(env: QueueEnv) -> None:
    q = env.queue()
    entry = q.submit(submission())
    assert entry.status is JobStatus.PENDING
    assert q.positions() == {entry.job_id: 1}

    claimed = q.claim("w1")
    assert [e.job_id for e in claimed.jobs] == [entry.job_id]
    running = q.get(entry.job_id)
    assert (running.status, running.worker, running.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert running.lease_expires_at is not None

    done = q.finish("w1", [scored(entry.job_id, 0.75)])
    assert [e.status for e in done] == [JobStatus.FINISHED]
    final = q.get(entry.job_id)
    assert final.scores == {"accuracy": 0.75, "macro_f1": 0.375}
    assert final.worker is None and final.lease_expires_at is None
    rows = q.results.read()
    assert rows["job_id"].tolist() == [entry.job_id]
    assert rows["primary_score"].tolist() == [0.75]
    assert [ev.status for ev in final.history] == ["PENDING", "RUNNING", "FINISHED"]


def test_renew_extends_the_lease_and_release_gives_the_attempt_back(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    first = q.claim("w1").jobs[0]
    env.clock.advance(30)
    renewed = q.renew("w1", [job])
    assert renewed[0].lease_expires_at > first.lease_expires_at
    released = q.release("w1", [job])
    assert released[0].status is JobStatus.PENDING and released[0].attempts == 0
    assert q.claim("w2").jobs[0].attempts == 1


def test_a_user_error_fails_at_once_and_keeps_the_quota_used(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    q.claim("w1")
    q.fail("w1", {job: JobError(ErrorKind.USER, "line 3: the id 'x' appears twice")})
    entry = q.get(job)
    assert entry.status is JobStatus.FAILED
    assert entry.error == JobError(ErrorKind.USER, "line 3: the id 'x' appears twice")
    assert q.quota("alice").used == 1


def test_our_errors_retry_until_attempts_run_out_then_refund_the_quota(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    error = JobError(ErrorKind.INFRASTRUCTURE, "the Hub did not answer")
    for attempt in range(1, 4):
        assert q.claim("w1").jobs[0].attempts == attempt
        (after,) = q.fail("w1", {job: error})
        assert after.status is (JobStatus.PENDING if attempt < 3 else JobStatus.FAILED)
    assert q.get(job).error == error
    assert q.quota("alice").used == 0  # the system's fault: the submission is given back
    assert q.claim("w1").jobs == []


def test_an_expired_lease_is_reclaimed_and_attempts_are_capped(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    assert q.claim("w1").jobs[0].attempts == 1
    other = q.claim("w2")
    assert other.jobs == [] and other.wake_at is not None  # held: w2 learns when to look again
    env.clock.advance(61)
    taken = q.claim("w2").jobs
    assert [(e.job_id, e.worker, e.attempts) for e in taken] == [(job, "w2", 2)]
    assert q.finish("w1", [scored(job)]) == []  # w1 lost the job; its result is not taken
    env.clock.advance(61)
    assert q.claim("w3").jobs[0].attempts == 3
    env.clock.advance(61)
    assert q.claim("w4").jobs == []
    entry = q.get(job)
    assert entry.status is JobStatus.FAILED
    assert entry.error == JobError(ErrorKind.INFRASTRUCTURE, OUT_OF_ATTEMPTS.format(n=3))
    assert q.quota("alice").used == 0


def test_cancel_and_requeue(env: QueueEnv) -> None:
    q = env.queue()
    a, b = (q.submit(submission()).job_id for _ in range(2))
    cancelled = q.cancel(a, "alice")
    assert cancelled.status is JobStatus.FAILED and cancelled.error.kind is ErrorKind.CANCELLED
    assert q.quota("alice").used == 1
    q.claim("w1")
    q.finish("w1", [scored(b)])
    for job in (a, b):
        again = q.requeue(job, "maintainer")
        assert (again.status, again.attempts, again.error) == (JobStatus.PENDING, 0, None)


def test_review_approve_unscored_goes_to_pending_reject_fails_with_reason(
    queue_factory,
) -> None:
    env = queue_factory(review={"flag_accounts": ["mallory"]})
    q = env.queue()
    held = q.submit(submission(user="mallory"))
    assert held.status is JobStatus.REVIEW and held.flags[0].rule == "listed_account"
    assert q.claim("w1").jobs == []  # no worker may take a job under review
    approved = q.approve(held.job_id, "rita", "looks fine")
    assert approved.status is JobStatus.PENDING and approved.review.by == "rita"

    other = q.submit(submission(user="mallory"))
    rejected = q.reject(other.job_id, "rita", "  copied from the public baseline  ")
    assert rejected.status is JobStatus.FAILED
    assert rejected.error == JobError(
        ErrorKind.REJECTED, "rejected by a reviewer: copied from the public baseline"
    )


@pytest.mark.parametrize(
    "attempt, error, message",
    [
        ("finish_pending", InvalidTransition, "cannot finish a job that is PENDING"),
        ("approve_by_non_reviewer", NotAllowed, "alice is not a reviewer"),
        ("cancel_someone_elses", NotAllowed, "you can only cancel your own submissions"),
        ("cancel_running", InvalidTransition, "only PENDING jobs can be cancelled"),
        ("approve_not_in_review", InvalidTransition, "cannot approve a job that is PENDING"),
        ("requeue_pending", InvalidTransition, "cannot requeue a job that is PENDING"),
        ("reject_without_reason", QueueError, "a rejection needs a reason"),
    ],
)
def test_a_refused_move_says_why_and_changes_nothing(
    queue_factory, attempt: str, error: type[Exception], message: str
) -> None:
    env = queue_factory(review={"reviewers": ["rita"], "flag_accounts": ["mallory"]})
    q = env.queue()
    first = q.submit(submission(user="bob")).job_id
    second = q.submit(submission(user="bob")).job_id
    review = q.submit(submission(user="mallory")).job_id
    (running,) = (e.job_id for e in q.claim("w1", limit=1).jobs)
    pending = second if running == first else first
    moves = {
        "finish_pending": lambda: q.get(pending).moved(Action.FINISH, JobStatus.FINISHED, "w1"),
        "approve_by_non_reviewer": lambda: q.approve(review, "alice"),
        "cancel_someone_elses": lambda: q.cancel(pending, "alice"),
        "cancel_running": lambda: q.cancel(running, "bob"),
        "approve_not_in_review": lambda: q.approve(pending, "rita"),
        "requeue_pending": lambda: q.requeue(pending, "maintainer"),
        "reject_without_reason": lambda: q.reject(review, "rita", "   "),
    }
    head, before = env.store.head(), statuses(env)
    with pytest.raises(error) as caught:
        moves[attempt]()
    assert message in str(caught.value)
    assert env.store.head() == head
    assert statuses(env) == before


def test_finishing_a_job_the_worker_does_not_hold_commits_nothing(env: QueueEnv) -> None:
    """A worker may only finish its own RUNNING jobs; anything else is skipped, unpublished."""
    q = env.queue()
    pending = q.submit(submission()).job_id
    head = env.store.head()
    assert q.finish("w1", [scored(pending)]) == []
    assert q.fail("w1", {pending: JobError(ErrorKind.USER, "bad")}) == []
    assert q.release("w1", [pending]) == []
    assert env.store.head() == head
    assert q.get(pending).status is JobStatus.PENDING
    assert q.results.read().empty


def test_a_burst_claim_takes_only_jobs_submitted_by_its_start(env: QueueEnv) -> None:
    q = env.queue()
    early = q.submit(submission()).job_id
    started = env.clock()
    env.clock.advance(5)
    late = q.submit(submission()).job_id
    assert [e.job_id for e in q.claim("w1", submitted_by=started).jobs] == [early]
    assert q.claim("w1", submitted_by=started).jobs == []
    assert [e.job_id for e in q.claim("w2").jobs] == [late]
