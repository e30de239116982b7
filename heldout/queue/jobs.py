"""`JobQueue`: every transition of a job, each one CAS commit over any `Store`.

Methods that act on several jobs (claim, finish, fail, renew, release) put all of
them in one commit: that is how a worker spends far fewer commits than jobs. What
each move does to an entry is in `moves`; this module decides which moves to make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from heldout.config import Config
from heldout.errors import InvalidTransition, JobNotFound, NotAllowed, QueueError
from heldout.queue import moves
from heldout.queue.entry import Entry, JobError, iso, job_time, new_job_id, parse_iso, utcnow
from heldout.queue.results import Results, result_row
from heldout.queue.splits import SplitScore
from heldout.queue.status import Action, JobStatus, status_path
from heldout.queue.store import Store
from heldout.queue.submission import Submission, accept
from heldout.queue.txn import Txn, hash_path, transact
from heldout.queue.users import Quota, user_path

T = TypeVar("T")
OUT_OF_ATTEMPTS = moves.OUT_OF_ATTEMPTS  # the reason a submitter reads; tests check it


@dataclass(frozen=True)
class Scored:
    """A worker's result for one job it holds."""

    job_id: str
    scores: dict[str, float]
    test_fingerprint: str
    evaluator_version: str
    split_scores: tuple[SplitScore, ...] = ()  # every split's; the private ones stay private


@dataclass(frozen=True)
class Claimed:
    jobs: list[Entry]
    wake_at: datetime | None  # the earliest lease among other workers' jobs


