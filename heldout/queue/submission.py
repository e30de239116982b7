"""Turning an upload into a queue entry: identity, limits, duplicates and pre-review flags.

`accept` works inside a transaction and touches no network itself, so a batch of
submissions is planned one after another against the same in-memory state: the
daily limit holds inside a group commit exactly as it does across commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from heldout.config import Config
from heldout.errors import DuplicateSubmission, InvalidSubmission, LimitReached
from heldout.queue.entry import SHA256, Entry, check_username, new_entry, parse_iso
from heldout.queue.phases import check_open
from heldout.queue.rules import PreContext, pre_flags
from heldout.queue.status import Action, JobStatus
from heldout.queue.txn import Txn
from heldout.queue.users import UserIndex


@dataclass(frozen=True)
class Submission:
    """What a signed-in user sends. `submitter` must come from a verified identity."""

    submitter: str
    model: str
    content: bytes = field(repr=False)
    format: str
    description: str = ""
    fingerprint: str | None = None
    """`heldout.predictions.fingerprint` of the parsed file, where it was checked: the same
    predictions in another file (line endings, row order, format) share it."""

    def __post_init__(self) -> None:
        check_username(self.submitter)
        if self.fingerprint is not None and not SHA256.match(self.fingerprint):
            raise InvalidSubmission("the predictions fingerprint must be 64 hex digits")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def copy_keys(self) -> tuple[str, ...]:
        """What copies are found by: the fingerprint, and the raw bytes (older entries)."""
        return tuple(dict.fromkeys(k for k in (self.fingerprint, self.sha256) if k))


def describe_wait(resets_at: datetime, now: datetime) -> str:
    minutes = max(1, int((resets_at - now).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def check_file(sub: Submission, config: Config) -> None:
    limits = config.limits
    if sub.format not in limits.formats:
        raise InvalidSubmission(
            f"{sub.format!r} files are not accepted; use one of: {', '.join(limits.formats)}"
        )
    if not sub.content:
        raise InvalidSubmission("the predictions file is empty")
    if len(sub.content) > limits.max_file_bytes:
        raise InvalidSubmission(
            f"the file is {len(sub.content) / 2**20:.1f} MB; the limit is {limits.max_file_mb:g} MB"
        )


def accept(txn: Txn, sub: Submission, config: Config, now: datetime, job_id: str) -> Entry:
    """Check one submission against the state in `txn` and add it there.

    If `job_id` is already in the queue, an earlier try of this same commit landed:
    its entry is the answer."""
    check_file(sub, config)
    if job_id in txn.user(sub.submitter).jobs:
        return txn.entry(job_id)
    check_open(config.phases, now)
    entry = new_entry(
        job_id=job_id,
        model=sub.model,
        submitter=sub.submitter,
        description=sub.description,
        sha256=sub.sha256,
        size=len(sub.content),
        fmt=sub.format,
        max_model_name=config.limits.max_model_name,
        now=now,
        fingerprint=sub.fingerprint,
    )
    index = txn.user(sub.submitter)
    same = _same_predictions(txn, sub)
    earlier = index.live_job_with(entry.predictions_sha256) or _live_copy(index, same)
    if earlier:
        raise DuplicateSubmission(
            f"you already submitted these predictions as job {earlier}", job_id=earlier
        )
    quota = index.quota(config.limits.submissions_per_day, now)
    if quota.remaining == 0:
        resets = parse_iso(quota.resets_at)
        raise LimitReached(
            f"you have used all {quota.limit} submissions for today; more are allowed at "
            f"{resets:%H:%M} UTC (in {describe_wait(resets, now)})",
            resets_at=quota.resets_at,
        )
    flags = pre_flags(PreContext(entry, same, config.review))
    action, status = (
        (Action.HOLD, JobStatus.REVIEW) if flags else (Action.SUBMIT, JobStatus.PENDING)
    )
    entry = entry.entered(action, status, sub.submitter, "submitted", flags=flags)
    txn.put(entry)
    txn.add_file(entry.predictions_path, sub.content)
    for key in sub.copy_keys:
        txn.add_hash(key, entry.job_id, entry.submitter)
    return entry


def _same_predictions(txn: Txn, sub: Submission) -> list[dict[str, str]]:
    """Earlier jobs with the same predictions: by fingerprint, or by the same bytes."""
    found: dict[str, dict[str, str]] = {}
    for key in sub.copy_keys:
        for job in txn.jobs_with_hash(key):
            found.setdefault(job["job_id"], job)
    return sorted(found.values(), key=lambda job: job["job_id"])


def _live_copy(index: UserIndex, same: list[dict[str, str]]) -> str | None:
    """This user's earlier job with the same predictions that has not failed."""
    for job in same:
        mine = index.jobs.get(job["job_id"])
        if job["user"] == index.user and mine and mine.status != JobStatus.FAILED.value:
            return job["job_id"]
    return None
