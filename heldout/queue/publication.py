"""Results follow the queue: a row exists only for a job that is FINISHED there.

The queue entry (private repo) is the source of truth and carries the result; the
public results dataset is derived from it. The two repos cannot change in one commit,
so the order of writes is what keeps the board honest:

- a job reaches FINISHED in a queue commit first, and only then gets its row;
- a job leaving FINISHED (requeue, rescore) loses its row before the queue commit
  and again after it, so no row outlives the move;
- rows are written keyed by job id, in one batched commit, and a bucket that
  already holds exactly the wanted rows is not written again: replaying a
  publication after a lost reply or a crash publishes nothing twice.

A crash between the two repos leaves drift of one kind only: a FINISHED job without
its row (or, after a crash mid-requeue, a row the next step would have removed).
`reconcile` repairs both from the queue's committed state; the worker runs it at
start, and `heldout results reconcile` runs it by hand.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from heldout.config import BenchmarkConfig
from heldout.queue.entry import Entry
from heldout.queue.results import Results, result_row
from heldout.queue.status import JobStatus

log = logging.getLogger("heldout.queue")


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile found and fixed."""

    finished: int  # FINISHED jobs in the queue
    published: int  # rows in the results before
    added: tuple[str, ...]  # FINISHED jobs that had no row (or a stale one, with `deep`)
    removed: tuple[str, ...]  # rows of jobs that are not FINISHED
    commit: str | None  # the results commit that fixed it, if one was needed

    def describe(self) -> str:
        if not self.added and not self.removed:
            return f"in step: {self.finished} finished job(s), {self.published} row(s)"
        return (
            f"fixed: {len(self.added)} row(s) published, {len(self.removed)} removed "
            f"({self.finished} finished job(s))"
        )


class Publisher:
    """Publishes committed queue states to the results; remembers what is still owed.

    Thread-safe: the worker's loop and its shutdown path may both flush."""

    def __init__(self, results: Results, benchmark: BenchmarkConfig) -> None:
        self.results = results
        self.benchmark = benchmark
        self._lock = threading.Lock()
        self._rows: dict[str, Entry] = {}  # job id -> FINISHED entry whose row is owed
        self._gone: set[str] = set()  # job ids whose row must go

    @property
    def owed(self) -> int:
        with self._lock:
            return len(self._rows) + len(self._gone)

    def committed(self, moves: list[tuple[JobStatus | None, Entry]]) -> None:
        """Note what the queue commit just made true: (status before, entry after)."""
        with self._lock:
            for before, entry in moves:
                if entry.status is JobStatus.FINISHED:
                    self._rows[entry.job_id] = entry
                    self._gone.discard(entry.job_id)
                elif before is JobStatus.FINISHED or entry.job_id in self._rows:
                    self._rows.pop(entry.job_id, None)
                    self._gone.add(entry.job_id)

    def flush(self) -> str | None:
        """Write what is owed in one results commit. On failure it stays owed and the
        error is raised; the next flush (or a reconcile) tries again."""
        with self._lock:
            rows = dict(self._rows)
            gone = set(self._gone)
        if not rows and not gone:
            return None
        revealed = bool(rows) and self.results.revealed()
        made = [result_row(e, self.benchmark, revealed) for e in rows.values()]
        head = self.results.sync(made, gone)
        with self._lock:
            for job_id, entry in rows.items():
                if self._rows.get(job_id) is entry:
                    del self._rows[job_id]
            self._gone -= gone - set(self._rows)
        return head

    def unpublish_now(self, job_ids: list[str]) -> None:
        """Remove rows before a queue commit that takes their jobs out of FINISHED."""
        if job_ids:
            self.results.remove(job_ids)

    def reconcile(self, finished: dict[str, Entry | None], deep: bool = False) -> Reconciled:
        """Make the rows match `finished` (every FINISHED job id; its entry when read).

        Without `deep`, only missing and extra rows are fixed, which reads no entry
        that already has a row. With `deep`, every FINISHED job's row is rebuilt from
        its entry and rewritten where it differs."""
        frame = self.results.read().set_index("job_id")
        published = set(frame.index)
        extra = sorted(published - set(finished))
        candidates = [
            e for j, e in finished.items() if e is not None and (deep or j not in published)
        ]
        revealed = bool(candidates) and self.results.revealed()
        rows = [result_row(e, self.benchmark, revealed) for e in candidates]
        stale = [row for row in rows if _differs(row, frame)]
        commit = self.results.sync(stale, extra)
        with self._lock:
            for e in candidates:
                if self._rows.get(e.job_id) is e:
                    del self._rows[e.job_id]
            self._gone -= set(extra)
        added = tuple(sorted(row["job_id"] for row in stale))
        found = Reconciled(len(finished), len(published), added, tuple(extra), commit)
        if commit is not None:
            log.warning("results reconciled with the queue: %s", found.describe())
        return found


_COMPARED = ("primary_score", "finished_at", "test_fingerprint", "evaluator_version")


def _differs(row: dict, frame) -> bool:  # noqa: ANN001 - a pandas frame indexed by job id
    """A row that is missing from `frame`, or says something else than it does."""
    if row["job_id"] not in frame.index:
        return True
    old = frame.loc[row["job_id"]]
    return any(old[name] != row[name] for name in _COMPARED)
