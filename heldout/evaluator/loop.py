"""The worker's main loop: when to poll, take jobs, settle, publish and stop.

Kept apart from `Worker` (which knows how to score and what a job costs) so each
stays small. `Loop` holds the state of one `Worker.run`: jobs in flight, outcomes
waiting for their batched commit, jobs scored before being claimed ("direct"), and
what the last poll saw.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from heldout.queue.claiming import Claimed, Scored
from heldout.queue.entry import Entry, JobError
from heldout.queue.governor import governor

if TYPE_CHECKING:
    from heldout.evaluator.worker import Worker

log = logging.getLogger("heldout.evaluator")

Outcome = Scored | JobError | None  # None: not scored, give the job back
FLUSH_SECONDS = 2.0  # longest a scored job waits to share its settle commit with others
# ... with other workers in sight: every commit may make theirs lose the CAS race, so
# settle once per batch (which also claims the next), or after this long
CONTENDED_FLUSH_SECONDS = 10.0
STAGGER_SECONDS = 1.0  # longest pause before an idle worker's leased claim
CONTENTION_SECONDS = 300.0  # after losing a direct job to another worker, lease this long
RECONCILE_SECONDS = 3600.0  # an idle worker checks results against the queue this often
ERROR_PAUSE = 5.0  # before trying a failed commit again when the Hub gave no Retry-After
PUBLISH_SECONDS = 5.0  # longest a result waits to share its results commit with others
CONTENDED_PUBLISH_SECONDS = 20.0  # ... with other workers publishing too


class Loop:
    """The state of one `Worker.run`. Taken jobs wait in the pool's own queue, so a
    scoring thread never waits for the loop; the next batch is taken as soon as the
    last one has started, while it is still being scored."""

    def __init__(
        self, worker: Worker, pool: ThreadPoolExecutor, once: bool, cutoff: datetime | None
    ) -> None:
        self.w = worker
        self.control = worker.control
        self.queue = worker.queue
        self.pool = pool
        self.once = once
        self.cutoff = cutoff
        self.inflight: dict[Future[Outcome], Entry] = {}
        self.started: set[str] = set()  # written by scoring threads
        self.done: list[tuple[Entry, Outcome]] = []
        self.direct: dict[str, Entry] = {}  # scored before a claim: the version we saw
        self.direct_since = 0.0  # when the oldest unsettled direct job was taken
        self.first_done = 0.0
        self.seen_head: str | None = None
        self.wake_at: datetime | None = None
        self.must_look = True  # something changed that the head cannot show
        self.lost_reply = False
        self.contended_until = 0.0  # monotonic: lease instead of direct until then
        self.idle_wait = worker.settings.poll_seconds
        self.busy_wait_more = worker.settings.poll_seconds  # between looks for more, while busy
        self.next_take = 0.0  # monotonic: a busy worker's next look for more
        self.reconciled_at = -RECONCILE_SECONDS
        self.leasing = False  # the last jobs were claimed: the next claim rides on the settle
        self.owed_since: float | None = None  # when results rows first waited to be written
        self.batch = 0  # how many the last claim asked for

    # ---- the loop ------------------------------------------------------------------

    def run(self) -> None:
        self.reconcile()
        while not self.control.stopping:
            if self.control.woken():
                self.idle_wait = self.busy_wait_more = self.w.settings.poll_seconds
                self.next_take = 0.0
            self.collect()
            self.protect()
            if self.done and self.flush_due():
                self.flush()
            if self.publish_due():
                self.publish()
            busy = bool(self.inflight or self.done)
            busy_leasing = self.leasing and busy
            due = not busy or time.monotonic() >= self.next_take
            if (
                due
                and not self.waiting()
                and not busy_leasing
                and not self.control.commits_paused()
            ):
                idle = not self.inflight and not self.done
                if self.once and idle:
                    self.must_look = True  # burst mode: one last look, then stop
                got = self.take()
                if got:
                    self.idle_wait = self.busy_wait_more = self.w.settings.poll_seconds
                    self.next_take = 0.0
                    continue
                if busy:  # nothing more yet: while busy, look for more less and less often
                    self.next_take = time.monotonic() + self.busy_wait_more
                    self.busy_wait_more = min(2 * self.busy_wait_more, self.longest_wait())
                if got is not None and self.once and idle and not self.queue.owed:
                    return
            if self.inflight or self.done or self.direct:
                self.control.wait(self.busy_wait())
            else:
                if self.once and self.queue.owed:  # a burst run ends once it has published
                    self.control.wait(max(self.control.commits_paused(), 0.05))
                    continue
                self.reconcile()
                self.w.idle()  # a scheduled reveal that is due
                self.control.idle(self.next_idle_wait())

    def longest_wait(self) -> float:
        s = self.w.settings
        return max(
            s.poll_seconds, s.webhook_poll_seconds if self.w.webhook else s.idle_poll_seconds
        )

    def next_idle_wait(self) -> float:
        """Polls slow down while nothing happens, and speed up again when work comes."""
        longest = self.longest_wait()
        wait = self.idle_wait
        # With a webhook, polling is only the fallback for a lost call: rare at once.
        self.idle_wait = longest if self.w.webhook else min(longest, self.idle_wait * 2)
        if self.wake_at is not None:  # a lease we saw runs out: look then
            until = (self.wake_at - self.queue.clock()).total_seconds()
            wait = min(wait, max(until, self.w.settings.poll_seconds))
        budget = governor().snapshot()
        if budget.api_calls_5min > 0.8 * budget.api_limit_5min:  # the token is shared
            wait = max(wait, longest)
        held = budget.blocked_until.get(self.w.config.storage.queue_repo or "", 0.0)
        return max(wait, self.control.commits_paused(), held - time.time())

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
        if time.monotonic() < self.contended_until:  # once a batch: when the next may ride
            ready = not self.waiting() if self.leasing else not self.inflight
            return ready or time.monotonic() - self.first_done >= CONTENDED_FLUSH_SECONDS
        return (
            not self.inflight
            or len(self.done) >= self.w.config.queue.claim_batch
            or time.monotonic() - self.first_done >= FLUSH_SECONDS
        )

    def busy_wait(self) -> float:
        wait = self.w.settings.poll_seconds
        if self.done:
            longest = (
                CONTENDED_FLUSH_SECONDS
                if time.monotonic() < self.contended_until
                else FLUSH_SECONDS
            )
            wait = min(wait, max(0.0, longest - (time.monotonic() - self.first_done)))
        return max(wait, min(self.control.commits_paused(), self.w.settings.poll_seconds), 0.01)

    # ---- committing ------------------------------------------------------------------

    def flush(self) -> bool:
        """Settle what is scored in one commit; give back held jobs that were not scored."""
        if self.control.commits_paused():
            return False
        outcomes = [(e, o) for e, o in self.done if o is not None]
        scored = [o for _, o in outcomes if isinstance(o, Scored)]
        failed = {e.job_id: o for e, o in outcomes if isinstance(o, JobError)}
        direct = [self.direct[e.job_id] for e, _ in outcomes if e.job_id in self.direct]
        asked = [e.job_id for e, _ in outcomes]
        started = time.monotonic()
        riding = self.leasing and not self.control.stopping and not self.waiting()
        take = self.sized(self.base()) if riding else 0
        try:
            if asked or take:
                moved, more = self.queue.settle_and_claim(
                    self.w.worker_id,
                    scored,
                    failed,
                    direct,
                    take=take,
                    submitted_by=self.cutoff,
                    spread=True,
                )
            else:
                moved, more = [], None
        except Exception as exc:
            wait = self.control.commit_failed(exc, ERROR_PAUSE)
            log.warning(
                "could not commit %d outcome(s) (%s); next try in %.0f s", len(asked), exc, wait
            )
            return False
        self.w.stats["settles"] += bool(asked)
        self.w.report(moved, asked, "settled", started)
        lost_direct = {j for j in asked if j in self.direct} - {e.job_id for e in moved}
        if lost_direct:  # another worker is scoring the same jobs: lease for a while
            self.contended_until = time.monotonic() + CONTENTION_SECONDS
            self.w.stats["lost"] += len(lost_direct)
        unscored = [e.job_id for e, o in self.done if o is None and e.job_id not in self.direct]
        for job_id in asked + [e.job_id for e, _ in self.done]:
            self.direct.pop(job_id, None)
        self.done = []
        self.w.release(unscored)
        self.must_look = True  # failed jobs may be back in PENDING for another try
        if more is not None and take:
            self.batch = take
            self.took_leased(more)
            self.submit(more.jobs)
            self.leasing = bool(more.jobs)
        return True

    def publish_due(self) -> bool:
        """Results commits are batched: when the worker is idle, or a result has waited."""
        if not self.queue.owed or self.control.commits_paused():
            self.owed_since = None
            return False
        if self.owed_since is None:
            self.owed_since = time.monotonic()
        idle = not self.inflight and not self.done
        longest = PUBLISH_SECONDS
        if time.monotonic() < self.contended_until:  # every worker publishes: less often
            longest = CONTENDED_PUBLISH_SECONDS
        return idle or time.monotonic() - self.owed_since >= longest

    def publish(self) -> None:
        self.owed_since = None
        if not self.queue.publish():
            self.control.commit_failed(self.queue.publish_error or Exception(), ERROR_PAUSE)

    def reconcile(self) -> None:
        """At start, then hourly when idle: repair results after a crash somewhere."""
        if self.once and self.reconciled_at >= 0:
            return
        if time.monotonic() - self.reconciled_at < RECONCILE_SECONDS:
            return
        self.reconciled_at = time.monotonic()
        try:
            found = self.queue.reconcile()
        except Exception as exc:
            log.warning("could not check the results against the queue: %s", exc)
            return
        if found.added or found.removed:
            log.warning("results repaired: %s", found.describe())

    def protect(self) -> None:
        """Direct jobs that run too long get a lease after all, so nobody else takes them."""
        limit = self.w.settings.direct_seconds
        if not self.direct or time.monotonic() - self.direct_since < limit:
            return
        if self.control.commits_paused():
            return
        settled = {e.job_id for e, _ in self.done}
        pending = [e for j, e in self.direct.items() if j not in settled]
        if not pending:
            return
        try:
            claimed = self.queue.claim(self.w.worker_id, only=pending).jobs
        except Exception as exc:
            self.control.commit_failed(exc, ERROR_PAUSE)
            log.warning("could not lease %d long job(s): %s", len(pending), exc)
            return
        self.w.hold(claimed)
        for e in pending:
            self.direct.pop(e.job_id, None)
        lost = {e.job_id for e in pending} - {e.job_id for e in claimed}
        if lost:  # someone else took them: our scoring of them is wasted
            self.contended_until = time.monotonic() + CONTENTION_SECONDS
            self.w.stats["lost"] += len(lost)
        log.info("leased %d job(s) that ran past %g s", len(claimed), limit)

    # ---- taking jobs -----------------------------------------------------------------

    def take(self) -> list[Entry] | None:
        """Take jobs when there may be work: one head read decides. None: unreachable."""
        w = self.w
        try:
            if self.lost_reply:
                self.submit(w.adopt())
                self.lost_reply = False
            head = self.queue.head()
            w.stats["polls"] += 1
            expired = self.wake_at is not None and self.queue.clock() >= self.wake_at
            if head == self.seen_head and not expired and not self.must_look:
                return []
            jobs = self.look_or_claim(self.base(), head)
        except Exception as exc:
            log.warning("could not reach the queue (%s); trying again at the next poll", exc)
            return None
        self.seen_head, self.must_look = head, False
        self.w.revision = head  # every job taken so far exists at this revision
        self.submit(jobs)
        return jobs

    def look_or_claim(self, limit: int, head: str) -> list[Entry]:
        """Score first when this worker can take every pending job and sees no other
        worker; otherwise (a burst, or company) claim with a lease, spread by hash.

        Scoring first saves the claim commit, but two workers scoring the same job
        waste one scoring. A worker alone in a trickle of jobs never does; a burst,
        or another worker's lease in sight, is when leasing pays."""
        w, s = self.w, self.w.settings
        now = time.monotonic()
        expected = w.expected_seconds(limit)
        if (
            s.direct_seconds > 0
            and now >= self.contended_until
            and (expected is None or expected < s.direct_seconds)
        ):
            in_hand = frozenset(w.holds()) | frozenset(self.direct)
            seen = self.queue.look(w.worker_id, limit, self.cutoff, skip=in_hand, at=head)
            self.wake_at = seen.wake_at
            if seen.others:
                self.contended_until = now + CONTENTION_SECONDS
            alone_in_a_trickle = not seen.others and seen.pending <= len(seen.jobs)
            if not seen.expired and alone_in_a_trickle:
                self.leasing = False
                if seen.jobs and not self.direct:
                    self.direct_since = now
                self.direct.update({e.job_id: e for e in seen.jobs})
                return seen.jobs
            if not seen.jobs and not seen.expired:
                return []
        limit = self.sized(limit)
        if not self.inflight and not self.done:
            # Starting (or woken) into a backlog: so might other workers be, at the same
            # moment. A random pause first keeps their first commits from all colliding.
            self.control.wait(random.uniform(0.0, STAGGER_SECONDS))
        try:
            claimed = self.queue.claim(w.worker_id, limit, self.cutoff, spread=True)
        except Exception as exc:
            self.lost_reply = True  # it may have landed: look for our jobs before the next claim
            self.control.commit_failed(exc, s.poll_seconds)
            raise
        self.batch = limit
        self.took_leased(claimed)
        return claimed.jobs

    def base(self) -> int:
        """The smallest batch worth a commit."""
        return max(self.w.concurrency, self.w.config.queue.claim_batch)

    def sized(self, limit: int) -> int:
        """Quick jobs: a bigger batch spreads each commit wider, most of all with
        company, where commits collide; still short enough not to need a renewal."""
        w, s = self.w, self.w.settings
        if w.expected_seconds(limit) is None:
            return limit
        contended = time.monotonic() < self.contended_until
        for factor in (16, 4):
            if (factor < 16 or contended) and (
                w.expected_seconds(limit * factor) or 0.0
            ) < s.direct_seconds:
                limit *= factor
                break
        if contended:  # workers that started together drift apart instead of committing together
            limit = round(limit * random.uniform(0.75, 1.25))
        return limit

    def took_leased(self, claimed: Claimed) -> None:
        w = self.w
        w.stats["claims"] += 1
        w.hold(claimed.jobs)
        for e in claimed.jobs:
            log.info("job %s claimed (attempt %d)", e.job_id, e.attempts)
        self.wake_at = claimed.wake_at
        self.leasing = bool(claimed.jobs)
        if claimed.others:
            self.contended_until = time.monotonic() + CONTENTION_SECONDS

    def submit(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.inflight[self.pool.submit(self.score, entry)] = entry

    def shutdown(self) -> None:
        """Kill scoring children, commit what is scored, give back the rest."""
        self.control.cancel.set()
        back = []
        for future, entry in self.inflight.items():
            if future.cancel():  # never started
                back.append(entry.job_id)
            else:
                self.done.append((entry, future.result()))
        self.inflight.clear()
        if self.done and not self.flush():
            back += [e.job_id for e, o in self.done if o is not None]
        self.w.release([j for j in back if j not in self.direct])
        if self.queue.owed:
            self.queue.publish()
