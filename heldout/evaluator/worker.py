"""The evaluator worker: wait for work, score, settle, in as few commits and requests
as it can.

One loop thread (`loop.Loop`) makes every queue commit, K scoring threads each keep
one long-lived scoring child (`runner.ScoringChild`), and a heartbeat thread renews
the leases of long jobs. Cost per job is the point:

- a batch of short jobs is scored before it is claimed and settled in ONE commit
  (PENDING -> RUNNING -> FINISHED): a lone job costs its submission and one commit.
  A job that runs longer than `evaluator.direct_seconds` is claimed with a lease
  first (and a direct job that overruns is claimed then), so nobody else takes it;
- a worker that sees another worker win a job it scored leases for a while, and
  picks jobs by a hash of its id, so workers spread over disjoint jobs;
- an idle worker polls the head only, slower and slower (`idle_poll_seconds`, or
  `webhook_poll_seconds` when a webhook wakes it); a spent commit quota pauses its
  commits for the `Retry-After` the Hub gave, once for all of them.

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
from typing import Any

import pandas as pd

import heldout
from heldout.config import Config
from heldout.errors import ConfigError, ErrorKind, ScorerError, ScoringCancelled
from heldout.evaluator.control import Control
from heldout.evaluator.failures import classify, sanitize
from heldout.evaluator.honest import Honest, in_child
from heldout.evaluator.loop import Loop, Outcome
from heldout.evaluator.runner import ScoringChild
from heldout.evaluator.scoring import fingerprint, load_scorer, load_truth
from heldout.evaluator.testset_guard import check_test_set
from heldout.predictions import check_ids, read_predictions
from heldout.queue.claiming import Scored
from heldout.queue.entry import Entry, JobError, parse_iso
from heldout.queue.governor import governor
from heldout.queue.jobs import JobQueue
from heldout.queue.reveal import RevealTimer
from heldout.queue.status import JobStatus

log = logging.getLogger("heldout.evaluator")

Scorer = Callable[[Any, Any], dict[str, float]]


def default_worker_id() -> str:
    """Unique per process, so two workers never mistake each other's jobs for their own."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(2)}"


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
        self.control = Control(stop, sleep)
        self.stop = self.control.stop
        self.webhook = False  # set when a webhook wakes this worker: idle polls get rare
        self.revision: str | None = None  # a queue revision where every job taken exists
        self.evaluator_version = f"heldout {heldout.__version__}"
        self.stats: Counter[str] = Counter()
        self._scorer = scorer
        self._lock = threading.Lock()
        self._leases: dict[str, datetime] = {}  # jobs held -> when their lease runs out
        self._children: list[ScoringChild] = []
        self._mine = threading.local()  # each scoring thread's own child
        self._truth: Any = None
        self._took: list[float] = []  # seconds per recent job, for choosing direct or leased
        self.honest = Honest(queue, config, read=self._download)
        self._reveal: RevealTimer | None = None

    # ---- control from other threads ----------------------------------------------

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll (a webhook saw a change)."""
        self.control.wake()

    def request_stop(self) -> None:
        """Stop taking jobs; give back what is not scored. Safe from a signal handler."""
        self.control.request_stop()

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
        self.honest.check(self._scorer)
        truth = load_truth(self.settings.truth, bench)
        found = fingerprint(truth, bench.id_column)
        check_test_set(self.queue, found)  # a replaced test set: refuse, claim nothing
        self._truth, self._fingerprint = truth, found
        self._ids = pd.Index(truth[bench.id_column])
        took, n = time.monotonic() - started, len(self._truth)
        log.info("%d test examples loaded in %.2f s (%s)", n, took, self._fingerprint[:12])

    # ---- the one override point --------------------------------------------------

    def evaluate(self, entry: Entry) -> Scored:
        """Download, validate and score one job. Raises on any failure; `outcome` sorts it."""
        if self.control.cancel.is_set():
            raise ScoringCancelled("the worker is shutting down")
        self.honest.begin(entry)  # under the Ladder, the submitter's later jobs wait for it
        try:
            return self._evaluate(entry)
        finally:
            self.honest.end(entry)

    def _evaluate(self, entry: Entry) -> Scored:
        bench = self.config.benchmark
        t0 = time.monotonic()
        # At a revision already seen, so no head read; the store retries transient errors.
        data = self.queue.predictions(entry, self.revision)
        t1 = time.monotonic()
        frame = read_predictions(data, entry.format, bench, self.config.limits.max_file_bytes)
        check_ids(frame, self._ids)
        t2 = time.monotonic()
        # scores, their intervals and (under the Ladder) the release decision
        scoring = self.honest.score(entry, frame, self._in_child)
        result = scoring.result
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
            release=scoring.release,
        )

    def _child(self) -> ScoringChild:
        """This scoring thread's long-lived child, made on first use."""
        child = getattr(self._mine, "child", None)
        if child is None:
            truth, scorer, config = self._truth, self._scorer, self.config
            child = ScoringChild(lambda request: in_child(request, truth, scorer, config))
            self._mine.child = child
            with self._lock:
                self._children.append(child)
        return child

    # ---- the loop ----------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Serve jobs until stopped; with `once`, until a look finds nothing left to do."""
        self.prepare()
        control = self.control
        control.cancel.clear()
        control.halt.clear()
        mode = "until the queue is empty" if once else "until stopped"
        log.info("worker %s started: %d at a time, %s", self.worker_id, self.concurrency, mode)
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="score")
        # A burst run takes the jobs there are when it starts, not those that come after.
        loop = Loop(self, pool, once, self.queue.clock() if once else None)
        auto, self.queue.auto_publish = self.queue.auto_publish, False  # the loop batches
        try:
            loop.run()
            if once and not self.stop.is_set():  # a burst ends with its tied bands published
                self.honest.settle(self._truth, self._scorer, self._in_child, self.others_busy)
        finally:
            self.queue.auto_publish = auto
            loop.shutdown()
            pool.shutdown(wait=True)
            control.halt.set()
            heartbeat.join()
            with self._lock:
                children, self._children = self._children, []
            for child in children:
                child.stop()
            self._mine = threading.local()
            log.info("worker %s stopped: %s", self.worker_id, dict(self.stats))
            if self.config.storage.backend == "hub":
                log.info("Hub budget: %s", self.budget())
        return 0

    # ---- steps the loop calls ----------------------------------------------------

    def expected_seconds(self, jobs: int) -> float | None:
        """How long scoring `jobs` jobs should take here, from recent ones (None: no idea)."""
        with self._lock:
            recent = self._took[-20:]
        if not recent:
            return None
        rounds = -(-jobs // self.concurrency)
        return rounds * sorted(recent)[len(recent) // 2]

    def hold(self, entries: list[Entry], known_only: bool = False) -> None:
        """Remember the leases of jobs we hold; `known_only` never re-adds a dropped job."""
        with self._lock:
            for e in entries:
                if e.lease_expires_at and (not known_only or e.job_id in self._leases):
                    self._leases[e.job_id] = parse_iso(e.lease_expires_at)

    def holds(self) -> set[str]:
        with self._lock:
            return set(self._leases)

    def drop(self, job_ids: list[str]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._leases.pop(job_id, None)

    def idle(self) -> None:
        """Between polls with nothing to do: publish a scheduled reveal that is due."""
        if self._reveal is None and self.queue.results is not None:
            self._reveal = RevealTimer(self.queue)
        if self._reveal is not None:
            self._reveal.tick()
        self.honest.settle(self._truth, self._scorer, self._in_child, self.others_busy)

    def others_busy(self) -> bool:
        """Whether other workers hold jobs now (one listing)."""
        return bool(set(self.queue.ids(JobStatus.RUNNING)) - self.holds())

    def adopt(self) -> list[Entry]:
        """After a claim whose reply was lost: the jobs it took are ours, take them up."""
        mine = [
            e
            for e in self.queue.jobs(JobStatus.RUNNING)
            if e.worker == self.worker_id and e.job_id not in self.holds()
        ]
        self.hold(mine)
        if mine:
            log.warning("took up %d job(s) claimed by a lost reply", len(mine))
        return mine

    def outcome(self, entry: Entry) -> Outcome:
        """Run `evaluate` and sort any failure into what the submitter will read."""
        started = time.monotonic()
        try:
            result = self.evaluate(entry)
            with self._lock:
                self._took = [*self._took[-19:], time.monotonic() - started]
            return result
        except ScoringCancelled:
            return None
        except Exception as exc:
            failure = classify(exc)
            took = time.monotonic() - started
            if failure.kind is ErrorKind.USER:
                log.info("job %s refused after %.2f s: %s", entry.job_id, took, failure.message)
            elif isinstance(exc, ScorerError) and exc.detail:  # the child's traceback
                log.error("job %s: %s after %.2f s\n%s", entry.job_id, exc, took, exc.detail)
            else:
                log.exception(
                    "job %s: %s error after %.2f s", entry.job_id, failure.kind.value, took
                )
            return JobError(failure.kind, sanitize(failure.message))
        finally:
            self.control.wake()

    def budget(self) -> str:
        """What this process has spent of the Hub's limits (the process-wide governor)."""
        return governor().snapshot().describe()

    def report(self, moved: list[Entry], asked: list[str], verb: str, started: float) -> None:
        self.drop(asked)
        self.honest.after_finish(moved)  # the top of the board may have changed
        for e in moved:
            self.stats[e.status.value.lower() if verb == "settled" else verb] += 1
        took = time.monotonic() - started
        for e in moved:
            kind = f" [{e.error.kind.value}]" if e.error else ""
            log.info("job %s -> %s%s (commit %.3f s)", e.job_id, e.status.value, kind, took)
        lost = sorted(set(asked) - {e.job_id for e in moved})
        if lost:
            log.warning("no longer ours (taken by another worker, or cancelled): %s", lost)
        if moved and self.config.storage.backend == "hub":
            log.info("Hub budget: %s", self.budget())

    def _download(self, entry: Entry) -> bytes:
        return self.queue.predictions(entry, self.revision)

    def _in_child(self, request: tuple[Any, ...]) -> Any:
        """Per-example work (intervals, the Ladder, bands) in this thread's scoring child."""
        return self._child().run(
            request, timeout=self.settings.score_timeout_seconds, cancel=self.control.cancel
        )

    def release(self, job_ids: list[str]) -> None:
        """Give held jobs back (a clean shutdown); a release that fails is left to the lease."""
        if not job_ids:
            return
        try:
            moved = self.queue.release(self.worker_id, job_ids, "worker stopped")
            self.report(moved, job_ids, "released", time.monotonic())
        except Exception:
            log.exception("could not release %s; they come back when their lease runs out", job_ids)

    # ---- leases ------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Renew leases a third of the way through, so short jobs never cost a renewal."""
        lease = self.config.queue.lease_seconds
        while not self.control.halt.wait(lease / 6):
            if self.control.commits_paused():
                continue  # the Hub asked us to wait; the loop's probe goes first
            try:
                self._beat(lease)
            except Exception as exc:
                self.control.commit_failed(exc, fallback=0.0)
                log.exception("lease renewal failed; trying again at the next beat")

    def _beat(self, lease: float) -> None:
        now = self.queue.clock()
        with self._lock:
            due = [j for j, t in self._leases.items() if (t - now).total_seconds() < lease * 2 / 3]
        if not due:
            return
        renewed = self.queue.renew(self.worker_id, due)
        self.hold(renewed, known_only=True)
        self.stats["renewals"] += 1
        lost = set(due) - {e.job_id for e in renewed}
        with self._lock:
            lost &= set(self._leases)
        if lost:
            log.warning("lost the lease on %s; another worker may score them", sorted(lost))


__all__ = ["Worker", "default_worker_id"]
