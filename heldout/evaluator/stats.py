"""Honest numbers from per-example values: bootstrap intervals, paired tests, tied bands
and the Ladder. Pure functions of numpy arrays; no I/O.

The per-example view of one metric is a `View`: an (n, c) array with one row per test
item, and an `aggregate` that turns the mean row of any resample, shape (B, c), into
the metric, shape (B,). A mean of per-example values (accuracy) is c = 1 and the
aggregate is that column. Macro-F1 is c = 3k: per item, one-hot counts of
(true positive, predicted, true) for each of k classes, and the aggregate is
mean over classes of 2·tp / (predicted + true). Any metric that is a function of
summed per-item counts fits.

Resampling is vectorised and exact. When the rows take few distinct values (0/1
correctness, one-hot confusion counts), resampling n items with replacement is the same
as drawing how often each distinct row is drawn, Multinomial(n, frequencies): one
(B, m) draw for m distinct rows, whatever n is. Otherwise items are resampled by index,
in chunks that bound memory.

Per-example values reveal the labels; they never leave the evaluator. Only what these
functions return (intervals, p-values, decisions) is published.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Aggregate = Callable[[np.ndarray], np.ndarray]

B_DEFAULT = 1000
SEED_DEFAULT = 20150706  # fixed, and recorded with every interval it produced
_DISTINCT_MAX = 4096  # above this many distinct rows, resample by index
_CHUNK_CELLS = 2_000_000  # items × columns resampled at once on the index path


@dataclass(frozen=True)
class View:
    """One metric's per-example view: `values` (n, c) and the aggregate of their mean."""

    values: np.ndarray
    aggregate: Aggregate

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or len(self.values) == 0:
            raise ValueError("a per-example view needs a non-empty (n, c) array")
        if not np.isfinite(self.values).all():
            raise ValueError("a per-example view must hold finite numbers only")

    @property
    def n(self) -> int:
        return len(self.values)

    def score(self) -> float:
        return float(self.aggregate(self.values.mean(axis=0, keepdims=True))[0])


def mean_view(values: Sequence[float] | np.ndarray) -> View:
    """The metric is the mean of these per-example values (accuracy: 1 right, 0 wrong)."""
    column = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return View(column, _first_column)


def macro_f1_aggregate(means: np.ndarray) -> np.ndarray:
    """(B, 3k) mean counts laid out [tp | predicted | true] -> (B,) macro-F1.

    Classes that occur in neither column of a resample are left out of its mean, as
    scikit-learn (and the example scorer) do."""
    k = means.shape[1] // 3
    tp, both = means[:, :k], means[:, k : 2 * k] + means[:, 2 * k :]
    present = both > 0
    f1 = np.divide(2 * tp, both, out=np.zeros_like(tp), where=present)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def macro_f1_view(true_codes: np.ndarray, predicted_codes: np.ndarray, k: int) -> View:
    """Per-example one-hot confusion counts; a code of -1 (no prediction) counts nowhere."""
    true_codes = np.asarray(true_codes)
    predicted_codes = np.asarray(predicted_codes)
    n = len(true_codes)
    rows = np.arange(n)
    counts = np.zeros((n, 3 * k))
    hit = (predicted_codes == true_codes) & (predicted_codes >= 0)
    counts[rows[hit], true_codes[hit]] = 1
    has = predicted_codes >= 0
    counts[rows[has], k + predicted_codes[has]] = 1
    counts[rows, 2 * k + true_codes] = 1
    return View(counts, macro_f1_aggregate)


def _first_column(means: np.ndarray) -> np.ndarray:
    return means[:, 0]


# ---- resampling ------------------------------------------------------------------


