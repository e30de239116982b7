"""Post-scoring flags hold a result unpublished until a reviewer decides."""

from __future__ import annotations

import pytest
from queue_helpers import scored, submission

from heldout.errors import NotAllowed
from heldout.queue.entry import ErrorKind
from heldout.queue.status import JobStatus


def run_one(q, accuracy: float, user: str = "alice"):
    job = q.submit(submission(user=user)).job_id
    (claimed,) = q.claim("w").jobs
    assert claimed.job_id == job
    (entry,) = q.finish("w", [scored(job, accuracy)])
    return entry


def published(q) -> list[str]:
    return sorted(q.results.read()["job_id"])


@pytest.mark.parametrize(
    "review, scores, rule",
    [
        ({"score_threshold": 0.9}, [0.95], "score_threshold"),
        ({"max_jump": 0.2}, [0.5, 0.8], "score_jump"),
    ],
)
def test_a_suspicious_score_waits_unpublished_then_approve_publishes_it(
    queue_factory, review: dict, scores: list[float], rule: str
) -> None:
    env = queue_factory(review={"reviewers": ["rita"], **review})
    q = env.queue()
    *earlier, last = [run_one(q, s) for s in scores]
    assert all(e.status is JobStatus.FINISHED for e in earlier)
    assert last.status is JobStatus.REVIEW
    assert last.flags[-1].rule == rule and last.flags[-1].stage == "post"
    assert last.job_id not in published(q)

    with pytest.raises(NotAllowed):
        q.approve(last.job_id, "alice")
    assert last.job_id not in published(q)

    approved = q.approve(last.job_id, "rita", "checked the model card")
    assert approved.status is JobStatus.FINISHED and approved.review.decision == "approved"
    assert published(q) == sorted(e.job_id for e in [*earlier, last])
    row = q.results.read().set_index("job_id").loc[last.job_id]
    assert row["primary_score"] == scores[-1]


def test_reject_fails_the_job_with_the_reviewers_reason_and_publishes_nothing(
    queue_factory,
) -> None:
    env = queue_factory(review={"reviewers": ["rita"], "score_threshold": 0.9})
    q = env.queue()
    held = run_one(q, 0.99)
    rejected = q.reject(held.job_id, "rita", "trained on the test set")
    assert rejected.status is JobStatus.FAILED
    assert rejected.error.kind is ErrorKind.REJECTED
    assert rejected.error.message == "rejected by a reviewer: trained on the test set"
    assert q.get(held.job_id).error.message.endswith("trained on the test set")
    assert published(q) == []
