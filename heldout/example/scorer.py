"""Reference scorer for the example benchmark: accuracy and macro-F1.

Copy this file to start your own benchmark's scorer. The evaluator calls
`score(predictions, truth)` with two pandas DataFrames, already validated:
predictions has columns `id` and `prediction`, truth has `id` and `label`. Return a
dict of metric name to float. Everything is vectorised, so a million rows take well
under a second; it imports nothing from heldout, so it runs anywhere.

`per_example(predictions, truth)` is optional. With it, every score gets a 95%
confidence interval, and the board can tell real differences from noise (tied bands,
the Ladder). It returns, per metric, what the metric is built from, one row per test
item in the truth's order:
- a 1-D array: the metric is the mean of these values (accuracy: 1 right, 0 wrong);
- or {"values": 2-D array (items, c), "aggregate": A}: the metric is A applied to the
  mean row of the values. A is "mean" (of column 0), "macro_f1" (columns laid out as
  one-hot [true positive | predicted | true] per class), or your own function from a
  (B, c) array of mean rows to B metric values.
Its values reveal the labels: the evaluator keeps them to itself and publishes only
the intervals and tests computed from them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def score(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Score over the truth's ids; an id with no prediction counts as wrong."""
    predicted = _aligned(predictions, truth["id"])
    actual = truth["label"].reset_index(drop=True)
    hit = predicted.eq(actual)
    # Per class, F1 = 2·TP / (times predicted + times true); macro-F1 is their plain mean
    # over every class that occurs in either column (as scikit-learn does).
    true_counts = actual.value_counts()
    predicted_counts = predicted.value_counts()
    classes = true_counts.index.union(predicted_counts.index)
    tp = actual[hit].value_counts().reindex(classes, fill_value=0)
    both = true_counts.reindex(classes, fill_value=0) + predicted_counts.reindex(
        classes, fill_value=0
    )
    f1 = 2 * tp / both
    return {"accuracy": float(hit.mean()), "macro_f1": float(f1.mean())}


def per_example(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, object]:
    """What accuracy and macro-F1 are built from, per test item (see the module doc)."""
    predicted = _aligned(predictions, truth["id"])
    actual = truth["label"].reset_index(drop=True)
    classes = pd.Index(actual.unique()).union(pd.Index(predicted.dropna().unique()))
    true_codes = classes.get_indexer(actual)
    predicted_codes = classes.get_indexer(predicted)  # -1 where there is no prediction
    n, k, rows = len(actual), len(classes), np.arange(len(actual))
    counts = np.zeros((n, 3 * k))
    hit = predicted_codes == true_codes
    counts[rows[hit], true_codes[hit]] = 1
    has = predicted_codes >= 0
    counts[rows[has], k + predicted_codes[has]] = 1
    counts[rows, 2 * k + true_codes] = 1
    return {
        "accuracy": hit.astype(np.float64),
        "macro_f1": {"values": counts, "aggregate": "macro_f1"},
    }


def _aligned(predictions: pd.DataFrame, ids: pd.Series) -> pd.Series:
    """One prediction per truth row, in the truth's order (NaN where one is missing)."""
    if predictions["id"].reset_index(drop=True).equals(ids.reset_index(drop=True)):
        return predictions["prediction"].reset_index(drop=True)
    by_id = predictions.set_index("id")["prediction"]
    return by_id.reindex(ids.to_numpy()).reset_index(drop=True)
