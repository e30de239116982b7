"""The worker's main loop: when to poll, claim, flush and stop.

Kept apart from `Worker` (which knows how to claim, score and commit) so each stays
small. `Loop` holds the state of one `Worker.run`: the jobs in flight, the outcomes
waiting for their batched commit, and what the last poll saw.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from heldout.queue.entry import Entry, JobError
from heldout.queue.jobs import Scored

if TYPE_CHECKING:
    from heldout.evaluator.worker import Worker

log = logging.getLogger("heldout.evaluator")

Outcome = Scored | JobError | None  # None: not scored, give the job back
FLUSH_SECONDS = 2.0  # longest a scored job waits to share its finish commit with others


class Loop:
    """The state of one `Worker.run`. Claimed jobs wait in the pool's own queue, so a
    scoring thread never waits for the loop; the next batch is claimed as soon as the
    last one has started, while it is still being scored."""

    def __init__(self, worker: Worker, pool: ThreadPoolExecutor, once: bool) -> None:
        self.w = worker
        self.pool = pool
        self.once = once
        self.inflight: dict[Future[Outcome], Entry] = {}
        self.started: set[str] = set()  # written by scoring threads
        self.done: list[tuple[Entry, Outcome]] = []
        self.first_done = 0.0
        self.seen_head: str | None = None
        self.wake_at: datetime | None = None
        self.must_claim = True  # something changed that the head cannot show
        self.lost_reply = False

    def run(self) -> None:
        w = self.w
        while not w.stop.is_set():
            w._wake.clear()
            self.collect()
            if self.done and self.flush_due():
                self.flush()
            if not self.waiting():
                idle = not self.inflight and not self.done
                if self.once and idle:
                    self.must_claim = True  # burst mode: one last look, then stop
                got = self.maybe_claim()
                if got:
                    continue
                if got is not None and self.once and idle:
                    return
            if self.inflight or self.done:
                w._wait(self.busy_wait())
            else:
                w.idle()
                w._sleep(w.settings.poll_seconds)

    def waiting(self) -> int:
        return sum(1 for e in self.inflight.values() if e.job_id not in self.started)

    def score(self, entry: Entry) -> Outcome:
        self.started.add(entry.job_id)
        return self.w.outcome(entry)

    def collect(self) -> None:
        for future in [f for f in self.inflight if f.done()]:
            entry = self.inflight.pop(future)
            self.started.discard(entry.job_id)
            if not self.done:
                self.first_done = time.monotonic()
            self.done.append((entry, future.result()))

    def flush_due(self) -> bool:
        return (
            not self.inflight
            or len(self.done) >= self.w.config.queue.claim_batch
            or time.monotonic() - self.first_done >= FLUSH_SECONDS
        )

    def busy_wait(self) -> float:
        wait = self.w.settings.poll_seconds
        if self.done:
            wait = min(wait, max(0.0, FLUSH_SECONDS - (time.monotonic() - self.first_done)))
        return wait

    def flush(self) -> bool:
        done = [(e, o) for e, o in self.done if o is not None]
        try:
            self.w.flush(done)
        except Exception:
            log.exception("could not commit %d outcome(s); trying again soon", len(done))
            self.w._sleep(self.w.settings.poll_seconds)
            return False
        self.w.release([e.job_id for e, o in self.done if o is None])
        self.done = []
        self.must_claim = True  # failed jobs may be back in PENDING for another try
        return True

    def maybe_claim(self) -> list[Entry] | None:
        """Claim when there may be work: one head read decides. None: the queue is unreachable."""
        w = self.w
        try:
            if self.lost_reply:
                self.submit(w.adopt())
                self.lost_reply = False
            head = w.queue.store.head()
            w.stats["polls"] += 1
            expired = self.wake_at is not None and w.queue.clock() >= self.wake_at
            if head == self.seen_head and not expired and not self.must_claim:
                return []
            jobs, self.wake_at = w.claim(max(w.concurrency, w.config.queue.claim_batch))
        except Exception:
            log.exception("could not reach the queue; trying again at the next poll")
            self.lost_reply = True
            return None
        self.seen_head, self.must_claim = head, False
        self.submit(jobs)
        return jobs

    def submit(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.inflight[self.pool.submit(self.score, entry)] = entry

    def shutdown(self) -> None:
        """Kill scoring children, commit what is scored, give back the rest."""
        self.w._cancel.set()
        back = []
        for future, entry in self.inflight.items():
            if future.cancel():  # never started
                back.append(entry.job_id)
            else:
                self.done.append((entry, future.result()))
        self.inflight.clear()
        if self.done and not self.flush():
            back += [e.job_id for e, o in self.done if o is not None]
        self.w.release(back)
