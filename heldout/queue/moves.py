"""Pure moves: how an entry looks after each transition.

No I/O here: each function takes an entry and the facts of the moment and returns the
new entry, checked against the transition table by `Entry.moved`. `JobQueue` decides
which moves to make inside a transaction; these functions say what the moves are.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from heldout.config import Config
from heldout.queue.entry import Decision, Entry, ErrorKind, JobError, iso
from heldout.queue.release import Release
from heldout.queue.rules import PostContext, post_flags
from heldout.queue.splits import SplitScore
from heldout.queue.status import Action, JobStatus

OUT_OF_ATTEMPTS = (
    "the evaluation did not complete after {n} attempts; the maintainers have been told"
)


def taken(entry: Entry, action: Action, worker: str, now: datetime, lease_seconds: float) -> Entry:
    return entry.moved(
        action,
        JobStatus.RUNNING,
        by=worker,
        note=f"attempt {entry.attempts + 1}",
        worker=worker,
        attempts=entry.attempts + 1,
        lease_expires_at=iso(now + timedelta(seconds=lease_seconds)),
        started_at=iso(now),
    )


def failed(
    entry: Entry, action: Action, error: JobError, by: str, now: datetime, **extra: object
) -> Entry:
    return entry.moved(
        action,
        JobStatus.FAILED,
        by=by,
        note=error.kind.value,
        error=error,
        worker=None,
        lease_expires_at=None,
        finished_at=iso(now),
        **extra,
    )


def out_of_attempts(entry: Entry, by: str, now: datetime) -> Entry:
    error = JobError(ErrorKind.INFRASTRUCTURE, OUT_OF_ATTEMPTS.format(n=entry.attempts))
    return failed(entry, Action.EXPIRE, error, by, now)


def released(entry: Entry, worker: str, note: str, count_attempt: bool) -> Entry:
    """Back to PENDING. A clean shutdown does not use up an attempt; an error does."""
    attempts = entry.attempts if count_attempt else max(0, entry.attempts - 1)
    return entry.moved(
        Action.RELEASE,
        JobStatus.PENDING,
        worker,
        note,
        worker=None,
        lease_expires_at=None,
        attempts=attempts,
    )


def renewed(entry: Entry, worker: str, now: datetime, lease_seconds: float) -> Entry:
    until = iso(now + timedelta(seconds=lease_seconds))
    return entry.moved(
        Action.RENEW, JobStatus.RUNNING, worker, "lease renewed", lease_expires_at=until
    )


def after_failure(
    entry: Entry, error: JobError, worker: str, now: datetime, max_attempts: int
) -> Entry:
    """A submitter's mistake fails at once; ours is retried until the attempts run out."""
    if error.kind is ErrorKind.USER or entry.attempts >= max_attempts:
        return failed(entry, Action.FAIL, error, worker, now)
    return released(entry, worker, f"retry after {error.kind.value} error", count_attempt=True)


def scored(
    entry: Entry,
    scores: dict[str, float],
    fingerprint: str,
    version: str,
    best_before: float | None,
    config: Config,
    worker: str,
    now: str,
    split_scores: tuple[SplitScore, ...] = (),
    release: Release | None = None,
) -> Entry:
    """FINISHED, or REVIEW when a post-scoring rule flags the score.

    `scores` are the public ones (or the whole set's); rules only ever see those."""
    bench = config.benchmark
    ctx = PostContext(
        entry,
        float(scores[bench.primary_metric]),
        best_before,
        bench.higher_is_better,
        config.review,
    )
    done = dict(
        worker=None,
        lease_expires_at=None,
        finished_at=now,
        scores=dict(scores),
        split_scores=tuple(split_scores),
        release=release,
        test_fingerprint=fingerprint,
        evaluator_version=version,
    )
    flags = post_flags(ctx)
    if flags:
        note = "scored; held for review"
        return entry.moved(
            Action.FLAG, JobStatus.REVIEW, worker, note, flags=entry.flags + flags, **done
        )
    return entry.moved(Action.FINISH, JobStatus.FINISHED, worker, "scored", **done)


def requeued(entry: Entry, by: str) -> Entry:
    return entry.moved(
        Action.REQUEUE,
        JobStatus.PENDING,
        by,
        "requeued by a maintainer",
        attempts=0,
        worker=None,
        lease_expires_at=None,
        error=None,
        finished_at=None,
    )


def cancelled(entry: Entry, user: str, now: datetime) -> Entry:
    error = JobError(ErrorKind.CANCELLED, "cancelled by the submitter")
    return failed(entry, Action.CANCEL, error, user, now)


def approved(entry: Entry, reviewer: str, note: str, now: datetime) -> Entry:
    """A scored job is done; an unscored one goes on to be scored."""
    dst = JobStatus.FINISHED if entry.scores is not None else JobStatus.PENDING
    decision = Decision("approved", reviewer, note[:500], iso(now))
    return entry.moved(Action.APPROVE, dst, reviewer, note or "approved", review=decision)


def rejected(entry: Entry, reviewer: str, reason: str, now: datetime) -> Entry:
    error = JobError(ErrorKind.REJECTED, f"rejected by a reviewer: {reason[:500]}")
    decision = Decision("rejected", reviewer, reason[:500], iso(now))
    return failed(entry, Action.REJECT, error, reviewer, now, review=decision)


def already_decided(entry: Entry, decision: str, reviewer: str) -> bool:
    """True when this very decision already landed (a retried commit whose reply was lost)."""
    return (
        entry.status is not JobStatus.REVIEW
        and entry.review is not None
        and (entry.review.decision, entry.review.by) == (decision, reviewer)
    )
