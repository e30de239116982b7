"""The evaluator worker: wait for work, claim, score, publish, in as few commits as it can.

One loop thread makes every queue commit (claim, finish, fail, release) and K
scoring threads each drive one child process (`runner.py`). A heartbeat thread
renews the leases of long jobs. The loop:

- waits cheaply: one `store.head()` per poll while idle. It claims only when the
  head moved, when a lease it saw may have run out (`Claimed.wake_at`), or when
  nothing is known yet. A webhook (`wake()`) cuts the wait short;
- claims a batch of jobs in one commit, and finishes (or fails) the scored ones in
  one commit, so the Hub's commit budget goes to many jobs at a time. Claimed jobs
  queue in the thread pool; the next batch is claimed once the last one has started,
  so scoring never waits for a commit;
- on stop (SIGTERM, SIGINT), kills the scoring children, commits what was already
  scored and gives the rest back with `release`. Every commit is atomic, so there is
  never a half-written state; a release that fails is left to the lease.

`evaluate(entry)` is the one override point: download, validate, score.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import tenacity

import heldout
from heldout.config import Config
from heldout.errors import ConfigError, ScorerError
from heldout.evaluator.failures import FailureKind, classify, sanitize
from heldout.evaluator.loop import Loop, Outcome
from heldout.evaluator.runner import ScoringCancelled, run_in_child
from heldout.evaluator.scoring import fingerprint, load_scorer, load_truth, score_splits
from heldout.predictions import check_ids, read_predictions
from heldout.queue.entry import Entry, ErrorKind, JobError, parse_iso
from heldout.queue.jobs import JobQueue, Scored
from heldout.queue.retry import is_transient
from heldout.queue.reveal import RevealTimer
from heldout.queue.status import JobStatus

log = logging.getLogger("heldout.evaluator")

T = TypeVar("T")
Scorer = Callable[[Any, Any], dict[str, float]]

RETRY_ATTEMPTS = 3  # per network step, on top of the store's own retries


def default_worker_id() -> str:
    """Unique per process, so two workers never mistake each other's jobs for their own."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