class JobQueue:
    def __init__(
        self,
        store: Store,
        config: Config,
        results: Results | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.results = results
        self.clock = clock

    def _txn(self) -> Txn:
        return Txn(self.store, self.config.benchmark.primary_metric)

    def _transact(self, work: Callable[[Txn], T], message: str) -> T:
        return transact(self.store, self.config.benchmark.primary_metric, work, message)

    # ---- reads -------------------------------------------------------------------

    def get(self, job_id: str) -> Entry:
        return self._txn().entry(job_id)

    def ids(self, status: JobStatus) -> list[str]:
        """Cheap: one listing of one status folder, oldest first."""
        return self._txn().list(status)

    def jobs(self, status: JobStatus | None = None, user: str | None = None) -> list[Entry]:
        txn = self._txn()
        if user is not None:
            index = txn.user(user).jobs
            where = {job_id: JobStatus(job.status) for job_id, job in index.items()}
            txn.prefetch([status_path(s, j) for j, s in where.items()])  # one request on the Hub
            found = [txn.entry(job_id, hint) for job_id, hint in where.items()]
            return sorted(
                (e for e in found if status is None or e.status is status), key=lambda e: e.job_id
            )
        listed = [(j, s) for s in ([status] if status else list(JobStatus)) for j in txn.list(s)]
        txn.prefetch([status_path(s, j) for j, s in listed])
        return [txn.listed_entry(j, s) for j, s in listed]

    def user_jobs(self, user: str) -> list[Entry]:
        return self.jobs(user=user)

    def quota(self, user: str) -> Quota:
        return self._txn().user(user).quota(self.config.limits.submissions_per_day, self.clock())

    def positions(self) -> dict[str, int]:
        """Place in line (1 = next) of every PENDING job: one listing."""
        return {job_id: n for n, job_id in enumerate(self.ids(JobStatus.PENDING), start=1)}

    # ---- submitting --------------------------------------------------------------

    def submit(self, sub: Submission) -> Entry:
        outcome = self.submit_many([sub])[0]
        if isinstance(outcome, QueueError):
            raise outcome
        return outcome

    def submit_many(self, subs: list[Submission]) -> list[Entry | QueueError]:
        """One commit for all; each submission gets its own entry or its own refusal.

        Ids are chosen once, outside the retry loop, so a commit that landed although
        its reply was lost is recognised on the retry instead of being made twice."""
        now = self.clock()
        job_ids = [new_job_id(now) for _ in subs]

        def work(txn: Txn) -> list[Entry | QueueError]:
            txn.prefetch(
                [user_path(s.submitter) for s in subs] + [hash_path(s.sha256) for s in subs]
            )
            outcomes: list[Entry | QueueError] = []
            for sub, job_id in zip(subs, job_ids, strict=True):
                try:
                    outcomes.append(accept(txn, sub, self.config, now, job_id))
                except QueueError as exc:
                    outcomes.append(exc)
            return outcomes

        return self._transact(work, f"Submit {len(subs)} job(s)")

    # ---- the worker's side -------------------------------------------------------

    def claim(
        self, worker: str, limit: int | None = None, submitted_by: datetime | None = None
    ) -> Claimed:
        """Take up to `limit` PENDING jobs, or RUNNING ones whose lease ran out.

        With `submitted_by`, only jobs submitted by then (a burst run's start) are
        taken, so a `--once` worker ends even while new jobs keep arriving."""
        limit = limit or self.config.queue.claim_batch
        q = self.config.queue
        cutoff = (lambda job_id: job_time(job_id) <= submitted_by) if submitted_by else None

        def work(txn: Txn) -> Claimed:
            now = self.clock()
            taken: list[Entry] = []
            wake: datetime | None = None
            running = txn.list(JobStatus.RUNNING)
            pending = [j for j in txn.list(JobStatus.PENDING) if cutoff is None or cutoff(j)]
            txn.prefetch(
                [status_path(JobStatus.RUNNING, j) for j in running]
                + [status_path(JobStatus.PENDING, j) for j in pending[:limit]]
            )
            for job_id in running:
                entry = txn.listed_entry(job_id, JobStatus.RUNNING)
                expires = parse_iso(entry.lease_expires_at) if entry.lease_expires_at else now
                if expires > now:
                    wake = min(wake or expires, expires)
                elif entry.attempts >= q.max_attempts:
                    txn.put(moves.out_of_attempts(entry, worker, now))
                elif len(taken) < limit:
                    moved = moves.taken(entry, Action.RECLAIM, worker, now, q.lease_seconds)
                    taken.append(txn.put(moved))
            for job_id in pending[: limit - len(taken)]:
                entry = txn.listed_entry(job_id, JobStatus.PENDING)
                taken.append(
                    txn.put(moves.taken(entry, Action.CLAIM, worker, now, q.lease_seconds))
                )
            return Claimed(taken, wake)

        return self._transact(work, f"Claim jobs for {worker}")

    def _held(self, txn: Txn, job_ids: list[str], worker: str) -> list[Entry]:
        """The jobs this worker still holds; others were reclaimed, requeued or cancelled."""
        txn.prefetch([status_path(JobStatus.RUNNING, j) for j in job_ids])
        held = []
        for job_id in job_ids:
            try:
                entry = txn.entry(job_id, JobStatus.RUNNING)
            except JobNotFound:
                continue
            if entry.status is JobStatus.RUNNING and entry.worker == worker:
                held.append(entry)
        txn.prefetch([user_path(e.submitter) for e in held])  # every move rewrites them
        return held

    def _each_held(
        self, worker: str, job_ids: list[str], move: Callable[[Entry], Entry], message: str
    ) -> list[Entry]:
        def work(txn: Txn) -> list[Entry]:
            return [txn.put(move(e)) for e in self._held(txn, job_ids, worker)]

        return self._transact(work, message)

    def renew(self, worker: str, job_ids: list[str]) -> list[Entry]:
        now, lease = self.clock(), self.config.queue.lease_seconds
        return self._each_held(
            worker,
            job_ids,
            lambda e: moves.renewed(e, worker, now, lease),
            f"Renew leases for {worker}",
        )

    def release(self, worker: str, job_ids: list[str], note: str = "released") -> list[Entry]:
        """Give jobs back untouched (a clean shutdown); the attempt does not count."""
        return self._each_held(
            worker,
            job_ids,
            lambda e: moves.released(e, worker, note, count_attempt=False),
            f"Release jobs of {worker}",
        )

    def fail(self, worker: str, failures: dict[str, JobError]) -> list[Entry]:
        """User errors fail at once; ours retry until attempts run out, then fail with
        the quota given back."""
        now, limit = self.clock(), self.config.queue.max_attempts
        return self._each_held(
            worker,
            list(failures),
            lambda e: moves.after_failure(e, failures[e.job_id], worker, now, limit),
            f"Fail jobs for {worker}",
        )

    def finish(self, worker: str, scored: list[Scored]) -> list[Entry]:
        """Publish results, then move jobs to FINISHED; flagged ones wait in REVIEW unpublished.

        The result is written before the status moves, and both are idempotent, so a
        worker that dies between the two loses nothing.
        """
        by_id = {s.job_id: s for s in scored}
        now = iso(self.clock())

        def decide(txn: Txn) -> list[Entry]:
            best = self.config.benchmark.higher_is_better
            return [
                moves.scored(
                    e,
                    by_id[e.job_id].scores,
                    by_id[e.job_id].test_fingerprint,
                    by_id[e.job_id].evaluator_version,
                    txn.user(e.submitter).best_score(best),
                    self.config,
                    worker,
                    now,
                    split_scores=by_id[e.job_id].split_scores,
                )
                for e in self._held(txn, list(by_id), worker)
            ]

        self._publish([e for e in decide(self._txn()) if e.status is JobStatus.FINISHED])
        return self._transact(
            lambda txn: [txn.put(e) for e in decide(txn)],
            f"Finish {len(scored)} job(s) for {worker}",
        )

    def _publish(self, entries: list[Entry]) -> None:
        if not entries:
            return
        if self.results is None:
            raise QueueError("this queue has no results store to publish to")
        self.results.upsert([result_row(e, self.config.benchmark) for e in entries])

    # ---- people's actions --------------------------------------------------------

    def cancel(self, job_id: str, user: str) -> Entry:
        """A submitter withdraws a job that has not started; the quota comes back."""

        def work(txn: Txn) -> Entry:
            entry = txn.entry(job_id, JobStatus.PENDING)
            if entry.submitter != user:
                raise NotAllowed("you can only cancel your own submissions")
            if entry.status is not JobStatus.PENDING:
                raise InvalidTransition(
                    f"job {job_id} is {entry.status}; only PENDING jobs can be cancelled"
                )
            return txn.put(moves.cancelled(entry, user, self.clock()))

        return self._transact(work, f"Cancel {job_id}")

    def requeue(self, job_id: str, by: str) -> Entry:
        """A maintainer sends a job back to the queue, with a fresh set of attempts."""
        return self.requeue_many([job_id], by)[0]

    def requeue_many(self, job_ids: list[str], by: str) -> list[Entry]:
        """Requeue several jobs in one commit (rescoring after a scorer fix, say)."""

        def work(txn: Txn) -> list[Entry]:
            return [txn.put(moves.requeued(txn.entry(job_id), by)) for job_id in job_ids]

        return self._transact(work, f"Requeue {len(job_ids)} job(s)")

    def _reviewer(self, who: str) -> None:
        # Checked here, on the server side, whatever the UI showed.
        if who not in self.config.review.reviewers:
            raise NotAllowed(f"{who} is not a reviewer of this benchmark")

    def approve(self, job_id: str, reviewer: str, note: str = "") -> Entry:
        """A scored job is published, then FINISHED; an unscored one goes on to be scored."""
        self._reviewer(reviewer)
        entry = self._txn().entry(job_id, JobStatus.REVIEW)
        if entry.status is JobStatus.REVIEW and entry.scores is not None:
            self._publish([moves.approved(entry, reviewer, note, self.clock())])
        return self._decide(
            job_id, "approved", reviewer, lambda e: moves.approved(e, reviewer, note, self.clock())
        )

    def reject(self, job_id: str, reviewer: str, reason: str) -> Entry:
        """The reviewer's reason is what the submitter will read."""
        self._reviewer(reviewer)
        reason = (reason or "").strip()
        if not reason:
            raise QueueError("a rejection needs a reason; the submitter will read it")
        return self._decide(
            job_id,
            "rejected",
            reviewer,
            lambda e: moves.rejected(e, reviewer, reason, self.clock()),
        )

    def _decide(
        self, job_id: str, decision: str, reviewer: str, move: Callable[[Entry], Entry]
    ) -> Entry:
        """One reviewer decision as one commit; a retry of one that landed changes nothing."""

        def work(txn: Txn) -> Entry:
            entry = txn.entry(job_id, JobStatus.REVIEW)
            if moves.already_decided(entry, decision, reviewer):
                return entry
            return txn.put(move(entry))

        return self._transact(work, f"Review {job_id}: {decision}")
