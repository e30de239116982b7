"""`JobQueue`: every transition of a job, each one CAS commit over any `Store`.

Methods that act on several jobs (claim, finish, fail, renew, release) put all of
them in one commit: that is how a worker spends far fewer commits than jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from heldout.config import Config
from heldout.errors import InvalidTransition, JobNotFound, NotAllowed, QueueError
from heldout.queue.entry import Decision, Entry, ErrorKind, JobError, iso, parse_iso, utcnow
from heldout.queue.results import Results, result_row
from heldout.queue.rules import PostContext, post_flags
from heldout.queue.status import Action, JobStatus
from heldout.queue.store import Store
from heldout.queue.submission import Submission, accept
from heldout.queue.txn import Txn, transact
from heldout.queue.users import Quota

OUT_OF_ATTEMPTS = (
    "the evaluation did not complete after {n} attempts; the maintainers have been told"
)


@dataclass(frozen=True)
class Scored:
    """A worker's result for one job it holds."""

    job_id: str
    scores: dict[str, float]
    test_fingerprint: str
    evaluator_version: str


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

    def _transact(self, work: Callable[[Txn], object], message: str):  # noqa: ANN202
        return transact(self.store, self.config.benchmark.primary_metric, work, message)

    # ---- reads -------------------------------------------------------------------

    def get(self, job_id: str) -> Entry:
        return Txn(self.store, self.config.benchmark.primary_metric).entry(job_id)

    def ids(self, status: JobStatus) -> list[str]:
        """Cheap: one listing of one status folder, oldest first."""
        return Txn(self.store, self.config.benchmark.primary_metric).list(status)

    def jobs(self, status: JobStatus | None = None, user: str | None = None) -> list[Entry]:
        txn = Txn(self.store, self.config.benchmark.primary_metric)
        if user is not None:
            found = [txn.entry(j, JobStatus(v.status)) for j, v in txn.user(user).jobs.items()]
            return sorted(
                (e for e in found if status is None or e.status is status), key=lambda e: e.job_id
            )
        statuses = [status] if status else list(JobStatus)
        return [txn.listed_entry(j, s) for s in statuses for j in txn.list(s)]

    def user_jobs(self, user: str) -> list[Entry]:
        return self.jobs(user=user)

    def quota(self, user: str) -> Quota:
        txn = Txn(self.store, self.config.benchmark.primary_metric)
        return txn.user(user).quota(self.config.limits.submissions_per_day, self.clock())

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
        """One commit for all; each submission gets its own entry or its own refusal."""

        def work(txn: Txn) -> list[Entry | QueueError]:
            now = self.clock()
            outcomes: list[Entry | QueueError] = []
            for sub in subs:
                try:
                    outcomes.append(accept(txn, sub, self.config, now))
                except QueueError as exc:
                    outcomes.append(exc)
            return outcomes

        return self._transact(work, f"Submit {len(subs)} job(s)")

    # ---- the worker's side -------------------------------------------------------

    def claim(self, worker: str, limit: int | None = None) -> Claimed:
        """Take up to `limit` PENDING jobs, or RUNNING ones whose lease ran out."""
        limit = limit or self.config.queue.claim_batch
        lease = timedelta(seconds=self.config.queue.lease_seconds)

        def work(txn: Txn) -> Claimed:
            now = self.clock()
            taken: list[Entry] = []
            wake: datetime | None = None
            for job_id in txn.list(JobStatus.RUNNING):
                entry = txn.listed_entry(job_id, JobStatus.RUNNING)
                expires = parse_iso(entry.lease_expires_at) if entry.lease_expires_at else now
                if expires > now:
                    wake = min(wake or expires, expires)
                elif entry.attempts >= self.config.queue.max_attempts:
                    self._give_up(txn, entry, worker)
                elif len(taken) < limit:
                    taken.append(self._take(txn, entry, Action.RECLAIM, worker, now + lease))
            for job_id in txn.list(JobStatus.PENDING)[: limit - len(taken)]:
                entry = txn.listed_entry(job_id, JobStatus.PENDING)
                taken.append(self._take(txn, entry, Action.CLAIM, worker, now + lease))
            return Claimed(taken, wake)

        return self._transact(work, f"Claim jobs for {worker}")

    def _take(self, txn: Txn, entry: Entry, action: Action, worker: str, until: datetime) -> Entry:
        moved = entry.moved(
            action,
            JobStatus.RUNNING,
            by=worker,
            note=f"attempt {entry.attempts + 1}",
            worker=worker,
            attempts=entry.attempts + 1,
            lease_expires_at=iso(until),
            started_at=iso(self.clock()),
        )
        return txn.put(moved)

    def _give_up(self, txn: Txn, entry: Entry, by: str) -> None:
        n = entry.attempts
        error = JobError(ErrorKind.INFRASTRUCTURE, OUT_OF_ATTEMPTS.format(n=n))
        txn.put(self._failed(entry, Action.EXPIRE, error, by), refund=True)

    def _failed(
        self, entry: Entry, action: Action, error: JobError, by: str, **extra: object
    ) -> Entry:
        return entry.moved(
            action,
            JobStatus.FAILED,
            by=by,
            note=error.kind.value,
            error=error,
            worker=None,
            lease_expires_at=None,
            finished_at=iso(self.clock()),
            **extra,
        )

    def _held(self, txn: Txn, job_ids: list[str], worker: str) -> list[Entry]:
        """The jobs this worker still holds; others were reclaimed, requeued or cancelled."""
        held = []
        for job_id in job_ids:
            try:
                entry = txn.entry(job_id, JobStatus.RUNNING)
            except JobNotFound:
                continue
            if entry.status is JobStatus.RUNNING and entry.worker == worker:
                held.append(entry)
        return held

    def renew(self, worker: str, job_ids: list[str]) -> list[Entry]:
        until = iso(self.clock() + timedelta(seconds=self.config.queue.lease_seconds))

        def work(txn: Txn) -> list[Entry]:
            return [
                txn.put(
                    e.moved(
                        Action.RENEW,
                        JobStatus.RUNNING,
                        worker,
                        "lease renewed",
                        lease_expires_at=until,
                    )
                )
                for e in self._held(txn, job_ids, worker)
            ]

        return self._transact(work, f"Renew leases for {worker}")

    def release(self, worker: str, job_ids: list[str], note: str = "released") -> list[Entry]:
        """Give jobs back untouched (a clean shutdown); the attempt does not count."""

        def work(txn: Txn) -> list[Entry]:
            return [
                txn.put(
                    e.moved(
                        Action.RELEASE,
                        JobStatus.PENDING,
                        worker,
                        note,
                        worker=None,
                        lease_expires_at=None,
                        attempts=max(0, e.attempts - 1),
                    )
                )
                for e in self._held(txn, job_ids, worker)
            ]

        return self._transact(work, f"Release jobs of {worker}")

    def fail(self, worker: str, failures: dict[str, JobError]) -> list[Entry]:
        """User errors fail at once. Errors that are ours retry until attempts run out,
        then fail with the quota given back."""

        def work(txn: Txn) -> list[Entry]:
            out = []
            for entry in self._held(txn, list(failures), worker):
                error = failures[entry.job_id]
                if error.kind is ErrorKind.USER:
                    out.append(txn.put(self._failed(entry, Action.FAIL, error, worker)))
                elif entry.attempts < self.config.queue.max_attempts:
                    again = entry.moved(
                        Action.RELEASE,
                        JobStatus.PENDING,
                        worker,
                        f"retry after {error.kind.value} error",
                        worker=None,
                        lease_expires_at=None,
                    )
                    out.append(txn.put(again))
                else:
                    out.append(
                        txn.put(self._failed(entry, Action.FAIL, error, worker), refund=True)
                    )
            return out

        return self._transact(work, f"Fail jobs for {worker}")

    def finish(self, worker: str, scored: list[Scored]) -> list[Entry]:
        """Publish results, then move jobs to FINISHED; flagged ones wait in REVIEW unpublished.

        The result is written before the status moves, and both are idempotent, so a
        worker that dies between the two loses nothing.
        """
        by_id = {s.job_id: s for s in scored}
        now = iso(self.clock())
        decided = self._decide(worker, by_id, now)
        rows = [
            result_row(e, self.config.benchmark) for e in decided if e.status is JobStatus.FINISHED
        ]
        if rows:
            self._results().upsert(rows)

        def work(txn: Txn) -> list[Entry]:
            return [txn.put(e) for e in self._decide(worker, by_id, now, txn)]

        return self._transact(work, f"Finish {len(scored)} job(s) for {worker}")

    def _decide(
        self, worker: str, by_id: dict[str, Scored], now: str, txn: Txn | None = None
    ) -> list[Entry]:
        txn = txn or Txn(self.store, self.config.benchmark.primary_metric)
        bench, out = self.config.benchmark, []
        for entry in self._held(txn, list(by_id), worker):
            s = by_id[entry.job_id]
            done = dict(
                worker=None,
                lease_expires_at=None,
                finished_at=now,
                scores=dict(s.scores),
                test_fingerprint=s.test_fingerprint,
                evaluator_version=s.evaluator_version,
            )
            ctx = PostContext(
                entry,
                float(s.scores[bench.primary_metric]),
                txn.user(entry.submitter).best_score(bench.higher_is_better),
                bench.higher_is_better,
                self.config.review,
            )
            flags = post_flags(ctx)
            if flags:
                out.append(
                    entry.moved(
                        Action.FLAG,
                        JobStatus.REVIEW,
                        worker,
                        "scored; held for review",
                        flags=entry.flags + flags,
                        **done,
                    )
                )
            else:
                out.append(entry.moved(Action.FINISH, JobStatus.FINISHED, worker, "scored", **done))
        return out

    def _results(self) -> Results:
        if self.results is None:
            raise QueueError("this queue has no results store to publish to")
        return self.results

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
            error = JobError(ErrorKind.CANCELLED, "cancelled by the submitter")
            return txn.put(self._failed(entry, Action.CANCEL, error, user), refund=True)

        return self._transact(work, f"Cancel {job_id}")

    def requeue(self, job_id: str, by: str) -> Entry:
        """A maintainer sends a job back to the queue, with a fresh set of attempts."""
        return self.requeue_many([job_id], by)[0]

    def requeue_many(self, job_ids: list[str], by: str) -> list[Entry]:
        """Requeue several jobs in one commit (rescoring after a scorer fix, say)."""

        def work(txn: Txn) -> list[Entry]:
            out = []
            for job_id in job_ids:
                entry = txn.entry(job_id)
                moved = entry.moved(
                    Action.REQUEUE,
                    JobStatus.PENDING,
                    by,
                    "requeued by a maintainer",
                    attempts=0,
                    worker=None,
                    lease_expires_at=None,
                    error=None,
                    finished_at=None,
                )
                out.append(txn.put(moved))
            return out

        return self._transact(work, f"Requeue {len(job_ids)} job(s)")

    def _reviewer(self, who: str) -> None:
        # Checked here, on the server side, whatever the UI showed.
        if who not in self.config.review.reviewers:
            raise NotAllowed(f"{who} is not a reviewer of this benchmark")

    def approve(self, job_id: str, reviewer: str, note: str = "") -> Entry:
        """A scored job is published; an unscored one goes on to be scored."""
        self._reviewer(reviewer)
        entry = Txn(self.store, self.config.benchmark.primary_metric).entry(
            job_id, JobStatus.REVIEW
        )
        if entry.status is JobStatus.REVIEW and entry.scores is not None:
            finished = entry.moved(Action.APPROVE, JobStatus.FINISHED, reviewer, note)
            self._results().upsert([result_row(finished, self.config.benchmark)])

        def work(txn: Txn) -> Entry:
            current = txn.entry(job_id, JobStatus.REVIEW)
            if _decided(current, "approved", reviewer):
                return current
            dst = JobStatus.FINISHED if current.scores is not None else JobStatus.PENDING
            decision = Decision("approved", reviewer, note[:500], iso(self.clock()))
            return txn.put(
                current.moved(Action.APPROVE, dst, reviewer, note or "approved", review=decision)
            )

        return self._transact(work, f"Approve {job_id}")

    def reject(self, job_id: str, reviewer: str, reason: str) -> Entry:
        """The reviewer's reason is what the submitter will read."""
        self._reviewer(reviewer)
        reason = (reason or "").strip()
        if not reason:
            raise QueueError("a rejection needs a reason; the submitter will read it")

        def work(txn: Txn) -> Entry:
            entry = txn.entry(job_id, JobStatus.REVIEW)
            if _decided(entry, "rejected", reviewer):
                return entry
            error = JobError(ErrorKind.REJECTED, f"rejected by a reviewer: {reason[:500]}")
            decision = Decision("rejected", reviewer, reason[:500], iso(self.clock()))
            return txn.put(self._failed(entry, Action.REJECT, error, reviewer, review=decision))

        return self._transact(work, f"Reject {job_id}")


def _decided(entry: Entry, decision: str, reviewer: str) -> bool:
    """True when this very decision already landed (a retried commit whose reply was lost)."""
    return (
        entry.status is not JobStatus.REVIEW
        and entry.review is not None
        and (entry.review.decision, entry.review.by) == (decision, reviewer)
    )
