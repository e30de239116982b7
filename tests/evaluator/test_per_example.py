"""The scorer's per-example view: found, checked, split, and turned into intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heldout.config import BenchmarkConfig
from heldout.errors import ScorerError
from heldout.evaluator import per_example, stats
from heldout.example import LABELS, METRICS, PRIMARY_METRIC
from heldout.example import scorer as example
from heldout.example.generate import make_predictions, make_truth

BENCH = BenchmarkConfig(name="t", primary_metric=PRIMARY_METRIC, metrics=METRICS, labels=LABELS)


@pytest.fixture
def truth() -> pd.DataFrame:
    return make_truth(3000, seed=2)


def test_the_example_scorers_view_reproduces_its_scores(truth: pd.DataFrame) -> None:
    guess = make_predictions(truth["id"], LABELS, 0.7, seed=3, truth=truth)
    guess.loc[:9, "prediction"] = None  # ten items with no prediction count as wrong
    hook = per_example.find_hook(example.score)
    assert hook is example.per_example
    found = per_example.views(guess, truth, hook, BENCH)
    scores = example.score(guess, truth)
    assert set(found) == {"accuracy", "macro_f1"}
    for metric, view in found.items():
        assert view.score() == pytest.approx(scores[metric], abs=1e-12)


def test_a_scorer_without_the_hook_has_none() -> None:
    def score(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
        return {"accuracy": 1.0}

    assert per_example.find_hook(score) is None
    score.per_example = example.per_example  # type: ignore[attr-defined]
    assert per_example.find_hook(score) is example.per_example


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ([1, 2, 3], "dict of metric names"),
        ({"accuracy": np.ones(5)}, "one row per test item"),
        ({"accuracy": {"values": np.ones((4, 2)), "aggregate": "median"}}, "unknown aggregate"),
        ({"accuracy": ["a", "b", "c", "d"]}, "not numeric"),
        ({"accuracy": [1.0, float("nan"), 0.0, 1.0]}, "finite"),
    ],
)
def test_a_wrong_view_is_the_evaluators_error(returned: object, message: str) -> None:
    truth = make_truth(4, seed=1)
    with pytest.raises(ScorerError, match=message):
        per_example.views(
            truth.rename(columns={"label": "prediction"}), truth, lambda p, t: returned, BENCH
        )


def test_a_hook_that_raises_is_a_scorer_error() -> None:
    truth = make_truth(4, seed=1)

    def broken(p: pd.DataFrame, t: pd.DataFrame) -> dict[str, object]:
        raise KeyError("label")

    with pytest.raises(ScorerError, match="per_example raised KeyError"):
        per_example.views(truth, truth, broken, BENCH)


def test_views_split_by_the_split_column_and_give_one_interval_per_split(
    truth: pd.DataFrame,
) -> None:
    truth["split"] = np.where(np.arange(len(truth)) % 3 == 0, "private", "public")
    guess = make_predictions(truth["id"], LABELS, 0.7, seed=3, truth=truth)
    found = per_example.views(guess, truth, example.per_example, BENCH)
    by_split = per_example.split_views(found, truth)
    assert set(by_split) == {"public", "private"}
    assert by_split["private"]["accuracy"].n == 1000
    scores = {
        part: example.score(guess[truth["split"] == part], truth[truth["split"] == part])
        for part in ("public", "private")
    }
    for part in ("public", "private"):
        assert by_split[part]["macro_f1"].score() == pytest.approx(scores[part]["macro_f1"])
    found_intervals = per_example.intervals(by_split, scores)
    public = found_intervals["public"]["macro_f1"]
    assert public.low < scores["public"]["macro_f1"] < public.high
    assert (public.b, public.seed) == (stats.B_DEFAULT, stats.SEED_DEFAULT)
    # the private split is half the size of the public one: a wider interval
    private = found_intervals["private"]["macro_f1"]
    assert private.half_width > public.half_width


def test_a_view_that_disagrees_with_the_score_gets_no_interval(truth: pd.DataFrame) -> None:
    view = stats.mean_view(np.ones(len(truth)))
    found = per_example.intervals({"all": {"accuracy": view}}, {"all": {"accuracy": 0.5}})
    assert found == {}
    assert per_example.split_views({"accuracy": view}, truth) == {"all": {"accuracy": view}}
