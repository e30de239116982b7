"""The reveal: publish every private score, and what counts for the final ranking, in one
commit.

Before the reveal the private scores exist only in the entries of the private queue
repo. The reveal is one commit to the results repo that rewrites the result rows with
their private split scores and adds `reveal.json`, the record of which submissions
count for each submitter. A reader therefore sees either no private score or all of
them, and the board switches to the final ranking at that commit.

A reveal happens at `[phases] reveal_at` (the worker publishes it when due) or at once
with `heldout reveal --by MAINTAINER`. A scheduled reveal can be cancelled (`undo`)
until it is published; a published one cannot be taken back, since anyone may have
read it.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from heldout.errors import NotFound, RevealError
from heldout.queue.entry import Entry, iso, parse_iso
from heldout.queue.jobs import JobQueue
from heldout.queue.phases import is_late, stamp
from heldout.queue.results import result_row
from heldout.queue.retry import retry_on_conflict
from heldout.queue.selection import Selections
from heldout.queue.splits import PRIVATE, PUBLIC, metrics_of
from heldout.queue.status import JobStatus
from heldout.queue.store import Add

log = logging.getLogger(__name__)

RECORD = "reveal.json"  # in the results repo: public once the reveal is published
SCHEDULE = "reveal/schedule.json"  # in the queue repo: a scheduled or cancelled reveal
RECORD_VERSION = 1


@dataclass(frozen=True)
class RevealRecord:
    """What the reveal published: when, by whom, and each submitter's counted jobs."""

    revealed_at: str
    by: str
    counted: dict[str, tuple[str, ...]]

    def to_json(self) -> bytes:
        body = {
            "version": RECORD_VERSION,
            "revealed_at": self.revealed_at,
            "by": self.by,
            "counted": {user: list(jobs) for user, jobs in sorted(self.counted.items())},
        }
        return json.dumps(body, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RevealRecord:
        data = json.loads(raw)
        counted = {str(u): tuple(map(str, jobs)) for u, jobs in data["counted"].items()}
        return cls(str(data["revealed_at"]), str(data["by"]), counted)


def counted(
    entries: list[Entry],
    selections: dict[str, tuple[str, ...]],
    select_max: int,
    higher_is_better: bool,
    primary: str,
) -> dict[str, tuple[str, ...]]:
    """Pure: per submitter, the jobs whose best private score ranks them.

    The selected jobs that were scored and published count; with none, the submitter's
    `select_max` best public ones (earlier first on equal scores). `entries` are the
    on-time FINISHED jobs: held, rejected and late jobs never count.
    """
    by_user: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_user[entry.submitter].append(entry)
    chosen: dict[str, tuple[str, ...]] = {}
    for user, jobs in sorted(by_user.items()):
        ids = {e.job_id for e in jobs}
        picked = [j for j in selections.get(user, ()) if j in ids]
        if not picked:
            sign = -1.0 if higher_is_better else 1.0
            best = sorted(
                jobs, key=lambda e: (sign * metrics_of(e.split_scores, PUBLIC)[primary], e.job_id)
            )
            picked = [e.job_id for e in best[:select_max]]
        chosen[user] = tuple(sorted(picked))
    return chosen


class Reveal:
    """Publish, schedule or cancel the reveal of one benchmark's private scores."""

    def __init__(self, queue: JobQueue) -> None:
        if queue.results is None:
            raise RevealError("the reveal needs the results repo")
        self.queue = queue
        self.config = queue.config
        self.results = queue.results

    # ---- reading -----------------------------------------------------------------

    def published(self) -> RevealRecord | None:
        try:
            return RevealRecord.from_json(self.results.store.read(RECORD))
        except NotFound:
            return None

    def schedule(self) -> dict[str, str] | None:
        try:
            return json.loads(self.queue.store.read(SCHEDULE))
        except NotFound:
            return None

    def due_at(self) -> datetime | None:
        """When the reveal is set to happen: a `schedule` overrides `reveal_at`."""
        planned = self.schedule()
        if planned is not None:
            return parse_iso(planned["at"]) if planned.get("state") == "scheduled" else None
        return self.config.phases.reveal_at

    # ---- acting ------------------------------------------------------------------

    def _maintainer(self, by: str) -> None:
        if by not in self.config.review.reviewers:
            raise RevealError(f"{by} is not among the benchmark's reviewers (review.reviewers)")

    def _check_time(self, now: datetime) -> None:
        end = self.config.phases.end
        if end is not None and now < end:
            raise RevealError(
                f"the competition is still open until {stamp(end)}; the private scores "
                "can only be revealed after the end"
            )

    def plan(self, now: datetime) -> tuple[list[Entry], RevealRecord]:
        """What a reveal now would publish; refuses while on-time jobs are being scored."""
        self._check_time(now)
        phases, bench = self.config.phases, self.config.benchmark
        finished = self.queue.jobs(JobStatus.FINISHED)
        on_time = [e for e in finished if not is_late(phases, parse_iso(e.submitted_at))]
        busy = [
            e
            for status in (JobStatus.PENDING, JobStatus.RUNNING)
            for e in self.queue.jobs(status)
            if not is_late(phases, parse_iso(e.submitted_at))
        ]
        if busy:
            raise RevealError(
                f"{len(busy)} on-time submission(s) are still waiting to be scored; "
                "the reveal waits for them"
            )
        if finished and not any(metrics_of(e.split_scores, PRIVATE) for e in finished):
            raise RevealError("this benchmark's test set has no private split to reveal")
        choice = counted(
            on_time,
            Selections(self.queue).all(),
            phases.select_max,
            bench.higher_is_better,
            bench.primary_metric,
        )
        return finished, RevealRecord(iso(now), "", choice)

    def publish(self, by: str, *, scheduled: bool = False) -> RevealRecord:
        """One commit: every result row with its private scores, and `reveal.json`."""
        if not scheduled:
            self._maintainer(by)
        done = self.published()
        if done is not None:
            raise RevealError(f"the private scores were already revealed at {done.revealed_at}")
        now = self.queue.clock()
        finished, record = self.plan(now)
        record = RevealRecord(record.revealed_at, by, record.counted)
        rows = [result_row(e, self.config.benchmark, revealed=True) for e in finished]
        self.results.upsert(
            rows,
            extra=(Add(RECORD, record.to_json()),),
            message=f"Reveal the private scores ({by})",
        )
        log.info("revealed %d result(s) by %s", len(rows), by)
        return record

    def schedule_at(self, by: str, at: datetime) -> None:
        self._maintainer(by)
        self._write({"state": "scheduled", "at": iso(at), "by": by}, f"Schedule the reveal ({by})")

    def undo(self, by: str) -> str:
        """Cancel a scheduled reveal (`reveal_at` included); refused once published."""
        self._maintainer(by)
        done = self.published()
        if done is not None:
            raise RevealError(
                f"the reveal was published at {done.revealed_at} and cannot be undone: "
                "anyone may have read it"
            )
        at = self.due_at()
        self._write(
            {"state": "cancelled", "at": iso(self.queue.clock()), "by": by}, "Cancel the reveal"
        )
        return f"the reveal planned for {stamp(at)} is cancelled" if at else "no reveal was planned"

    def tick(self) -> RevealRecord | None:
        """Publish a scheduled reveal once it is due and nothing is left to score (the
        worker calls this while idle; it costs two reads)."""
        at = self.due_at()
        if at is None or self.queue.clock() < at or self.published() is not None:
            return None
        try:
            return self.publish("schedule", scheduled=True)
        except RevealError as exc:
            log.info("the scheduled reveal waits: %s", exc)
            return None

    def _write(self, record: dict[str, str], message: str) -> None:
        body = json.dumps({**record, "nonce": secrets.token_hex(4)}, sort_keys=True).encode()

        def attempt() -> str:
            parent = self.queue.store.head()
            return self.queue.store.commit([Add(SCHEDULE, body)], message, parent=parent)

        retry_on_conflict(attempt, "record the reveal's schedule")


class RevealTimer:
    """`Reveal.tick` for a worker's idle loop, which runs every poll: the Hub counts every
    read, so it looks only every `every` seconds once `reveal_at` has come, and otherwise
    every `slow` seconds (a reveal scheduled with `heldout reveal --at` is found within
    that); never again once published. Nothing at all in the first `slow` seconds."""

    def __init__(self, queue: JobQueue, every: float = 60.0, slow: float = 600.0) -> None:
        self.reveal = Reveal(queue)
        self.every, self.slow = every, slow
        start = queue.clock()
        configured = queue.config.phases.reveal_at
        self._next = start + timedelta(seconds=slow)
        if configured is not None:
            self._next = min(self._next, max(configured, start))
        self._done = False

    def tick(self) -> RevealRecord | None:
        now = self.reveal.queue.clock()
        if self._done or now < self._next:
            return None
        configured = self.reveal.config.phases.reveal_at
        due = configured is not None and now >= configured
        self._next = now + timedelta(seconds=self.every if due else self.slow)
        try:
            if self.reveal.published() is not None:
                self._done = True
                return None
            record = self.reveal.tick()
        except Exception:
            log.exception("could not check the reveal; trying again later")
            return None
        self._done = record is not None
        return record


__all__ = ["RECORD", "SCHEDULE", "Reveal", "RevealRecord", "RevealTimer", "counted"]
