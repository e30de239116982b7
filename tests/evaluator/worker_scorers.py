"""Scorers for the worker tests. They log each call, so a test can count how often
each submission was scored and by which process.

A job is known by a digest of its predictions, since a scorer never sees job ids.
The log path and a delay come from the environment, which forked and spawned
workers inherit.
"""

from __future__ import annotations

import hashlib
import os
import time

import pandas as pd

LOG_ENV = "HELDOUT_TEST_SCORER_LOG"
SLEEP_ENV = "HELDOUT_TEST_SCORER_SLEEP"


def digest(predictions: pd.DataFrame) -> str:
    """Names a submission; the predictions arrive in the truth's (sorted) id order."""
    ordered = predictions.sort_values("id")
    text = "\n".join(f"{i}={p}" for i, p in zip(ordered["id"], ordered["prediction"], strict=True))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _log(event: str, predictions: pd.DataFrame) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:  # one short append: atomic
            handle.write(f"{event} {digest(predictions)} {os.getpid()}\n")


def score(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Accuracy, after an optional delay; logs "start" and "done"."""
    _log("start", predictions)
    time.sleep(float(os.environ.get(SLEEP_ENV) or 0))
    hit = predictions["prediction"].to_numpy() == truth["label"].to_numpy()
    _log("done", predictions)
    return {"accuracy": float(hit.mean()), "macro_f1": float(hit.mean()) / 2}


def score_by_content(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """All "negative": raises. All "neutral": hangs. Anything else: scored."""
    values = set(predictions["prediction"])
    if values == {"negative"}:
        _log("raise", predictions)
        raise ZeroDivisionError(f"scorer bug; first label is {truth['label'].iloc[0]}")
    if values == {"neutral"}:
        _log("hang", predictions)
        time.sleep(3600)
    return score(predictions, truth)
