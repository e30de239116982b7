"""The queue entry: one submission, as a frozen dataclass that checks itself.

Entries are stored as versioned JSON. Every field that came from a user is checked
here, where it enters, so a model name can never become a path and an identity can
only be a Hub user name.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from heldout.errors import ErrorKind, InvalidSubmission, InvalidTransition
from heldout.queue.release import Release
from heldout.queue.splits import SplitScore
from heldout.queue.splits import parse as parse_split_scores
from heldout.queue.status import Action, JobStatus, check_transition, status_path

SCHEMA_VERSION = 1
HISTORY_LIMIT = 20
MAX_DESCRIPTION = 1000
JOB_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FORMATS = ("csv", "jsonl", "parquet")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


_SUBSECOND_MAX = 0xFFFFF  # five hex digits: the microsecond, bumped past it in a burst
_last_id: list[tuple[str, int]] = [("", -1)]  # the last (second, sub-second) made here
_id_lock = threading.Lock()


def new_job_id(now: datetime | None = None) -> str:
    """Time-sortable and random; never built from user text.

    `YYYYmmddTHHMMSSZ-` then 8 hex digits: 5 for the microsecond and 3 random. Ids made
    by one process sort in the order they were made, even within one microsecond or
    with one `now` for a whole group commit (the sub-second part is bumped past the
    last one), so a submitter's jobs sort in submission order and the Ladder can judge
    them in that order. Ids made before this scheme have 8 random hex digits: they
    match the same pattern, and only their order within one second is arbitrary."""
    moment = now or utcnow()
    second = moment.strftime("%Y%m%dT%H%M%SZ")
    with _id_lock:
        last_second, last_sub = _last_id[0]
        sub = moment.microsecond
        if second == last_second and sub <= last_sub:
            sub = min(last_sub + 1, _SUBSECOND_MAX)
        _last_id[0] = (second, sub)
    return f"{second}-{sub:05x}{secrets.token_hex(2)[:3]}"


def job_time(job_id: str) -> datetime:
    """When a job was submitted, read from its id alone (no file needed)."""
    return datetime.strptime(check_job_id(job_id)[:16], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=timezone.utc
    )


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise InvalidSubmission(f"{str(job_id)[:40]!r} is not a job id")
    return job_id


def check_username(name: str) -> str:
    if not isinstance(name, str) or not USERNAME.match(name):
        raise InvalidSubmission("the submitter must be a Hugging Face user name")
    return name


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") and c not in allowed for c in text)


def check_model_name(name: str, max_length: int = 100) -> str:
    """Any printable text is a fine model name; it is shown as text, never used as a path."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidSubmission("please give your model a name")
    name = name.strip()
    if len(name) > max_length:
        raise InvalidSubmission(
            f"the model name is {len(name)} characters; the limit is {max_length}"
        )
    if _has_control(name):
        raise InvalidSubmission("the model name contains control characters; please remove them")
    return name


def check_description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidSubmission(
            f"the description is {len(text)} characters; the limit is {MAX_DESCRIPTION}"
        )
    if _has_control(text, allowed="\n\t"):
        raise InvalidSubmission("the description contains control characters; please remove them")
    return text


@dataclass(frozen=True)
class JobError:
    """A failure reason the submitter may read."""

    kind: ErrorKind
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ErrorKind(self.kind))
        if not self.message:
            raise ValueError("a job error needs a message")


@dataclass(frozen=True)
class Flag:
    """Why a rule held the job for a reviewer. `stage` is "pre" or "post" scoring."""

    rule: str
    detail: str
    stage: str = "pre"


@dataclass(frozen=True)
class Decision:
    decision: str  # "approved" | "rejected"
    by: str
    note: str
    at: str


@dataclass(frozen=True)
class Event:
    at: str
    status: str
    by: str
    note: str = ""
    action: str = ""  # the `Action` that led here; "" in entries written before it was kept


