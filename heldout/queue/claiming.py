"""The worker's side of a transaction: which jobs to take, and how to settle them.

Pure planning over a `Txn` (reads at one head, changes in memory); `JobQueue` runs
these inside its CAS transactions. Two ways to take a job:

- leased: CLAIM it in one commit (RUNNING, with a lease a heartbeat renews), score
  it, then settle it in another commit. Long jobs need this: nobody else takes a
  job whose lease holds.
- direct: look at PENDING jobs without a commit, score them, then settle with the
  claim and the result in ONE commit (PENDING -> RUNNING -> FINISHED). Only one
  commit can win a job, so publication stays exactly-once; a worker that loses the
  race has only wasted its scoring, and its loop then leases for a while.

Workers spread over disjoint jobs: `pick` orders a window of the oldest jobs by a
hash of (worker, job), so two workers looking at the same head take different jobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from heldout.config import Config
from heldout.queue import ladder, moves
from heldout.queue.entry import Entry, JobError, iso, parse_iso
from heldout.queue.release import Release
from heldout.queue.splits import SplitScore
from heldout.queue.status import Action, JobStatus, status_path
from heldout.queue.txn import Txn
from heldout.queue.users import user_path

SPREAD = 4  # with spreading on, a worker picks among the oldest SPREAD x limit jobs


@dataclass(frozen=True)
class Scored:
    """A job's result: the one place a scoring outcome travels through, from the
    scorer to the queue entry and on to the results row."""

    job_id: str
    scores: dict[str, float]  # the public split's (or the whole set's)
    test_fingerprint: str
    evaluator_version: str
    split_scores: tuple[SplitScore, ...] = ()  # every split's; the private ones stay private
    release: Release | None = None  # the Ladder's decision (release = "ladder" only)


@dataclass(frozen=True)
class Claimed:
    jobs: list[Entry]
    wake_at: datetime | None  # the earliest lease among other workers' jobs
    expired: bool = False  # a lease ran out: a leased claim is needed to take it over
    pending: int = 0  # PENDING jobs this worker could have taken (listed, not read)
    others: bool = False  # another worker holds a lease: this worker is not alone


def pick(job_ids: list[str], limit: int, worker: str, spread: bool) -> list[str]:
    """Up to `limit` of `job_ids` (oldest first). With `spread`, a worker-specific
    choice within the oldest SPREAD x limit, so racing workers take disjoint jobs."""
    if not spread:
        return job_ids[:limit]
    window = job_ids[: limit * SPREAD]
    ranked = sorted(window, key=lambda j: hashlib.sha256(f"{worker}/{j}".encode()).digest())
    return sorted(ranked[:limit])


Leases = dict[str, tuple[datetime, str]]  # RUNNING job -> (lease end, worker), as last read
LEASE_CHECKS = 4  # a busy worker reads other workers' new leases this many times a lease


@dataclass
class LeaseWatch:
    """What one worker knows of the RUNNING jobs' leases, and when it last read them all.

    Reading every lease costs a download per job per worker. A worker needs them to
    take over a dead worker's jobs, and to know when to look again; neither is urgent
    while PENDING work fills its claims. So a busy worker reads the leases it has
    never seen only every `lease_seconds / LEASE_CHECKS`, and a job whose lease ran
    out is taken over at most that much later."""

    known: Leases = field(default_factory=dict)
    checked_at: datetime | None = None

    def due(self, now: datetime, lease_seconds: float) -> bool:
        next_check = self.next_check(lease_seconds)
        return next_check is None or now >= next_check

    def next_check(self, lease_seconds: float) -> datetime | None:
        if self.checked_at is None:
            return None
        return self.checked_at + timedelta(seconds=lease_seconds / LEASE_CHECKS)

    def saw(self, entries: list[Entry]) -> None:
        """Leases this worker itself just committed: no need to read them back."""
        for e in entries:
            if e.status is JobStatus.RUNNING and e.lease_expires_at and e.worker:
                self.known[e.job_id] = (parse_iso(e.lease_expires_at), e.worker)


def _leases(
    txn: Txn, running: list[str], now: datetime, worker: str, watch: LeaseWatch, lease: float
) -> tuple[list[Entry], datetime | None, bool]:
    """RUNNING entries whose lease ran out, the earliest lease still holding, and
    whether another worker holds one.

    A lease only ever moves later (renewals; a new claim is a new, later lease), so a
    lease read earlier that has not run out yet still holds: only jobs never seen, or
    seen with a lease now over, are read again, and the never-seen ones only when the
    watch is due (the earliest lease then includes that next check). Other workers'
    busy jobs cost nothing."""
    full = watch.due(now, lease)
    known = watch.known
    for job_id in [j for j in known if j not in running]:
        del known[job_id]
    unknown = [
        j
        for j in running
        if (full and j not in known) or (j in known and known[j][0] <= now) or txn.has(j)
    ]
    txn.prefetch([status_path(JobStatus.RUNNING, j) for j in unknown])
    expired, wake, others = [], None, False
    for job_id in running:
        if job_id in unknown:
            entry = txn.listed_entry(job_id, JobStatus.RUNNING)
            if entry.status is not JobStatus.RUNNING:  # settled earlier in this transaction
                continue
            ends = parse_iso(entry.lease_expires_at) if entry.lease_expires_at else now
            known[job_id] = (ends, entry.worker or "")
            if ends <= now:
                expired.append(entry)
                continue
        if job_id not in known:  # not read yet: somebody else's, as ours are all known
            others = True
            check = watch.next_check(lease) or now  # look again when the watch is due
            wake = min(wake or check, check)
            continue
        ends, holder = known[job_id]
        wake = min(wake or ends, ends)
        others = others or holder != worker
    if full:
        watch.checked_at = now
    return expired, wake, others


def claim(
    txn: Txn,
    worker: str,
    config: Config,
    now: datetime,
    limit: int,
    accept: Callable[[str], bool],
    spread: bool = False,
    only: dict[str, Entry] | None = None,
    watch: LeaseWatch | None = None,
) -> Claimed:
    """Lease up to `limit` jobs: expired RUNNING ones first, then PENDING ones.

    With `only`, exactly those jobs, if each is still the version given (a direct
    job that runs long enough to need a lease)."""
    q = config.queue
    if only is not None:
        txn.prefetch([status_path(JobStatus.PENDING, j) for j in only])
        taken = []
        for seen in only.values():
            entry = _unchanged(txn, seen)
            if entry is not None:
                taken.append(
                    txn.put(moves.taken(entry, Action.CLAIM, worker, now, q.lease_seconds))
                )
        return Claimed(taken, None)
    running = txn.list(JobStatus.RUNNING)
    listed = [j for j in txn.list(JobStatus.PENDING) if accept(j)]
    # The Ladder judges a submitter's jobs in submission (id) order: oldest first, no spread.
    spread = spread and config.review.release != "ladder"
    pending = pick(listed, limit, worker, spread)
    txn.prefetch([status_path(JobStatus.PENDING, j) for j in pending])
    watch = watch or LeaseWatch()
    expired, wake, others = _leases(txn, running, now, worker, watch, q.lease_seconds)
    taken: list[Entry] = []
    for entry in expired:
        if entry.attempts >= q.max_attempts:
            txn.put(moves.out_of_attempts(entry, worker, now))
        elif len(taken) < limit:
            taken.append(txn.put(moves.taken(entry, Action.RECLAIM, worker, now, q.lease_seconds)))
    for job_id in pending[: limit - len(taken)]:
        entry = txn.listed_entry(job_id, JobStatus.PENDING)
        taken.append(txn.put(moves.taken(entry, Action.CLAIM, worker, now, q.lease_seconds)))
    return Claimed(taken, wake, pending=len(listed), others=others)


def look(
    txn: Txn,
    worker: str,
    now: datetime,
    limit: int,
    accept: Callable[[str], bool],
    spread: bool,
    watch: LeaseWatch | None = None,
    lease_seconds: float = 0.0,
) -> Claimed:
    """PENDING jobs to score directly, with no commit. `expired` says a lease ran out
    (taking that job over needs a leased claim)."""
    running = txn.list(JobStatus.RUNNING)
    listed = [j for j in txn.list(JobStatus.PENDING) if accept(j)]
    pending = pick(listed, limit, worker, spread)
    txn.prefetch([status_path(JobStatus.PENDING, j) for j in pending])
    watch = watch or LeaseWatch()
    expired, wake, others = _leases(txn, running, now, worker, watch, lease_seconds)
    jobs = [txn.listed_entry(j, JobStatus.PENDING) for j in pending]
    return Claimed(jobs, wake, bool(expired), len(listed), others)


def _unchanged(txn: Txn, seen: Entry) -> Entry | None:
    """The job as of the parent, if it is still exactly the version `seen`."""
    entry = txn.entry_at(seen.job_id, seen.status)
    same = entry is not None and entry.history[-1:] == seen.history[-1:]
    return entry if same else None


def held(txn: Txn, job_ids: list[str], worker: str) -> list[Entry]:
    """The jobs this worker still holds; others were reclaimed, requeued or cancelled."""
    txn.prefetch([status_path(JobStatus.RUNNING, j) for j in job_ids])
    found = [txn.entry_at(job_id, JobStatus.RUNNING) for job_id in job_ids]
    return [e for e in found if e is not None and e.worker == worker]


def settle(
    txn: Txn,
    worker: str,
    config: Config,
    now: datetime,
    scored: dict[str, Scored],
    failed: dict[str, JobError],
    direct: dict[str, Entry],
) -> list[Entry]:
    """Finish the scored jobs and fail (or retry) the failed ones, all in this txn.

    A job in `direct` was never claimed: it is claimed here, in the same commit,
    if it is still the version the worker scored. Any other job must be RUNNING
    under this worker. Jobs that are neither were lost and are left alone."""
    q = config.queue
    wanted = [*scored, *failed]
    txn.prefetch([status_path(JobStatus.PENDING, j) for j in wanted if j in direct])
    mine = {e.job_id: e for e in held(txn, [j for j in wanted if j not in direct], worker)}
    for job_id in wanted:
        if job_id in direct and (entry := _unchanged(txn, direct[job_id])) is not None:
            mine[job_id] = txn.put(moves.taken(entry, Action.CLAIM, worker, now, q.lease_seconds))
    if txn.scores:  # the rules read each user's best, and a result rewrites the index
        txn.prefetch([user_path(e.submitter) for e in mine.values()])
    # The Ladder: a decision judged in a state of the submitter's Ladder that is no longer
    # the queue's goes back to PENDING, to be judged again (see queue/ladder.py).
    stale = ladder.stale(
        txn, {j: (e.submitter, scored[j].release) for j, e in mine.items() if j in scored}
    )
    best = config.benchmark.higher_is_better
    done = []
    for job_id in wanted:
        entry = mine.get(job_id)
        if entry is None:
            continue
        if job_id in stale:
            done.append(
                txn.put(moves.released(entry, worker, ladder.STALE_NOTE, count_attempt=False))
            )
            continue
        if job_id in scored:
            s = scored[job_id]
            before = txn.user(entry.submitter).best_score(best) if txn.scores else None
            moved = moves.scored(
                entry,
                s.scores,
                s.test_fingerprint,
                s.evaluator_version,
                before,
                config,
                worker,
                iso(now),
                split_scores=s.split_scores,
                release=s.release,
            )
        else:
            moved = moves.after_failure(entry, failed[job_id], worker, now, q.max_attempts)
        done.append(txn.put(moved))
    return done
