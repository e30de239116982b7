"""One family of errors for all of heldout.

Each error mixes in the builtin it resembles (as filelock and huggingface_hub do), so
callers may catch either `HeldoutError` or, say, `PermissionError`. Messages are meant
for people: they never carry a token, a server path or a stack trace.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    """Whose fault a failed job is: the one list, shared by the queue and the evaluator.

    USER is final and its message says what to fix; INFRASTRUCTURE (the network, the
    Hub) is retried; EVALUATOR (a scorer bug) fails after a bounded number of attempts.
    CANCELLED and REJECTED are people's decisions."""

    USER = "user"
    EVALUATOR = "evaluator"
    INFRASTRUCTURE = "infrastructure"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class HeldoutError(Exception):
    """Root of every error heldout raises on purpose."""


class ConfigError(HeldoutError, ValueError):
    """A setting in heldout.toml is missing, mistyped or contradicts another."""


class TestSetChanged(ConfigError):
    """The evaluator's test set is not the one the benchmark was scored on (a maintainer
    matter: no job is claimed or failed)."""

    __test__ = False  # not a pytest test class, despite its name


class StoreError(HeldoutError):
    """A storage backend failed in a way the caller cannot fix by retrying."""


class Conflict(StoreError):
    """The parent commit is no longer the head: someone else committed first (CAS lost)."""


class NotFound(StoreError, KeyError):
    """A path, revision or repo does not exist."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else "not found"


class InvalidPath(StoreError, ValueError):
    """A repo id or a path in a repo is malformed or unsafe (`..`, absolute, too long)."""


class AccessDenied(StoreError, PermissionError):
    """The token may not read or write this repo."""


class TransientError(StoreError, ConnectionError):
    """The backend kept failing with retryable errors (429, 5xx, timeouts) past the budget."""


class QueueError(HeldoutError):
    """Base of the queue's refusals. The message is shown to the user as it is."""


class QueueDelayed(QueueError, ConnectionError):
    """The Hub asked us to slow down (a spent commit quota): nothing was written, nothing
    is broken, and a commit is allowed again in about `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidSubmission(QueueError, ValueError):
    """The submission itself is wrong: its name, its file, its fields."""


class LimitReached(QueueError):
    """The user has used the daily quota; `resets_at` says when it comes back."""

    def __init__(self, message: str, resets_at: str) -> None:
        super().__init__(message)
        self.resets_at = resets_at


class DuplicateSubmission(QueueError):
    """The same user already submitted the same file; names the earlier job."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class NotAllowed(QueueError, PermissionError):
    """The caller may not do this (not a reviewer, not the owner)."""


class InvalidTransition(QueueError):
    """The job's status does not allow this move (finish a PENDING job, for example)."""


class JobNotFound(QueueError, KeyError):
    """No job with this id exists in the queue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "job not found"


class InvalidPredictions(HeldoutError, ValueError):
    """A prediction file is malformed. The message says what to fix and is shown as it is."""


class ScorerError(HeldoutError, RuntimeError):
    """The benchmark's scorer could not be loaded, crashed or returned no usable metrics.

    The evaluator's fault, never the submitter's: they see only a generic message.
    `str(exc)` is a short summary for the maintainer; `detail` may hold a traceback for
    the log, never for the submitter.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ScorerTimeout(ScorerError):
    """The scorer ran past its time limit and was killed."""


class ScoringCancelled(HeldoutError):
    """The worker is shutting down; the scoring child was stopped before it answered."""


class SubmissionsClosed(QueueError):
    """The competition is not open for submissions now; the message says when it is."""


class SelectionRefused(QueueError, ValueError):
    """A final selection that cannot be saved: too many jobs, not yours, or too late."""


class RevealError(HeldoutError):
    """The reveal cannot be made, scheduled or undone (say, it was already published)."""
