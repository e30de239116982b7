"""Honest numbers on the board: a score with its interval, the tied bands, and the
interval around the best-so-far line.

Everything here is read from the published results: the evaluator computed the
intervals (`split_scores`' `ci_low`/`ci_high`) and the bands (`band`); the board only
formats them. A benchmark whose scorer has no per-example view has neither, and its
board shows plain scores.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

RANKED_SPLITS = ("public", "all")  # the live board's split: public, or the whole set
BAND = "Band"
BAND_NOTE = (
    "Rows in the same **band** cannot be told apart on this test set: the difference "
    "between each of them and the band's first row is small enough to be luck. Treat "
    "their order within the band as a tie."
)


def primary_interval(frame: pd.DataFrame, primary: str) -> pd.DataFrame:
    """(low, high) of each row's primary score on the ranked split; NaN when absent."""
    lows, highs = [], []
    column = frame["split_scores"] if "split_scores" in frame.columns else [None] * len(frame)
    for items in column:
        low = high = math.nan
        for item in items if items is not None else ():
            ours = item["metric"] == primary and item["split"] in RANKED_SPLITS
            if ours and item.get("ci_low") is not None and item.get("ci_high") is not None:
                low, high = float(item["ci_low"]), float(item["ci_high"])
        lows.append(low)
        highs.append(high)
    return pd.DataFrame({"low": lows, "high": highs}, index=frame.index, dtype="float64")


def score_text(value: Any, low: float, high: float) -> str:
    """`0.8517 ± 0.011`: the score and the half-width of its 95% interval."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isnan(low) or math.isnan(high):
        return f"{float(value):.4f}"
    return f"{float(value):.4f} ± {(high - low) / 2:.2g}"


def score_cells(frame: pd.DataFrame, primary: str) -> pd.Series:
    bounds = primary_interval(frame, primary)
    texts = [
        score_text(v, lo, hi)
        for v, lo, hi in zip(frame[primary], bounds["low"], bounds["high"], strict=True)
    ]
    return pd.Series(texts, index=frame.index, dtype=object)


def band_cells(frame: pd.DataFrame) -> pd.Series:
    """`1`, `2`, … for the rows the evaluator placed in a band; blank for the others."""
    if "band" not in frame.columns:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return frame["band"].map(lambda b: "" if pd.isna(b) else str(int(b))).astype(object)


__all__ = ["BAND", "BAND_NOTE", "band_cells", "primary_interval", "score_cells", "score_text"]