def resample_means(values: np.ndarray, b: int, rng: np.random.Generator) -> np.ndarray:
    """(b, c): the mean row of each of b resamples of the n rows, with replacement."""
    n, c = values.shape
    distinct, counts = _distinct_rows(values)
    if len(distinct) <= _DISTINCT_MAX:
        draws = rng.multinomial(n, counts / n, size=b)  # (b, m)
        return draws @ distinct / n
    out = np.empty((b, c))
    step = max(1, _CHUNK_CELLS // (n * c))
    for start in range(0, b, step):
        stop = min(b, start + step)
        index = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[index].mean(axis=1)
    return out


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows and how often each occurs, as `np.unique(axis=0)` but faster:
    rows are keyed by a fixed random projection, and the keys are checked to have
    grouped only equal rows (else the exact, slower path is taken)."""
    weights = np.random.default_rng(0).random(values.shape[1]) + 0.5
    keys, first, inverse, counts = np.unique(
        values @ weights, return_index=True, return_inverse=True, return_counts=True
    )
    distinct = values[first]
    if len(keys) <= _DISTINCT_MAX and not np.array_equal(distinct[inverse], values):
        return np.unique(values, axis=0, return_counts=True)
    return distinct, counts


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval, with what is needed to reproduce it."""

    value: float
    low: float
    high: float
    b: int
    seed: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def bootstrap_interval(
    view: View, *, b: int = B_DEFAULT, seed: int = SEED_DEFAULT, level: float = 0.95
) -> Interval:
    """The metric and its percentile bootstrap interval at `level` (B resamples, seeded)."""
    _check_level(level)
    rng = np.random.default_rng(seed)
    replicates = view.aggregate(resample_means(view.values, b, rng))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return Interval(view.score(), float(low), float(high), b, seed, level)


# ---- paired comparison -----------------------------------------------------------


@dataclass(frozen=True)
class Paired:
    """`a` against `b` on the same items; `delta` > 0 means `a` is better.

    `p_value` is one-sided, for "a is not better than b": the share of paired bootstrap
    resamples in which a's advantage vanished, (1 + #{delta* <= 0}) / (B + 1).
    `se` is the bootstrap standard error of delta."""

    delta: float
    p_value: float
    se: float


def paired_test(
    a: View,
    b: View,
    *,
    higher_is_better: bool = True,
    resamples: int = B_DEFAULT,
    seed: int = SEED_DEFAULT,
) -> Paired:
    """Paired bootstrap test: both prediction sets are resampled on the same items."""
    if a.n != b.n:
        raise ValueError(f"a paired test needs the same items ({a.n} != {b.n})")
    ca = a.values.shape[1]
    joint = np.hstack([a.values, b.values])
    means = resample_means(joint, resamples, np.random.default_rng(seed))
    sign = 1.0 if higher_is_better else -1.0
    deltas = sign * (a.aggregate(means[:, :ca]) - b.aggregate(means[:, ca:]))
    delta = sign * (a.score() - b.score())
    p_value = (1 + int(np.count_nonzero(deltas <= 0))) / (resamples + 1)
    return Paired(delta, p_value, float(deltas.std(ddof=1)))


def holm(p_values: Sequence[float], level: float) -> list[bool]:
    """Holm's step-down correction: which hypotheses are rejected at family level `level`."""
    if not 0 < level < 0.5:
        raise ValueError(f"a test level must be in (0, 0.5), not {level}")
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > level / (m - rank):
            break
        rejected[i] = True
    return rejected


def tied_bands(
    views: Sequence[View],
    *,
    level: float = 0.05,
    higher_is_better: bool = True,
    resamples: int = B_DEFAULT,
    seed: int = SEED_DEFAULT,
) -> list[int]:
    """Band number (1, 2, …) of each row; `views` are in board order, best first.

    The first row heads band 1. It is compared with every row below it by the paired
    test, Holm-corrected over those comparisons at `level`. The band runs down the
    board until the first row significantly worse than its head; that row heads the next
    band, compared in the same way with the rows below it. So a row shares a band with
    its head exactly when the data cannot tell them apart."""
    bands = [0] * len(views)
    head, band = 0, 1
    while head < len(views):
        rest = list(range(head + 1, len(views)))
        p = [
            paired_test(
                views[head],
                views[i],
                higher_is_better=higher_is_better,
                resamples=resamples,
                seed=seed,
            ).p_value
            for i in rest
        ]
        rejected = holm(p, level)
        bands[head] = band
        nxt = len(views)
        for i, worse in zip(rest, rejected, strict=True):
            if worse:
                nxt = i
                break
            bands[i] = band
        head, band = nxt, band + 1
    return bands


# ---- the Ladder --------------------------------------------------------------------


@dataclass(frozen=True)
class LadderStep:
    """What the Ladder shows after one submission.

    `updated`: the submission beat the previous best by more than `margin`, the standard
    error of the paired difference; `shown` is then its score rounded to `resolution`,
    else the previous shown score, unchanged."""

    updated: bool
    shown: float
    margin: float
    resolution: float


def resolution_of(margin: float) -> float:
    """The test's resolution: the power of ten at or below its margin (0.021 -> 0.01)."""
    if margin <= 0 or not math.isfinite(margin):
        return 1e-4
    return 10.0 ** math.floor(math.log10(margin))


def round_to(value: float, resolution: float) -> float:
    digits = max(0, -round(math.log10(resolution)))
    return round(round(value / resolution) * resolution, digits)


def ladder_step(
    new: View,
    best: View | None,
    shown: float | None,
    *,
    level: float = 0.05,
    higher_is_better: bool = True,
    resamples: int = B_DEFAULT,
    seed: int = SEED_DEFAULT,
) -> LadderStep:
    """The Ladder (Blum & Hardt, ICML 2015) with a paired test as its step.

    The new score is released only when it beats the previous best significantly: a
    one-sided paired bootstrap test at `level`, whose margin is z(1 - level) standard
    errors of the paired difference. The paper's parameter-free Ladder is the same rule
    at one standard error (level ≈ 0.16); a stricter level gives away less. The released
    score is rounded to the test's resolution (the power of ten at or below the margin).
    A submitter's first submission is always released, rounded to the resolution of its
    own interval."""
    z = _z(1 - level)
    if best is None or shown is None:
        interval = bootstrap_interval(new, b=resamples, seed=seed)
        margin = z * interval.half_width / 1.96
        res = resolution_of(margin)
        return LadderStep(True, round_to(interval.value, res), margin, res)
    test = paired_test(new, best, higher_is_better=higher_is_better, resamples=resamples, seed=seed)
    margin = z * test.se
    res = resolution_of(margin)
    if test.delta > margin:
        return LadderStep(True, round_to(new.score(), res), margin, res)
    return LadderStep(False, shown, margin, res)


def spent_level(alpha: float, k: int) -> float:
    """The level of a submitter's k-th judgement (k = 1, 2, …): alpha·6/(π²k²).

    These levels add up to alpha over all k, so however many files a submitter sends,
    the chance that noise alone ever moves their shown score stays below alpha."""
    if k < 1:
        raise ValueError(f"judgements are numbered from 1, not {k}")
    return alpha * 6 / (math.pi**2 * k * k)


def _z(p: float) -> float:
    """The standard normal quantile at p, by bisection on erf (no scipy needed)."""
    low, high = -10.0, 10.0
    for _ in range(80):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _check_level(level: float) -> None:
    if not 0.5 <= level < 1:
        raise ValueError(f"a confidence level must be in [0.5, 1), not {level}")


__all__ = [
    "B_DEFAULT",
    "SEED_DEFAULT",
    "Interval",
    "LadderStep",
    "Paired",
    "View",
    "bootstrap_interval",
    "holm",
    "ladder_step",
    "macro_f1_aggregate",
    "macro_f1_view",
    "mean_view",
    "paired_test",
    "resample_means",
    "resolution_of",
    "round_to",
    "spent_level",
    "tied_bands",
]