def is_infrastructure(exc: BaseException) -> bool:
    """Worth another try: dropped connections, timeouts, 429 and 5xx."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or is_transient(exc)


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        config: Config,
        *,
        worker_id: str | None = None,
        concurrency: int = 1,
        sleep: Callable[[float], object] | None = None,
        stop: threading.Event | None = None,
        scorer: Scorer | None = None,
        retry_wait: tenacity.wait.wait_base | None = None,
    ) -> None:
        """`sleep` replaces the idle wait between polls (tests); by default the wait
        ends early on `wake()` or `request_stop()`. `scorer` replaces the configured one."""
        if config.evaluator is None:
            raise ConfigError("this heldout.toml has no [evaluator] section; a worker needs one")
        if concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        self.queue = queue
        self.config = config
        self.settings = config.evaluator
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.stop = stop or threading.Event()
        self.evaluator_version = f"heldout {heldout.__version__}"
        self.stats: Counter[str] = Counter()
        self._sleep = sleep or self._wait
        self._scorer = scorer
        self._retry_wait = retry_wait or tenacity.wait_random_exponential(multiplier=0.5, max=4)
        self._wake = threading.Event()
        self._cancel = threading.Event()  # set at shutdown: scoring children are killed
        self._halt = threading.Event()  # ends the heartbeat, after the last release
        self._lock = threading.Lock()
        self._leases: dict[str, datetime] = {}  # jobs held -> when their lease runs out
        self._truth: Any = None
        self._burst_start: datetime | None = None
        self._reveal: RevealTimer | None = None

    # ---- control from other threads ----------------------------------------------

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll (a webhook saw a change)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop taking jobs; give back what is not scored. Safe from a signal handler."""
        self.stop.set()
        self._wake.set()

    # ---- setup -------------------------------------------------------------------

    def prepare(self) -> None:
        """Load the scorer and the test set once; scoring children inherit them by fork."""
        if self._truth is not None:
            return
        started = time.monotonic()
        bench = self.config.benchmark
        if self._scorer is None:
            here = self.config.source.parent if self.config.source else None
            self._scorer = load_scorer(self.settings.scorer, self.settings.code_dir or here)
        self._truth = load_truth(self.settings.truth, bench)
        self._ids = pd.Index(self._truth[bench.id_column])
        self._fingerprint = fingerprint(self._truth, bench.id_column)
        took, n = time.monotonic() - started, len(self._truth)
        log.info("%d test examples loaded in %.2f s (%s)", n, took, self._fingerprint[:12])

    # ---- the one override point --------------------------------------------------

    def evaluate(self, entry: Entry) -> Scored:
        """Download, validate and score one job. Raises on any failure; `outcome` sorts it."""
        bench = self.config.benchmark
        if self._cancel.is_set():
            raise ScoringCancelled("the worker is shutting down")
        t0 = time.monotonic()
        data = self._retrying(lambda: self.queue.store.read(entry.predictions_path), "download")
        t1 = time.monotonic()
        frame = read_predictions(data, entry.format, bench, self.config.limits.max_file_bytes)
        check_ids(frame, self._ids)
        t2 = time.monotonic()
        if self._cancel.is_set():
            raise ScoringCancelled("the worker is shutting down")
        truth, scorer = self._truth, self._scorer
        result = run_in_child(
            lambda: score_splits(frame, truth, scorer, bench),
            timeout=self.settings.score_timeout_seconds,
            cancel=self._cancel,
        )
        scores = result.scores  # the public split's: the only ones logged
        log.info(
            "job %s scored: %s=%.6g (download %.3f s, validate %.3f s, score %.3f s)",
            entry.job_id,
            bench.primary_metric,
            scores.get(bench.primary_metric, float("nan")),
            t1 - t0,
            t2 - t1,
            time.monotonic() - t2,
        )
        return Scored(
            entry.job_id,
            dict(scores),
            self._fingerprint,
            self.evaluator_version,
            split_scores=result.split_scores,
        )

    # ---- the loop ----------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Serve jobs until stopped; with `once`, until a claim finds nothing left to do."""
        self.prepare()
        # A burst run takes the jobs there are when it starts, not those that come after.
        self._burst_start = self.queue.clock() if once else None
        self._cancel.clear()
        self._halt.clear()
        mode = "until the queue is empty" if once else "until stopped"
        log.info("worker %s: %d at a time, %s", self.worker_id, self.concurrency, mode)
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="score")
        loop = Loop(self, pool, once)
        try:
            loop.run()
        finally:
            loop.shutdown()
            pool.shutdown(wait=True)
            self._halt.set()
            heartbeat.join()
            log.info("worker %s stopped: %s", self.worker_id, dict(self.stats))
        return 0

    def _wait(self, seconds: float) -> None:
        """Wait for `wake()`, for `request_stop()`, or for a stop event set by anyone."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._wake.wait(min(left, 0.25)):
                return

    # ---- steps the loop calls ----------------------------------------------------

    def idle(self) -> None:
        """Between polls with nothing to do: publish a scheduled reveal that is due."""
        if self._reveal is None and self.queue.results is not None:
            self._reveal = RevealTimer(self.queue)
        if self._reveal is not None:
            self._reveal.tick()

    def claim(self, limit: int) -> tuple[list[Entry], datetime | None]:
        """One attempt: a claim that fails may still have landed, and the loop then takes
        up its jobs with `adopt` before it claims again."""
        claimed = self.queue.claim(self.worker_id, limit, submitted_by=self._burst_start)
        self.stats["claims"] += 1
        self._hold(claimed.jobs)
        for e in claimed.jobs:
            log.info("job %s claimed (attempt %d)", e.job_id, e.attempts)
        return claimed.jobs, claimed.wake_at

    def adopt(self) -> list[Entry]:
        """After a claim whose reply was lost: the jobs it took are ours, take them up."""
        mine = [
            e
            for e in self.queue.jobs(JobStatus.RUNNING)
            if e.worker == self.worker_id and e.job_id not in self._leases
        ]
        self._hold(mine)
        if mine:
            log.warning("took up %d job(s) claimed by a lost reply", len(mine))
        return mine

    def outcome(self, entry: Entry) -> Outcome:
        """Run `evaluate` and sort any failure into what the submitter will read."""
        started = time.monotonic()
        try:
            return self.evaluate(entry)
        except ScoringCancelled:
            return None
        except Exception as exc:
            failure = classify(exc)
            took = time.monotonic() - started
            if failure.kind is FailureKind.USER:
                log.info("job %s refused after %.2f s: %s", entry.job_id, took, failure.message)
            elif isinstance(exc, ScorerError) and exc.detail:  # the child's traceback
                log.error("job %s: %s after %.2f s\n%s", entry.job_id, exc, took, exc.detail)
            else:
                log.exception(
                    "job %s: %s error after %.2f s", entry.job_id, failure.kind.value, took
                )
            return JobError(ErrorKind(failure.kind.value), sanitize(failure.message))
        finally:
            self._wake.set()

    def flush(self, done: list[tuple[Entry, Outcome]]) -> None:
        """Finish and fail a batch of jobs: one commit each (plus one for the results)."""
        scored = [o for _, o in done if isinstance(o, Scored)]
        failed = {e.job_id: o for e, o in done if isinstance(o, JobError)}
        if scored:
            started = time.monotonic()
            moved = self._retrying(lambda: self.queue.finish(self.worker_id, scored), "finish")
            self._report(moved, [s.job_id for s in scored], "finished", started)
        if failed:
            started = time.monotonic()
            moved = self._retrying(lambda: self.queue.fail(self.worker_id, failed), "fail")
            self._report(moved, list(failed), "failed", started)

    def release(self, job_ids: list[str]) -> None:
        if not job_ids:
            return
        try:
            moved = self._retrying(
                lambda: self.queue.release(self.worker_id, job_ids, "worker stopped"), "release"
            )
            self._report(moved, job_ids, "released", time.monotonic())
        except Exception:
            log.exception("could not release %s; they come back when their lease runs out", job_ids)

    # ---- helpers -----------------------------------------------------------------

    def _hold(self, entries: list[Entry], known_only: bool = False) -> None:
        """Remember the leases of jobs we hold; `known_only` never re-adds a dropped job."""
        with self._lock:
            for e in entries:
                if e.lease_expires_at and (not known_only or e.job_id in self._leases):
                    self._leases[e.job_id] = parse_iso(e.lease_expires_at)

    def _drop(self, job_ids: list[str]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._leases.pop(job_id, None)

    def _report(self, moved: list[Entry], asked: list[str], verb: str, started: float) -> None:
        self._drop(asked)
        self.stats[verb] += len(moved)
        took = time.monotonic() - started
        for e in moved:
            kind = f" [{e.error.kind.value}]" if e.error else ""
            log.info("job %s -> %s%s (commit %.3f s)", e.job_id, e.status.value, kind, took)
        lost = sorted(set(asked) - {e.job_id for e in moved})
        if lost:
            log.warning("no longer ours (lease lost or cancelled): %s", ", ".join(lost))

    def _retrying(self, call: Callable[[], T], what: str) -> T:
        """Transient failures get a few more tries; anything else is raised at once."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_infrastructure),
            stop=tenacity.stop_after_attempt(RETRY_ATTEMPTS),
            wait=self._retry_wait,
            before_sleep=lambda state: log.warning(
                "%s failed (%s); trying again", what, type(state.outcome.exception()).__name__
            ),
            reraise=True,
        )
        return retrying(call)

    def _heartbeat(self) -> None:
        """Renew leases a third of the way through, so short jobs never cost a renewal."""
        lease = self.config.queue.lease_seconds
        while not self._halt.wait(lease / 6):
            try:
                self._beat(lease)
            except Exception:
                log.exception("lease renewal failed; trying again at the next beat")

    def _beat(self, lease: float) -> None:
        now = self.queue.clock()
        with self._lock:
            due = [j for j, t in self._leases.items() if (t - now).total_seconds() < lease * 2 / 3]
        if not due:
            return
        renewed = self.queue.renew(self.worker_id, due)
        self._hold(renewed, known_only=True)
        self.stats["renewals"] += 1
        lost = set(due) - {e.job_id for e in renewed}
        with self._lock:
            lost &= set(self._leases)
        if lost:
            log.warning("lost the lease on %s; another worker may score them", sorted(lost))


__all__ = ["Worker", "default_worker_id"]
