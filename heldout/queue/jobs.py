"""`JobQueue`: every transition of a job, each one CAS commit over any `Store`.

Methods that act on several jobs (claim, settle, renew, release) put all of them in
one commit: that is how a worker spends far fewer commits than jobs. What each move
does to an entry is in `moves`, which jobs a worker takes is in `claiming`; this
module runs them in transactions, and after each commit hands what it made true to
the `Publisher`, so results rows follow the committed queue (see `publication`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from heldout.config import Config
from heldout.errors import (
    InvalidTransition,
    NotAllowed,
    NotFound,
    QueueDelayed,
    QueueError,
    TransientError,
)
from heldout.queue import claiming, moves
from heldout.queue.claiming import Claimed, Scored
from heldout.queue.entry import Entry, JobError, job_time, new_job_id, utcnow
from heldout.queue.governor import governor
from heldout.queue.publication import Publisher, Reconciled
from heldout.queue.results import Results
from heldout.queue.retry import http_status, retry_after
from heldout.queue.status import JobStatus, status_path
from heldout.queue.store import Store, commits_last_hour, read_many
from heldout.queue.submission import Submission, accept
from heldout.queue.txn import Txn, hash_path, retry_on_conflict, transact
from heldout.queue.users import IN_LINE, Quota, user_path

T = TypeVar("T")
OUT_OF_ATTEMPTS = moves.OUT_OF_ATTEMPTS  # the reason a submitter reads; tests check it
log = logging.getLogger("heldout.queue")

__all__ = ["Claimed", "JobQueue", "OUT_OF_ATTEMPTS", "Scored"]


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
        self.publisher = Publisher(results, config.benchmark) if results is not None else None
        self.publish_error: BaseException | None = None  # why the last publication failed
        self._watch = claiming.LeaseWatch()  # RUNNING jobs' leases as last read
        # The user indexes keep scores only when a rule reads them (see `users`).
        review = config.review
        self._scores = review.max_jump is not None or review.release == "ladder"
        # Publish right after each commit; a worker turns this off and publishes in
        # batches on its own schedule (`publish()`), so one results commit serves many.
        self.auto_publish = True

    def _txn(self, parent: str | None = None) -> Txn:
        return Txn(self.store, self.config.benchmark.primary_metric, parent, self._scores)

    def _transact(self, work: Callable[[Txn], T], message: str, recheck: bool = False) -> T:
        """Run `work` in a CAS transaction; then publish what its commit made true.
        `recheck`: a worker's transaction, which other workers may race (see `transact`)."""
        last: list[Txn] = []

        def tracked(txn: Txn) -> T:
            last[:] = [txn]
            return work(txn)

        primary = self.config.benchmark.primary_metric
        result = transact(self.store, primary, tracked, message, recheck, self._scores)
        txn = last[0]
        moved = [(txn.origin(j), e) for j, (_, e) in txn.changes.entries.items()]
        touches = any(JobStatus.FINISHED in (before, e.status) for before, e in moved)
        if touches and self.publisher is not None:
            self.publisher.committed(moved)
            if self.auto_publish:
                self.publish()
        return result

    # ---- publication -------------------------------------------------------------

    def publish(self) -> bool:
        """Write the results rows still owed (one commit). False if that failed: the
        rows stay owed, and the next call, or a reconcile, tries again."""
        if self.publisher is None or not self.publisher.owed:
            return True
        try:
            self.publisher.flush()
        except Exception as exc:  # the queue commit stands; the rows are still owed
            self.publish_error = exc
            log.warning("could not publish %d result(s) yet: %s", self.publisher.owed, exc)
            return False
        self.publish_error = None
        return True

    @property
    def owed(self) -> int:
        """Results rows the queue's committed state calls for but not yet written."""
        return self.publisher.owed if self.publisher is not None else 0

    def reconcile(self, deep: bool = False) -> Reconciled:
        """Repair drift between the queue and the results after a crash (see `publication`)."""
        if self.publisher is None:
            raise QueueError("this queue has no results store to reconcile")
        head = self.store.head()
        ids = self.ids(JobStatus.FINISHED)
        published = self.publisher.results.job_ids()
        wanted = ids if deep else [j for j in ids if j not in published]
        found = read_many(self.store, [status_path(JobStatus.FINISHED, j) for j in wanted], head)
        finished: dict[str, Entry | None] = dict.fromkeys(ids)
        for raw in found.values():
            if raw is not None:
                entry = Entry.from_json(raw)
                finished[entry.job_id] = entry
        return self.publisher.reconcile(finished, deep)

    # ---- reads -------------------------------------------------------------------

    def head(self) -> str:
        """The queue repo's current commit: one cheap request, what an idle poll reads."""
        return self.store.head()

    def predictions(self, entry: Entry, revision: str | None = None) -> bytes:
        """The job's predictions file. It is written once at submission and never moved,
        so any revision since will do: passing one saves reading the head. A revision
        older than the job (a look that lost a race read a newer head) costs one more
        read at the head."""
        try:
            return self.store.read(entry.predictions_path, revision)
        except NotFound:
            if revision is None:
                raise
            return self.store.read(entry.predictions_path)

    def commits_last_hour(self) -> dict[str, int]:
        """Commits made in the last hour to the queue repo and the results repo, by
        every process of the benchmark (Hub stores only: {} elsewhere)."""
        return commits_last_hour(self.store) | (
            self.results.commits_last_hour() if self.results else {}
        )

    def has_users(self) -> bool:
        """Whether anyone ever submitted (one listing of the user indexes)."""
        return bool(self.store.list("users"))

    def get(self, job_id: str) -> Entry:
        return self._txn().entry(job_id)

    def get_many(self, job_ids: list[str], hint: JobStatus | None = None) -> list[Entry]:
        """Several jobs at one head: one batched read where they are in `hint`."""
        txn = self._txn()
        if hint is not None:
            txn.prefetch([status_path(hint, j) for j in job_ids])
        return [txn.entry(j, hint) for j in job_ids]

    def ids(self, status: JobStatus) -> list[str]:
        """Cheap: one listing of one status folder, oldest first."""
        return self._txn().list(status)

    def jobs(self, status: JobStatus | None = None, user: str | None = None) -> list[Entry]:
        txn = self._txn()
        if user is not None:
            index = txn.user(user).jobs
            where = {job_id: JobStatus(job.status) for job_id, job in index.items()}
            paths = [status_path(s, j) for j, s in where.items()]
            maybe = (JobStatus.RUNNING, JobStatus.FINISHED)  # "in line" covers these too
            more = [status_path(m, j) for j, s in where.items() if s in IN_LINE for m in maybe]
            txn.prefetch(paths + more)  # one request on the Hub
            found = [txn.entry(job_id, hint) for job_id, hint in where.items()]
            return sorted(
                (e for e in found if status is None or e.status is status), key=lambda e: e.job_id
            )
        listed = [(j, s) for s in ([status] if status else list(JobStatus)) for j in txn.list(s)]
        txn.prefetch([status_path(s, j) for j, s in listed])
        return [txn.listed_entry(j, s) for j, s in listed]

    def user_jobs(self, user: str) -> list[Entry]:
        return self.jobs(user=user)

    def ladder(self, user: str) -> tuple[int, str | None]:
        """The submitter's Ladder as the queue has it: (judgements standing, job shown)."""
        return self._txn().user(user).ladder()

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
                [user_path(s.submitter) for s in subs]
                + [hash_path(key) for s in subs for key in s.copy_keys]
            )
            outcomes: list[Entry | QueueError] = []
            for sub, job_id in zip(subs, job_ids, strict=True):
                try:
                    outcomes.append(accept(txn, sub, self.config, now, job_id))
                except QueueError as exc:
                    outcomes.append(exc)
            return outcomes

        try:
            return self._transact(work, f"Submit {len(subs)} job(s)")
        except TransientError as exc:
            wait = retry_after(exc) if http_status(exc) == 429 else self._held_by_hub()
            if wait is None:
                raise
            when = f" in about {max(1, round(wait / 60))} min" if wait else " soon"
            raise QueueDelayed(
                "the queue has used the Hub's commits for this hour, so your file was not "
                f"recorded yet; nothing is broken, please submit it again{when}",
                retry_after=wait,
            ) from exc

    def _held_by_hub(self) -> float | None:
        """Seconds the Hub still holds this queue's repo after a 429, if it does (the
        governor then refuses without asking again)."""
        repo = getattr(self.store, "repo_id", None)
        until = governor().snapshot().blocked_until.get(repo or "")
        return until - time.time() if until and until > time.time() else None

    # ---- the worker's side -------------------------------------------------------

    def claim(
        self,
        worker: str,
        limit: int | None = None,
        submitted_by: datetime | None = None,
        *,
        spread: bool = False,
        only: list[Entry] | None = None,
    ) -> Claimed:
        """Lease up to `limit` PENDING jobs, or RUNNING ones whose lease ran out.

        With `submitted_by`, only jobs submitted by then (a burst run's start) are
        taken, so a `--once` worker ends even while new jobs keep arriving. With
        `only`, exactly those jobs, if unchanged since they were read (a job scored
        directly that runs long enough to need a lease)."""
        limit = limit or self.config.queue.claim_batch
        accept = self._cutoff(submitted_by)
        wanted = {e.job_id: e for e in only} if only is not None else None
        claimed = self._transact(
            lambda txn: claiming.claim(
                txn, worker, self.config, self.clock(), limit, accept, spread, wanted, self._watch
            ),
            f"Claim jobs for {worker}",
            recheck=True,
        )
        self._watch.saw(claimed.jobs)
        return claimed

    def look(
        self,
        worker: str,
        limit: int | None = None,
        submitted_by: datetime | None = None,
        *,
        spread: bool = False,
        skip: frozenset[str] = frozenset(),
        at: str | None = None,
    ) -> Claimed:
        """PENDING jobs this worker may score before claiming them: no commit at all.
        `skip` leaves out jobs the worker already has in hand; `at` is a head the
        caller just read."""
        limit = limit or self.config.queue.claim_batch
        cutoff = self._cutoff(submitted_by)
        heads = [at]

        def attempt() -> Claimed:
            txn = self._txn(heads.pop() if heads else None)  # a lost race re-reads the head
            accept = lambda j: j not in skip and cutoff(j)  # noqa: E731
            lease = self.config.queue.lease_seconds
            return claiming.look(
                txn, worker, self.clock(), limit, accept, spread, self._watch, lease
            )

        return retry_on_conflict(attempt, "look at the queue")

    @staticmethod
    def _cutoff(submitted_by: datetime | None) -> Callable[[str], bool]:
        if submitted_by is None:
            return lambda _job_id: True
        return lambda job_id: job_time(job_id) <= submitted_by

    def _each_held(
        self, worker: str, job_ids: list[str], move: Callable[[Entry], Entry], message: str
    ) -> list[Entry]:
        def work(txn: Txn) -> list[Entry]:
            return [txn.put(move(e)) for e in claiming.held(txn, job_ids, worker)]

        return self._transact(work, message)

    def renew(self, worker: str, job_ids: list[str]) -> list[Entry]:
        now, lease = self.clock(), self.config.queue.lease_seconds
        renewed = self._each_held(
            worker,
            job_ids,
            lambda e: moves.renewed(e, worker, now, lease),
            f"Renew leases for {worker}",
        )
        self._watch.saw(renewed)
        return renewed

    def release(self, worker: str, job_ids: list[str], note: str = "released") -> list[Entry]:
        """Give jobs back untouched (a clean shutdown); the attempt does not count."""
        return self._each_held(
            worker,
            job_ids,
            lambda e: moves.released(e, worker, note, count_attempt=False),
            f"Release jobs of {worker}",
        )

    def settle(
        self,
        worker: str,
        scored: list[Scored] = (),  # type: ignore[assignment]
        failed: dict[str, JobError] | None = None,
        direct: list[Entry] = (),  # type: ignore[assignment]
    ) -> list[Entry]:
        """Finish scored jobs and fail (or retry) failed ones, in ONE commit.

        Jobs in `direct` were scored without a claim: each is claimed in the same
        commit if nobody changed it meanwhile, so PENDING -> FINISHED costs one
        commit. Results rows are published after the commit (see `publication`);
        flagged jobs wait in REVIEW unpublished. Returns the jobs moved; any other
        was lost to another worker, a requeue or a cancel."""
        return self.settle_and_claim(worker, scored, failed, direct)[0]

    def settle_and_claim(
        self,
        worker: str,
        scored: list[Scored] = (),  # type: ignore[assignment]
        failed: dict[str, JobError] | None = None,
        direct: list[Entry] = (),  # type: ignore[assignment]
        *,
        take: int = 0,
        submitted_by: datetime | None = None,
        spread: bool = False,
    ) -> tuple[list[Entry], Claimed]:
        """`settle`, and in the same commit lease up to `take` more jobs: in a burst the
        next claim rides on the finish, one commit per batch."""
        by_id = {s.job_id: s for s in scored}
        failed = dict(failed or {})
        seen = {e.job_id: e for e in direct}
        n = len(by_id) + len(failed)
        accept = self._cutoff(submitted_by)

        def work(txn: Txn) -> tuple[list[Entry], Claimed]:
            now = self.clock()
            moved = claiming.settle(txn, worker, self.config, now, by_id, failed, seen)
            if not take:
                return moved, Claimed([], None)
            more = claiming.claim(
                txn, worker, self.config, now, take, accept, spread, watch=self._watch
            )
            return moved, more

        message = f"Settle {n} job(s)" + (" and claim more" if take else "") + f" for {worker}"
        moved, more = self._transact(work, message, recheck=True)
        self._watch.saw(more.jobs)
        return moved, more

    def finish(self, worker: str, scored: list[Scored]) -> list[Entry]:
        """Move held jobs to FINISHED (or REVIEW when a rule flags the score)."""
        return self.settle(worker, scored)

    def fail(self, worker: str, failures: dict[str, JobError]) -> list[Entry]:
        """User errors fail at once; ours retry until attempts run out, then fail with
        the quota given back."""
        return self.settle(worker, failed=failures)

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

        if self.publisher is not None:  # no row may outlive its job's FINISHED state
            self.publisher.unpublish_now(job_ids)
        return self._transact(work, f"Requeue {len(job_ids)} job(s)")

    def _reviewer(self, who: str) -> None:
        # Checked here, on the server side, whatever the UI showed.
        if who not in self.config.review.reviewers:
            raise NotAllowed(f"{who} is not a reviewer of this benchmark")

    def approve(self, job_id: str, reviewer: str, note: str = "") -> Entry:
        """A scored job is FINISHED, then published; an unscored one goes on to be scored."""
        self._reviewer(reviewer)
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
