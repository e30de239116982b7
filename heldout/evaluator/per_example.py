"""A scorer's optional per-example view, and the intervals computed from it.

A benchmark's scorer module may define `per_example(predictions, truth)` next to
`score` (or set `score.per_example`). It returns, per metric, what the metric is built
from, one row per test item in the truth's order: a 1-D array whose mean is the metric,
or {"values": 2-D array, "aggregate": "mean" | "macro_f1" | function}. See
heldout/example/scorer.py. A scorer without it still works; its scores have no
intervals, and tied bands and the Ladder fall back to plain scores.

Per-example values reveal the labels. They are made and used inside the scoring child
process, and only intervals, p-values and decisions ever leave it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.errors import ScorerError
from heldout.evaluator import stats
from heldout.evaluator.scoring import call_scorer

log = logging.getLogger("heldout.evaluator")

Hook = Callable[[pd.DataFrame, pd.DataFrame], Mapping[str, Any]]
WHOLE = "all"  # the split name of a test set that has no `split` column
SPLIT_COLUMN = "split"
_AGGREGATES: dict[str, stats.Aggregate] = {
    "mean": lambda means: means[:, 0],
    "macro_f1": stats.macro_f1_aggregate,
}


def find_hook(scorer: Callable[..., Any]) -> Hook | None:
    """The scorer's `per_example`: an attribute of the function, or a function of that
    name in the scorer's own module."""
    hook = getattr(scorer, "per_example", None)
    if hook is None:
        hook = getattr(scorer, "__globals__", {}).get("per_example")
    return hook if callable(hook) else None


def views(
    aligned: pd.DataFrame, truth: pd.DataFrame, hook: Hook, benchmark: BenchmarkConfig
) -> dict[str, stats.View]:
    """Call the hook on predictions already in the truth's order; check what it returns.

    Only declared metrics are kept. What the hook gets wrong is the evaluator's fault
    (`ScorerError`), never the submitter's."""
    raw = call_scorer(hook, aligned, truth, "the scorer's per_example")
    if not isinstance(raw, Mapping):
        raise ScorerError("the scorer's per_example must return a dict of metric names")
    found: dict[str, stats.View] = {}
    for metric in benchmark.all_metrics:
        if metric in raw:
            found[metric] = _view(metric, raw[metric], len(truth))
    return found


def _view(metric: str, item: Any, n: int) -> stats.View:
    aggregate: Any = "mean"
    if isinstance(item, Mapping):
        values, aggregate = item.get("values"), item.get("aggregate", "mean")
    else:
        values = item
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScorerError(f"per_example[{metric!r}] is not numeric: {exc}") from None
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or len(array) != n:
        raise ScorerError(
            f"per_example[{metric!r}] must have one row per test item ({n}), "
            f"not shape {array.shape}"
        )
    if isinstance(aggregate, str):
        if aggregate not in _AGGREGATES:
            raise ScorerError(f"per_example[{metric!r}]: unknown aggregate {aggregate!r}")
        aggregate = _AGGREGATES[aggregate]
    elif not callable(aggregate):
        raise ScorerError(f"per_example[{metric!r}]: the aggregate must be a name or function")
    try:
        return stats.View(array, aggregate)
    except ValueError as exc:
        raise ScorerError(f"per_example[{metric!r}]: {exc}") from None


def split_views(
    all_views: Mapping[str, stats.View], truth: pd.DataFrame
) -> dict[str, dict[str, stats.View]]:
    """{split: {metric: view}}: the rows of each split of the test set, or of the whole
    set (`WHOLE`) when it has no split column."""
    if SPLIT_COLUMN not in truth.columns:
        return {WHOLE: dict(all_views)}
    parts = truth[SPLIT_COLUMN].astype("str").to_numpy()
    return {
        split: {m: stats.View(v.values[parts == split], v.aggregate) for m, v in all_views.items()}
        for split in sorted(set(parts))
    }


def intervals(
    by_split: Mapping[str, Mapping[str, stats.View]],
    scores: Mapping[str, Mapping[str, float]],
    *,
    b: int = stats.B_DEFAULT,
    seed: int = stats.SEED_DEFAULT,
) -> dict[str, dict[str, stats.Interval]]:
    """{split: {metric: interval}} for every view that reproduces the scorer's score.

    A view whose own value differs from the score would give an interval around the
    wrong number; it is left out, with a line in the maintainer's log."""
    found: dict[str, dict[str, stats.Interval]] = {}
    for split, metrics in by_split.items():
        for metric, view in metrics.items():
            expected = scores.get(split, {}).get(metric)
            if expected is None:
                continue
            if not math.isclose(view.score(), expected, rel_tol=1e-9, abs_tol=1e-12):
                log.warning(
                    "per_example[%r] gives %.6g on %s, the scorer %.6g: no interval",
                    metric,
                    view.score(),
                    split,
                    expected,
                )
                continue
            found.setdefault(split, {})[metric] = stats.bootstrap_interval(view, b=b, seed=seed)
    return found


__all__ = ["WHOLE", "Hook", "find_hook", "intervals", "split_views", "views"]