@dataclass(frozen=True)
class Entry:
    job_id: str
    model: str
    submitter: str
    submitted_at: str
    predictions_path: str
    predictions_sha256: str
    size: int
    format: str
    status: JobStatus = JobStatus.PENDING
    description: str = ""
    attempts: int = 0
    worker: str | None = None
    lease_expires_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: JobError | None = None
    flags: tuple[Flag, ...] = ()
    review: Decision | None = None
    scores: dict[str, float] | None = None
    split_scores: tuple[SplitScore, ...] = ()  # private ones: never shown before the reveal
    release: Release | None = None  # the Ladder's decision, under [review] release = "ladder"
    test_fingerprint: str | None = None
    evaluator_version: str | None = None
    history: tuple[Event, ...] = ()
    version: int = field(default=SCHEMA_VERSION)
    predictions_fingerprint: str | None = None  # the parsed predictions' (copies share it)

    def __post_init__(self) -> None:
        check_job_id(self.job_id)
        check_username(self.submitter)
        object.__setattr__(self, "status", JobStatus(self.status))
        if self.format not in FORMATS:
            raise InvalidSubmission(f"unknown predictions format {self.format!r}")
        if self.predictions_path != predictions_path(self.job_id, self.format):
            raise InvalidSubmission("the predictions path must be derived from the job id")
        if not SHA256.match(self.predictions_sha256):
            raise InvalidSubmission("predictions_sha256 must be 64 hex digits")
        if self.predictions_fingerprint is not None and not SHA256.match(
            self.predictions_fingerprint
        ):
            raise InvalidSubmission("predictions_fingerprint must be 64 hex digits")
        if self.size < 0 or self.attempts < 0:
            raise InvalidSubmission("size and attempts cannot be negative")
        if self.version > SCHEMA_VERSION:
            raise InvalidSubmission(f"entry version {self.version} is newer than this heldout")

    @property
    def path(self) -> str:
        return status_path(self.status, self.job_id)

    @property
    def last_action(self) -> Action | None:
        """The move that made this version, as its history records it."""
        if not self.history or not self.history[-1].action:
            return None
        return Action(self.history[-1].action)

    def moved(
        self, action: Action, dst: JobStatus, by: str, note: str = "", **changes: Any
    ) -> Entry:
        """A copy in `dst`, checked against the transition table, with a history line."""
        check_transition(action, self.status, dst)
        return self._with_event(action, dst, by, note, **changes)

    def entered(
        self, action: Action, dst: JobStatus, by: str, note: str = "", **changes: Any
    ) -> Entry:
        """A fresh entry's first move into the queue (submit, or hold for review)."""
        if self.history:
            raise InvalidTransition(f"job {self.job_id} is already in the queue")
        check_transition(action, None, dst)
        return self._with_event(action, dst, by, note, **changes)

    def _with_event(
        self, action: Action, dst: JobStatus, by: str, note: str, **changes: Any
    ) -> Entry:
        if "status" in changes or "history" in changes:
            raise TypeError("status and history change only through a checked move")
        event = Event(
            at=iso(utcnow()), status=dst.value, by=by, note=note[:200], action=action.value
        )
        history = (*self.history, event)
        if len(history) > HISTORY_LIMIT:  # keep the first event and the latest ones
            history = (history[0], *history[-(HISTORY_LIMIT - 1) :])
        return replace(self, status=dst, history=history, **changes)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["status"] = self.status.value
        if self.error:
            data["error"]["kind"] = self.error.kind.value
        return json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        data["error"] = JobError(**data["error"]) if data.get("error") else None
        data["flags"] = tuple(Flag(**f) for f in data.get("flags") or ())
        data["review"] = Decision(**data["review"]) if data.get("review") else None
        data["history"] = tuple(Event(**e) for e in data.get("history") or ())
        data["split_scores"] = parse_split_scores(data.get("split_scores"))
        data["release"] = Release.parse(data.get("release"))
        return cls(**data)


def predictions_path(job_id: str, fmt: str) -> str:
    """Written once at submission and never moved."""
    return f"predictions/{job_id}.{fmt}"


def new_entry(
    *,
    job_id: str,
    model: str,
    submitter: str,
    description: str,
    sha256: str,
    size: int,
    fmt: str,
    max_model_name: int = 100,
    now: datetime | None = None,
    fingerprint: str | None = None,
) -> Entry:
    """A fresh entry, not yet in any folder. `submit` decides PENDING or REVIEW."""
    now = now or utcnow()
    return Entry(
        job_id=job_id,
        model=check_model_name(model, max_model_name),
        submitter=check_username(submitter),
        description=check_description(description),
        submitted_at=iso(now),
        predictions_path=predictions_path(job_id, fmt),
        predictions_sha256=sha256,
        size=size,
        format=fmt,
        predictions_fingerprint=fingerprint,
    )
