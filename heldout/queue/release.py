"""What a scored job may show before the reveal, under `[review] release`.

With `release = "all"` every score is published as computed. With `"ladder"` the
evaluator decides, per job, whether its public score is released (the Ladder: only a
significant gain over the submitter's shown best is), and records the decision here, in
the private entry. A released job shows its scores rounded to the test's resolution; a
job that was not released shows none, and My submissions says why. The full scores stay
in the entry (private) and come out at the reveal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Release:
    """The Ladder's decision for one job.

    `shown`: the submitter's shown public primary score after this job; `updated`: this
    job's score is the one shown now; `margin`: the gain the paired test required;
    `resolution`: what shown scores are rounded to; `best_job`: the job shown; `level`:
    the test's level for this judgement.

    `step` (k: this is the submitter's k-th judgement) and `against` (the job that was
    shown when it was judged; None for the first) say which state of the submitter's
    Ladder the decision was made in. The commit that records it checks that this is
    still the state in the queue (`queue/ladder.py`), so two workers can never both
    judge against one previous best. 0 and None: a decision recorded before they were."""

    shown: float
    updated: bool
    margin: float
    resolution: float
    best_job: str
    level: float = 0.05
    step: int = 0
    against: str | None = None

    def __post_init__(self) -> None:
        for name in ("shown", "margin", "resolution", "level"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"a release's {name} must be a finite number")
        if self.resolution <= 0 or not self.best_job:
            raise ValueError("a release needs a positive resolution and the job it shows")
        if not isinstance(self.step, int) or self.step < 0:
            raise ValueError("a release's step must be a whole number, 1 for the first")
        if self.step == 1 and self.against is not None:
            raise ValueError("a submitter's first judgement is against nothing")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, data: Any) -> Release | None:
        if data is None or isinstance(data, Release):
            return data
        return cls(**data)

    def rounded(self, value: float) -> float:
        digits = max(0, -round(math.log10(self.resolution)))
        return round(round(value / self.resolution) * self.resolution, digits)

    def why(self, primary: str) -> str:
        """The sentence My submissions shows the submitter."""
        if self.updated:
            return (
                f"Released: {primary} {self.shown:g} is your new shown score (rounded to "
                f"{self.resolution:g}; it beat your previous best by more than {self.margin:.3g})."
            )
        return (
            f"Not released: this score did not beat your shown best ({self.shown:g}) by a "
            f"significant margin ({self.margin:.3g} at level {self.level:g}), so your shown "
            "score stays. The full score is kept privately for the final ranking."
        )


def published_scores(scores: dict[str, float], release: Release | None) -> dict[str, float | None]:
    """The metric values a result row may carry: all, rounded, or none."""
    if release is None:
        return dict(scores)
    if not release.updated:
        return {m: None for m in scores}
    return {m: release.rounded(v) for m, v in scores.items()}


__all__ = ["Release", "published_scores"]
