"""The split: written deterministically by `heldout init`, checked when loaded, and scored
in one pass, each part against its own rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from heldout.config import BenchmarkConfig, load_config
from heldout.errors import ConfigError
from heldout.evaluator.scoring import load_truth, score_splits
from heldout.example.generate import make_predictions, make_split, make_truth
from heldout.example.scorer import score
from heldout.queue.splits import PRIVATE, PUBLIC, SplitScore, metrics_of
from heldout.scaffold import init_benchmark

BENCH = BenchmarkConfig("b", "accuracy", metrics=("accuracy", "macro_f1"))
LABELS = ["negative", "neutral", "positive"]


def test_the_split_is_deterministic_and_keeps_the_fraction() -> None:
    one, two = make_split(1000, 0.3, seed=4), make_split(1000, 0.3, seed=4)
    assert (one == two).all()
    assert (one == "public").sum() == 300 and (one == "private").sum() == 700
    assert not (make_split(1000, 0.3, seed=5) == one).all()


def test_init_writes_a_split_test_set_with_the_fraction_in_the_config(tmp_path: Path) -> None:
    folder = init_benchmark(tmp_path / "bench", n_items=200)
    config = load_config(folder.config)
    assert config.benchmark.public_fraction == 0.5
    truth = load_truth(config.evaluator.truth, config.benchmark)
    assert truth["split"].value_counts().to_dict() == {"public": 100, "private": 100}
    again = init_benchmark(tmp_path / "again", n_items=200)
    assert load_truth(load_config(again.config).evaluator.truth, config.benchmark)["split"].equals(
        truth["split"]
    )


def test_a_split_column_must_hold_both_parts_and_nothing_else(tmp_path: Path) -> None:
    truth = make_truth(10, public_fraction=0.5)
    truth.loc[0, "split"] = "secret"
    path = tmp_path / "t.parquet"
    truth.to_parquet(path)
    with pytest.raises(ConfigError, match="must hold both 'public' and 'private'"):
        load_truth(path, BENCH)
    make_truth(10).assign(split="public").to_parquet(path)
    with pytest.raises(ConfigError, match="split"):
        load_truth(path, BENCH)


@pytest.mark.parametrize("shuffled", [False, True])
def test_both_splits_are_scored_in_one_pass_each_on_its_own_rows(shuffled: bool) -> None:
    truth = make_truth(300, seed=1, public_fraction=0.4)
    predictions = make_predictions(truth["id"], LABELS, 0.6, seed=2, truth=truth)
    if shuffled:
        predictions = predictions.sample(frac=1.0, random_state=0)
    result = score_splits(predictions, truth, score, BENCH)
    for part in (PUBLIC, PRIVATE):
        rows = truth[truth["split"] == part].drop(columns=["split"]).reset_index(drop=True)
        wanted = score(predictions.set_index("id").loc[rows["id"]].reset_index(), rows)
        assert metrics_of(result.split_scores, part) == pytest.approx(wanted)
    assert result.scores == metrics_of(result.split_scores, PUBLIC)
    assert {s.split for s in result.split_scores} == {PUBLIC, PRIVATE}


def test_without_a_split_scoring_is_unchanged() -> None:
    truth = make_truth(100, seed=1)
    predictions = make_predictions(truth["id"], LABELS, 0.6, seed=2, truth=truth)
    result = score_splits(predictions, truth, score, BENCH)
    assert result.split_scores == () and result.scores == pytest.approx(score(predictions, truth))


def test_a_split_score_checks_itself() -> None:
    with pytest.raises(ValueError, match="public' or 'private"):
        SplitScore("holdout", "accuracy", 0.5)
    with pytest.raises(ValueError, match="finite"):
        SplitScore("public", "accuracy", float("nan"))
    assert SplitScore("public", "accuracy", 1).to_dict() == {
        "split": "public",
        "metric": "accuracy",
        "value": 1.0,
        "ci_low": None,
        "ci_high": None,
    }
