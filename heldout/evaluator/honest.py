"""The evaluator's honest numbers: each job's intervals, the Ladder's decision, and the
tied bands at the top of the board.

Only the evaluator holds the labels and every prediction file, so only it can compute
these. Everything that touches per-example values runs in the scoring child process
(`runner.run_in_child`), since the per-example view is the benchmark's own code; what
comes back is intervals, a `Release` and band numbers, never per-example values.

- Intervals: every split score gets `ci_low`/`ci_high` (95% percentile bootstrap,
  B = 1000, fixed seed; `results.CI_METHOD` records it in the row).
- The Ladder (`[review] release = "ladder"`): a submitter's jobs are decided one at a
  time and in id (submission) order within this worker; the k-th judgement is at level
  alpha·6/(π²k²) (`stats.spent_level`). The state judged against (k - 1 judgements,
  the job shown) comes from this worker's memory or the submitter's index, and is
  recorded in the `Release`; the settle commit checks it still holds (`queue/ladder.py`),
  so across workers the decisions form one chain. A stale one comes back to PENDING and
  this worker forgets what it remembered of that submitter.
- Bands: after a finish that changed the top `band_rows` rows of the live board, the
  top rows are compared (`stats.tied_bands`) and their `band` column is rewritten in
  one commit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from heldout.config import Config
from heldout.errors import ConfigError, HeldoutError
from heldout.evaluator import stats
from heldout.evaluator.per_example import find_hook, intervals, split_views, views
from heldout.evaluator.scoring import SplitResult, align, score_splits
from heldout.predictions import read_predictions
from heldout.queue.entry import Entry, iso
from heldout.queue.jobs import JobQueue
from heldout.queue.release import Release, published_scores
from heldout.queue.splits import PUBLIC, SPLIT_COLUMN, WHOLE, SplitScore, metrics_of
from heldout.queue.status import JobStatus

log = logging.getLogger("heldout.evaluator")
BANDS_WAIT_SECONDS = 300.0  # longest the bands wait for other workers' jobs to finish

Run = Callable[[tuple[Any, ...]], Any]  # sends a request to the scoring child


def in_child(request: tuple[Any, ...], truth: pd.DataFrame, scorer: Any, config: Config) -> Any:
    """What the long-lived scoring child does with a request (the test set and the scorer
    were inherited at fork time): ("score", frame), ("ladder", frame, job_id, best, step)
    or ("bands", frames)."""
    if request[0] == "bands":
        return band_numbers(request[1], truth, scorer, config)
    if request[0] == "ladder":
        _, frame, job_id, best, step = request
        return ladder_decision(frame, truth, scorer, config, job_id, best, step)
    return score_job(request[1], truth, scorer, config)


@dataclass(frozen=True)
class Scoring:
    """What the scoring child sends back for one job."""

    result: SplitResult
    release: Release | None = None


def ranked_split(truth: pd.DataFrame) -> str:
    """The split the live board ranks by."""
    return PUBLIC if SPLIT_COLUMN in truth.columns else WHOLE


def score_job(
    frame: pd.DataFrame,
    truth: pd.DataFrame,
    scorer: Any,
    config: Config,
) -> Scoring:
    """Scores and their intervals (the Ladder's decision is `ladder_decision`). In the child."""
    bench = config.benchmark
    result = score_splits(frame, truth, scorer, bench)
    hook = find_hook(scorer)
    if hook is None:
        return Scoring(result)
    by_split = split_views(views(align(frame, truth, bench.id_column), truth, hook, bench), truth)
    if SPLIT_COLUMN in truth.columns:
        items = result.split_scores
    else:  # the whole set: its scores become one "all" split, to carry the intervals
        items = tuple(SplitScore(WHOLE, m, v) for m, v in sorted(result.scores.items()))
    scores = {part: metrics_of(items, part) for part in by_split}
    found = intervals(by_split, scores)
    items = tuple(_with_interval(s, found.get(s.split, {}).get(s.metric)) for s in items)
    return Scoring(replace(result, split_scores=items))


def ladder_decision(
    frame: pd.DataFrame,
    truth: pd.DataFrame,
    scorer: Any,
    config: Config,
    job_id: str,
    best: tuple[str, float, pd.DataFrame] | None = None,
    step: int = 1,
) -> Release:
    """The Ladder's decision for one job. In the child.

    `best`: the job shown now, its shown score and its predictions (None before the
    first judgement); `step`: this is the submitter's step-th judgement."""
    bench = config.benchmark
    hook = find_hook(scorer)
    if hook is None:
        raise ConfigError('review.release = "ladder" needs a scorer with a per_example view')
    part, primary = ranked_split(truth), bench.primary_metric

    def view(predictions: pd.DataFrame) -> stats.View:
        aligned = align(predictions, truth, bench.id_column)
        return split_views(views(aligned, truth, hook, bench), truth)[part][primary]

    new = view(frame)
    best_view, shown, best_job = None, None, job_id
    if best is not None:
        best_job, shown, best_frame = best
        best_view = view(best_frame)
    level = stats.spent_level(config.review.band_level, step)
    decided = stats.ladder_step(
        new, best_view, shown, level=level, higher_is_better=bench.higher_is_better
    )
    release = Release(
        shown=decided.shown,
        updated=decided.updated,
        margin=decided.margin,
        resolution=decided.resolution,
        best_job=job_id if decided.updated else best_job,
        level=level,
        step=step,
        against=None if best is None else best_job,
    )
    return release


def _with_interval(score: SplitScore, interval: stats.Interval | None) -> SplitScore:
    if interval is None:
        return score
    return replace(score, ci_low=interval.low, ci_high=interval.high)


def band_numbers(
    frames: list[pd.DataFrame], truth: pd.DataFrame, scorer: Any, config: Config
) -> list[int]:
    """The tied bands of prediction sets given in board order. In the child."""
    bench = config.benchmark
    hook = find_hook(scorer)
    if hook is None:
        return []
    part = ranked_split(truth)
    rows = [
        split_views(views(align(f, truth, bench.id_column), truth, hook, bench), truth)[part][
            bench.primary_metric
        ]
        for f in frames
    ]
    return stats.tied_bands(
        rows, level=config.review.band_level, higher_is_better=bench.higher_is_better
    )


@dataclass(frozen=True)
class LadderState:
    """A submitter's Ladder: judgements made so far, the job shown and its shown score."""

    step: int
    best_job: str | None
    shown: float | None

    def __post_init__(self) -> None:
        if self.step < 0 or (self.best_job is None) != (self.step == 0):
            raise ValueError("a Ladder shows a job exactly when it has judged one")


class Honest:
    """One worker's side of intervals, the Ladder and bands."""

    def __init__(self, queue: JobQueue, config: Config, read: Callable[[Entry], bytes]) -> None:
        self.queue = queue
        self.config = config
        self._read = read  # a store read with the worker's retries
        self._turn = threading.Condition()  # guards the five below
        self._active: defaultdict[str, set[str]] = defaultdict(set)  # submitter -> jobs begun
        self._deciding: set[str] = set()  # submitters with a decision under way
        self._frames: dict[str, tuple[str, pd.DataFrame]] = {}  # submitter -> job shown, file
        self._ladder: dict[str, LadderState] = {}  # submitter -> their Ladder, as last decided here
        self._epochs: defaultdict[str, int] = defaultdict(int)  # bumped when _ladder is dropped
        self._top: tuple[str, ...] | None = None  # the top rows whose bands were published
        self._dirty = False
        self._dirty_since: float | None = None
        self._scores: dict[str, tuple[float, str]] | None = None  # job -> (shown, submitted)

    def check(self, scorer: Any) -> None:
        if self.config.review.release == "ladder" and find_hook(scorer) is None:
            raise ConfigError(
                'review.release = "ladder" needs a scorer with a per_example view (see the '
                "example scorer); this one has none"
            )

    # ---- per job (scoring threads) -------------------------------------------------

    def begin(self, entry: Entry) -> None:
        """A job of this worker's is under way (before its download): under the Ladder,
        the submitter's later jobs wait for its decision."""
        if self.config.review.release == "ladder":
            with self._turn:
                self._active[entry.submitter].add(entry.job_id)

    def end(self, entry: Entry) -> None:
        """The job is decided, failed or given up (always called after `begin`)."""
        if self.config.review.release == "ladder":
            with self._turn:
                self._active[entry.submitter].discard(entry.job_id)
                self._turn.notify_all()

    def score(self, entry: Entry, frame: pd.DataFrame, run: Run) -> Scoring:
        """Scores and intervals (in parallel with other jobs), then under the Ladder the
        decision, one at a time per submitter and in id order."""
        out: Scoring = run(("score", frame))
        if self.config.review.release != "ladder":
            return out
        user, job_id = entry.submitter, entry.job_id
        with self._turn:  # one decision at a time per submitter, in id order: a job waits
            # only for earlier ones that have begun, so the earliest never waits
            self._turn.wait_for(
                lambda: (
                    user not in self._deciding and not any(j < job_id for j in self._active[user])
                )
            )
            self._deciding.add(user)
        try:
            with self._turn:
                epoch = self._epochs[user]
            state = self._state(user)
            release: Release = run(
                ("ladder", frame, job_id, self._best(user, state), state.step + 1)
            )
            with self._turn:  # unless that state was found stale meanwhile
                if self._epochs[user] == epoch:
                    self._ladder[user] = LadderState(release.step, release.best_job, release.shown)
            return replace(out, release=release)
        finally:
            with self._turn:
                self._deciding.discard(user)
                self._turn.notify_all()

    def _state(self, user: str) -> LadderState:
        """The submitter's Ladder: as this worker last decided it, else as the queue has it."""
        with self._turn:
            known = self._ladder.get(user)
        if known is not None:
            return known
        step, best_job = self.queue.ladder(user)
        if best_job is None:
            return LadderState(step, None, None)
        release = self.queue.get(best_job).release
        return LadderState(step, best_job, release.shown if release is not None else None)

    def _best(self, user: str, state: LadderState) -> tuple[str, float, pd.DataFrame] | None:
        """The job shown, its shown score and its predictions (read once per job shown)."""
        if state.best_job is None or state.shown is None:
            return None
        known = self._frames.get(user)
        if known is None or known[0] != state.best_job:
            best = self.queue.get(state.best_job)
            data = self._read(best)
            bench, limits = self.config.benchmark, self.config.limits
            known = (best.job_id, read_predictions(data, best.format, bench, limits.max_file_bytes))
            self._frames[user] = known  # only ever used under this submitter's turn
        return state.best_job, state.shown, known[1]

    # ---- after a finish (the loop thread) --------------------------------------------

    def after_finish(self, moved: list[Entry]) -> None:
        """Follow the live board's top from this worker's own finishes (no request); when
        it changed, `settle` recomputes the bands once the queue is quiet, so a burst of
        jobs costs one look and at most one commit, and a job below the top costs none."""
        primary = self.config.benchmark.primary_metric
        back = {e.submitter for e in moved if e.status is JobStatus.PENDING}
        if back:  # a stale decision (or a job given back): that Ladder is re-read
            with self._turn:
                for user in back:
                    self._ladder.pop(user, None)
                    self._epochs[user] += 1
        for e in moved:
            if e.status is JobStatus.FINISHED and e.scores:
                shown = published_scores(e.scores, e.release)[primary]
                if self._scores is not None and shown is not None:
                    self._scores[e.job_id] = (shown, e.submitted_at)
                if not self._dirty:
                    self._dirty, self._dirty_since = True, time.monotonic()

    def settle(
        self,
        truth: pd.DataFrame,
        scorer: Any,
        run: Run,
        others_busy: Callable[[], bool] | None = None,
    ) -> None:
        """Recompute the bands if the top of the live board changed since they were last
        published. While other workers still hold jobs, the last of them to finish does
        it (for at most BANDS_WAIT_SECONDS), so a burst shared by several workers costs
        one recomputation, not one per worker. Never raises: a failure here must not
        stop the worker."""
        if not self._dirty or self.queue.results is None or find_hook(scorer) is None:
            return
        waited = time.monotonic() - (self._dirty_since or time.monotonic())
        try:
            if others_busy is not None and waited < BANDS_WAIT_SECONDS and others_busy():
                return
        except Exception:  # the check is a courtesy: without it, recompute now
            log.debug("could not see whether other workers are busy", exc_info=True)
        try:
            self._bands(truth, scorer, run)
            self._dirty = False
        except HeldoutError as exc:  # the Hub said no (a spent quota, say): not a bug
            log.warning("could not recompute the tied bands yet (%s); trying again later", exc)
        except Exception:
            log.exception("could not recompute the tied bands; trying again later")

    def _top_ids(self) -> tuple[str, ...]:
        assert self._scores is not None
        sign = -1.0 if self.config.benchmark.higher_is_better else 1.0
        order = sorted(self._scores.items(), key=lambda kv: (sign * kv[1][0], kv[1][1], kv[0]))
        return tuple(job for job, _ in order[: self.config.review.band_rows])

    def _bands(self, truth: pd.DataFrame, scorer: Any, run: Run) -> None:
        results = self.queue.results
        assert results is not None
        if self._scores is not None and self._top_ids() == self._top:
            return  # this worker's finishes did not change the top
        frame = results.read()  # the board as published, other workers' rows included
        live = frame.dropna(subset=["primary_score"])
        self._scores = {
            j: (float(v), iso(t))
            for j, v, t in zip(
                live["job_id"], live["primary_score"], live["submitted_at"], strict=True
            )
        }
        ids = self._top_ids()
        banded = set(frame["job_id"][frame["band"].map(_band).notna()])
        if ids == self._top or banded == set(ids):
            self._top = ids  # bands are a function of the top rows: another worker did it
            return
        bench, limits = self.config.benchmark, self.config.limits
        frames = [
            read_predictions(self._read(e), e.format, bench, limits.max_file_bytes)
            for e in self.queue.get_many(list(ids), JobStatus.FINISHED)
        ]
        numbers = run(("bands", frames))
        wanted = dict(zip(ids, numbers, strict=True))
        old = dict(zip(frame["job_id"], frame["band"], strict=True))
        changed = [j for j in frame["job_id"] if _band(old.get(j)) != wanted.get(j)]
        if changed:
            rows = frame[frame["job_id"].isin(changed)].to_dict("records")
            for row in rows:
                row["band"] = wanted.get(row["job_id"])
            results.upsert([_plain(r) for r in rows])
            log.info("tied bands: %s", ", ".join(f"{j}={wanted.get(j)}" for j in changed))
        self._top = ids


def _band(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return int(value)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from parquet, as `Results.upsert` takes it: nulls as None."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "split_scores":
            value = [
                {k: (None if _missing(v) else v) for k, v in item.items()}
                for item in (value if value is not None else [])
            ]
        elif _missing(value):
            value = None
        out[key] = value
    return out


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


__all__ = ["Honest", "Scoring", "band_numbers", "ladder_decision", "ranked_split", "score_job"]
