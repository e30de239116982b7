"""Write the example benchmark's files: a private test set and the public files around it.

Everything is drawn from one seeded generator, so a seed always gives the same files
(tests and demos rely on it). The sample predictions are right about 70% of the time,
so a fresh leaderboard shows a real, imperfect score rather than 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from heldout.example import LABELS

LABEL_SHARES = (0.3, 0.2, 0.5)  # unbalanced on purpose: accuracy and macro-F1 then differ
SAMPLE_ACCURACY = 0.7


@dataclass(frozen=True)
class ExampleFiles:
    """Where `write_benchmark` put each file."""

    root: Path
    truth: Path  # private/truth.parquet: (id, label), for the evaluator only
    public_ids: Path  # public/test_ids.txt: one id per line
    sample_predictions: Path  # public/sample_predictions.csv: (id, prediction)


def example_ids(n: int) -> list[str]:
    """ "ex-00001" … ; wider when n needs more digits, so ids always sort in order."""
    width = max(5, len(str(n)))
    return [f"ex-{i:0{width}d}" for i in range(1, n + 1)]


def make_truth(n: int = 2000, seed: int = 0, public_fraction: float | None = None) -> pd.DataFrame:
    """The test set: columns id and label, and `split` when `public_fraction` is given."""
    rng = np.random.default_rng([seed, 0])
    labels = np.asarray(LABELS, dtype=object)[rng.choice(len(LABELS), size=n, p=LABEL_SHARES)]
    truth = pd.DataFrame(
        {"id": pd.array(example_ids(n), dtype="str"), "label": pd.array(labels, dtype="str")}
    )
    if public_fraction is not None:
        truth["split"] = pd.array(make_split(n, public_fraction, seed), dtype="str")
    return truth


def make_split(n: int, public_fraction: float, seed: int = 0) -> np.ndarray:
    """A deterministic public/private split: the same n, fraction and seed give the same
    split. Both parts get at least one item."""
    if not 0.0 < public_fraction < 1.0 or n < 2:
        raise ValueError("a split needs 0 < public_fraction < 1 and at least two items")
    public = min(n - 1, max(1, round(n * public_fraction)))
    order = np.random.default_rng([seed, 2]).permutation(n)
    split = np.full(n, "private", dtype=object)
    split[order[:public]] = "public"
    return split


def make_predictions(
    ids: Sequence[str] | pd.Index | pd.Series,
    labels: Sequence[str],
    accuracy: float,
    seed: int,
    truth: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Predictions (id, prediction) for tests, benchmarks and demo seeding.

    With `truth` (id, label), each prediction is right with probability `accuracy`, and
    otherwise one of the other labels; without it, labels are drawn uniformly.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be between 0 and 1, not {accuracy}")
    if len(labels) < 2:
        raise ValueError("make_predictions needs at least two labels")
    ids = pd.Index(ids, dtype="str")
    choices = np.asarray(labels, dtype=object)
    rng = np.random.default_rng([seed, 1])
    guess = rng.integers(0, len(choices), size=len(ids))
    if truth is not None:
        if truth["id"].reset_index(drop=True).equals(pd.Series(ids)):
            actual = truth["label"]
        else:
            actual = truth.set_index("id")["label"].reindex(ids)
        code = pd.Categorical(actual, categories=list(labels)).codes.astype(np.int64)
        right = rng.random(len(ids)) < accuracy
        other = (code + rng.integers(1, len(choices), size=len(ids))) % len(choices)
        guess = np.where(code < 0, guess, np.where(right, code, other))
    return pd.DataFrame(
        {"id": pd.array(ids, dtype="str"), "prediction": pd.array(choices[guess], dtype="str")}
    )


def write_benchmark(
    dest: Path, n: int = 2000, seed: int = 0, public_fraction: float | None = None
) -> ExampleFiles:
    """Write private/truth.parquet, public/test_ids.txt and public/sample_predictions.csv."""
    dest = Path(dest)
    files = ExampleFiles(
        root=dest,
        truth=dest / "private" / "truth.parquet",
        public_ids=dest / "public" / "test_ids.txt",
        sample_predictions=dest / "public" / "sample_predictions.csv",
    )
    for folder in (files.truth.parent, files.public_ids.parent):
        folder.mkdir(parents=True, exist_ok=True)
    truth = make_truth(n, seed, public_fraction)
    truth.to_parquet(files.truth, index=False)
    files.public_ids.write_text("\n".join(truth["id"]) + "\n", encoding="utf-8")
    sample = make_predictions(truth["id"], LABELS, SAMPLE_ACCURACY, seed, truth=truth)
    sample.to_csv(files.sample_predictions, index=False, lineterminator="\n")
    return files
