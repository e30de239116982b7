"""The per-user index: one small file per user, rewritten in the same commit as each move.

It answers "what are my jobs" and "how much of today's quota is left" with one read,
and because it is part of every CAS commit, two submissions racing for the last slot
of the quota can never both win.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone

from heldout.queue.entry import Entry, ErrorKind, check_username, iso, parse_iso
from heldout.queue.status import JobStatus

INDEX_VERSION = 1


IN_LINE = (JobStatus.PENDING, JobStatus.RUNNING)


def index_status(status: JobStatus, scores: bool = True) -> JobStatus:
    """What the index records of a job's status. It does not tell a running job from a
    waiting one ("in line"), so a claim, a lease renewal or a retry leaves it alone;
    and unless a rule needs each user's scores (`scores`: `review.max_jump` or the
    Ladder), a finished job is recorded as in line too, so a result does not rewrite
    it either. Only moves that change what it answers (a submission, a failure and
    its refund, a review) rewrite it; a job's real status is its entry's."""
    if status in IN_LINE or (status is JobStatus.FINISHED and not scores):
        return JobStatus.PENDING
    return status


def rewrites_index(before: JobStatus | None, after: JobStatus, scores: bool = True) -> bool:
    return before is None or index_status(before, scores) is not index_status(after, scores)


def user_path(name: str) -> str:
    return f"users/{check_username(name)}.json"


@dataclass(frozen=True)
class UserJob:
    status: str
    submitted_at: str
    sha256: str
    model: str
    counts: bool = True  # counts against the daily quota
    primary_score: float | None = None
    # The Ladder's decision (release = "ladder"), while the job is FINISHED or in REVIEW:
    # the judgement's number and the job shown after it (see `UserIndex.ladder`).
    ladder_step: int | None = None
    ladder_best: str | None = None


@dataclass(frozen=True)
class Quota:
    limit: int
    used: int
    resets_at: str

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def refunds(entry: Entry) -> bool:
    """Failures that are the system's fault, and cancellations, give the quota back."""
    return (
        entry.status is JobStatus.FAILED
        and entry.error is not None
        and entry.error.kind in (ErrorKind.EVALUATOR, ErrorKind.INFRASTRUCTURE, ErrorKind.CANCELLED)
    )


def next_reset(now: datetime) -> datetime:
    """Quotas are per UTC day, so every user sees the same, predictable reset time."""
    day = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


@dataclass(frozen=True)
class UserIndex:
    user: str
    jobs: dict[str, UserJob] = field(default_factory=dict)
    version: int = INDEX_VERSION

    def __post_init__(self) -> None:
        check_username(self.user)

    def with_entry(self, entry: Entry, primary_metric: str, scores: bool = True) -> UserIndex:
        old = self.jobs.get(entry.job_id)
        score = (entry.scores or {}).get(primary_metric) if scores else None
        job = UserJob(
            status=index_status(entry.status, scores).value,
            submitted_at=entry.submitted_at,
            sha256=entry.predictions_sha256,
            model=entry.model,
            counts=(old.counts if old else True) and not refunds(entry),
            primary_score=score if entry.status is JobStatus.FINISHED else None,
        )
        decided = entry.status in (JobStatus.FINISHED, JobStatus.REVIEW)
        if decided and entry.release is not None and entry.release.step > 0:
            job = replace(job, ladder_step=entry.release.step, ladder_best=entry.release.best_job)
        return replace(self, jobs={**self.jobs, entry.job_id: job})

    def ladder(self) -> tuple[int, str | None]:
        """The state of this submitter's Ladder: how many judgements stand (jobs FINISHED
        or in REVIEW; a requeued or rejected job's decision no longer counts) and the job
        shown after the last of them. (0, None) before the first."""
        decided = [(j.ladder_step, j.ladder_best) for j in self.jobs.values() if j.ladder_step]
        if not decided:
            return 0, None
        step, best = max(decided, key=lambda d: (d[0], d[1] or ""))
        return int(step or 0), best

    def quota(self, limit: int, now: datetime) -> Quota:
        today = now.astimezone(timezone.utc).date()
        used = sum(
            1 for j in self.jobs.values() if j.counts and parse_iso(j.submitted_at).date() == today
        )
        return Quota(limit=limit, used=used, resets_at=iso(next_reset(now)))

    def live_job_with(self, sha256: str) -> str | None:
        """An earlier job of this user with the same file that has not failed."""
        for job_id, job in sorted(self.jobs.items()):
            if job.sha256 == sha256 and job.status != JobStatus.FAILED.value:
                return job_id
        return None

    def best_score(self, higher_is_better: bool) -> float | None:
        scores = [j.primary_score for j in self.jobs.values() if j.primary_score is not None]
        if not scores:
            return None
        return max(scores) if higher_is_better else min(scores)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> UserIndex:
        data = json.loads(raw)
        jobs = {k: UserJob(**v) for k, v in data.get("jobs", {}).items()}
        return cls(user=data["user"], jobs=jobs, version=data.get("version", INDEX_VERSION))
