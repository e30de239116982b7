"""Job states, the one table of allowed moves, and the one function that names a status file.

A status value is also its folder name in the queue repo, so the state a job is in
and the place its file lives can never drift apart.
"""

from __future__ import annotations

from enum import Enum

from heldout.errors import InvalidTransition


class JobStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    REVIEW = "REVIEW"
    FINISHED = "FINISHED"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


class Action(str, Enum):
    SUBMIT = "submit"
    HOLD = "hold"  # a pre-scoring rule flagged the submission
    CLAIM = "claim"
    RECLAIM = "reclaim"  # the lease ran out; another worker takes over
    RENEW = "renew"
    RELEASE = "release"  # a worker gives a job back (shutdown, transient error)
    FINISH = "finish"
    FLAG = "flag"  # a post-scoring rule flagged the scored job
    FAIL = "fail"
    EXPIRE = "expire"  # out of attempts
    REQUEUE = "requeue"
    CANCEL = "cancel"
    APPROVE = "approve"
    REJECT = "reject"


P, R, V, F, X = (
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.REVIEW,
    JobStatus.FINISHED,
    JobStatus.FAILED,
)

# action -> (statuses it may start from, status it leads to). `None` is "not yet in the
# queue". APPROVE's target depends on whether the job was scored; both are listed.
TRANSITIONS: dict[Action, tuple[frozenset[JobStatus | None], frozenset[JobStatus]]] = {
    Action.SUBMIT: (frozenset({None}), frozenset({P})),
    Action.HOLD: (frozenset({None}), frozenset({V})),
    Action.CLAIM: (frozenset({P}), frozenset({R})),
    Action.RECLAIM: (frozenset({R}), frozenset({R})),
    Action.RENEW: (frozenset({R}), frozenset({R})),
    Action.RELEASE: (frozenset({R}), frozenset({P})),
    Action.FINISH: (frozenset({R}), frozenset({F})),
    Action.FLAG: (frozenset({R}), frozenset({V})),
    Action.FAIL: (frozenset({R}), frozenset({X})),
    Action.EXPIRE: (frozenset({R}), frozenset({X})),
    Action.REQUEUE: (frozenset({R, X, F}), frozenset({P})),
    Action.CANCEL: (frozenset({P}), frozenset({X})),
    Action.APPROVE: (frozenset({V}), frozenset({P, F})),
    Action.REJECT: (frozenset({V}), frozenset({X})),
}


def check_transition(action: Action, src: JobStatus | None, dst: JobStatus) -> None:
    """Refuse every move the table does not list, with a sentence a person can read."""
    sources, targets = TRANSITIONS[action]
    if src not in sources:
        allowed = " or ".join(sorted(str(s) for s in sources if s is not None)) or "new"
        raise InvalidTransition(
            f"cannot {action.value} a job that is {src or 'not queued'}; it must be {allowed}"
        )
    if dst not in targets:  # a bug in heldout, not a user mistake
        raise InvalidTransition(f"{action.value} cannot lead to {dst}")


QUEUE_ROOT = "queue"


def status_folder(status: JobStatus) -> str:
    return f"{QUEUE_ROOT}/{status.value}"


def status_path(status: JobStatus, job_id: str) -> str:
    """The only place a status file's path is built."""
    return f"{status_folder(status)}/{job_id}.json"
