"""The worked example benchmark shipped with heldout: sentiment of short product reviews.

Three labels, 2,000 generated items, accuracy and macro-F1. `generate` writes its
private test set and its public files; `scorer` is the reference scorer that other
benchmarks copy; about.md is the public description the leaderboard's About tab shows.
Nothing here imports `heldout.evaluator`, so the leaderboard may use this package.
"""

from __future__ import annotations

from pathlib import Path

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
PRIMARY_METRIC = "macro_f1"
METRICS: tuple[str, ...] = ("accuracy", "macro_f1")
SCORER = "heldout.example.scorer:score"
ABOUT = Path(__file__).with_name("about.md")

__all__ = ["ABOUT", "LABELS", "METRICS", "PRIMARY_METRIC", "SCORER"]
