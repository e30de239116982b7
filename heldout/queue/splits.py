"""Per-split scores: a test set in a public and a private part, scored in one pass.

One `SplitScore` is one metric on one split, the same shape as an item of the results
schema's `split_scores` column, so an entry's scores and a published row never differ
in form. Later additions (confidence intervals) are fields with defaults here.

Who may see what: public split scores are published with every result; private ones
stay in the private queue repo until the reveal (`reveal.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

PUBLIC = "public"
PRIVATE = "private"
SPLITS = (PUBLIC, PRIVATE)
SPLIT_COLUMN = "split"
WHOLE = "all"  # the whole test set, for a benchmark without a split (intervals live here)


@dataclass(frozen=True)
class SplitScore:
    split: str
    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None

    def __post_init__(self) -> None:
        if self.split not in (*SPLITS, WHOLE):
            raise ValueError(f"a split is 'public' or 'private', not {self.split!r}")
        if not self.metric or not math.isfinite(float(self.value)):
            raise ValueError("a split score needs a metric name and a finite value")
        object.__setattr__(self, "value", float(self.value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_metrics(split: str, metrics: dict[str, float]) -> tuple[SplitScore, ...]:
    return tuple(SplitScore(split, name, value) for name, value in sorted(metrics.items()))


def parse(items: Iterable[Any] | None) -> tuple[SplitScore, ...]:
    """From stored JSON (dicts) or already-built scores."""
    return tuple(i if isinstance(i, SplitScore) else SplitScore(**i) for i in items or ())


def metrics_of(scores: Iterable[SplitScore], split: str) -> dict[str, float]:
    """{metric: value} of one split; empty when the split was not scored."""
    return {s.metric: s.value for s in scores if s.split == split}


def only(scores: Iterable[SplitScore], *splits: str) -> tuple[SplitScore, ...]:
    """The scores of the given splits: `only(scores, PUBLIC)` is what may be published
    before the reveal."""
    return tuple(s for s in scores if s.split in splits)


def row_items(scores: Iterable[SplitScore]) -> list[dict[str, Any]]:
    """For the results schema's `split_scores` column."""
    return [s.to_dict() for s in scores]
