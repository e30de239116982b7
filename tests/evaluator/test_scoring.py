"""Loading the scorer and the test set, calling the scorer, fingerprinting the test set."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heldout.config import BenchmarkConfig
from heldout.errors import ConfigError, InvalidPredictions, ScorerError
from heldout.evaluator.scoring import (
    check_result,
    fingerprint,
    load_scorer,
    load_truth,
    score_predictions,
)
from heldout.example import LABELS
from heldout.example.generate import make_predictions, make_truth
from heldout.example.scorer import score

BENCH = BenchmarkConfig(
    name="t", primary_metric="macro_f1", metrics=("accuracy", "macro_f1"), labels=LABELS
)


@pytest.fixture()
def truth() -> pd.DataFrame:
    return make_truth(200, seed=3)


# --- load_scorer ------------------------------------------------------------------------


def test_load_scorer_by_module() -> None:
    assert load_scorer("heldout.example.scorer:score") is score


def test_load_scorer_from_code_dir(tmp_path: Path) -> None:
    (tmp_path / "bench_scorer_7f3a.py").write_text("def score(p, t):\n    return {'m': 1.0}\n")
    found = load_scorer("bench_scorer_7f3a:score", code_dir=tmp_path)
    assert found(None, None) == {"m": 1.0}
    assert str(tmp_path.resolve()) not in __import__("sys").path  # put back as it was


def test_load_scorer_from_file(tmp_path: Path) -> None:
    (tmp_path / "scorer.py").write_text(
        "class S:\n    @staticmethod\n    def go(p, t):\n        return {}\n"
    )
    assert load_scorer("scorer.py:S.go", code_dir=tmp_path)(1, 2) == {}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("no_colon", "must look like 'module:function'"),
        (":score", "must look like 'module:function'"),
        (
            "heldout_no_such_module_x:score",
            "cannot import the scorer 'heldout_no_such_module_x:score'",
        ),
        ("heldout.example.scorer:nope", "'heldout.example.scorer' has no 'nope'"),
        ("heldout.example:LABELS", "is not a function"),
    ],
)
def test_load_scorer_errors_name_the_spec(spec: str, words: str) -> None:
    with pytest.raises(ScorerError) as caught:
        load_scorer(spec)
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_load_scorer_with_a_broken_module(tmp_path: Path) -> None:
    (tmp_path / "broken_scorer_91c.py").write_text("def score(:\n")
    with pytest.raises(ScorerError, match="SyntaxError") as caught:
        load_scorer("broken_scorer_91c:score", code_dir=tmp_path)
    assert isinstance(caught.value.__cause__, SyntaxError)


# --- load_truth -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_load_truth_in_each_format(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"id": ["007", "010"], "label": ["neutral", "NA"]})
    path = tmp_path / f"truth{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    loaded = load_truth(path, BENCH)
    assert loaded["id"].tolist() == ["007", "010"]  # leading zeros kept: ids are text
    assert loaded["label"].tolist() == ["neutral", "NA"]
    assert pd.api.types.is_string_dtype(loaded["id"])


def test_load_truth_integer_ids_become_text(tmp_path: Path) -> None:
    path = tmp_path / "truth.parquet"
    pd.DataFrame({"id": [1, 2], "label": ["a", "b"]}).to_parquet(path)
    assert load_truth(path, BENCH)["id"].tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (pd.DataFrame({"key": ["a"], "label": ["x"]}), "has no id column 'id'"),
        (pd.DataFrame({"id": ["a", "a"], "label": ["x", "y"]}), "one unique id per row"),
        (pd.DataFrame({"id": pd.Series([], dtype=str), "label": []}), "non-empty"),
    ],
)
def test_load_truth_refuses_bad_tables(tmp_path: Path, frame: pd.DataFrame, words: str) -> None:
    path = tmp_path / "truth.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(ConfigError, match=words):
        load_truth(path, BENCH)


def test_load_truth_refuses_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no file at"):
        load_truth(tmp_path / "absent.parquet", BENCH)
    (tmp_path / "truth.xlsx").write_bytes(b"x")
    with pytest.raises(ConfigError, match="must be .parquet, .csv or .jsonl"):
        load_truth(tmp_path / "truth.xlsx", BENCH)


# --- score_predictions ------------------------------------------------------------------


def test_scores_with_the_example_scorer(truth: pd.DataFrame) -> None:
    predictions = make_predictions(truth["id"], LABELS, 0.7, seed=1, truth=truth)
    scores = score_predictions(predictions, truth, score, BENCH)
    assert set(scores) == {"accuracy", "macro_f1"}
    assert all(type(v) is float for v in scores.values())
    assert 0.55 < scores["accuracy"] < 0.85


def test_predictions_reach_the_scorer_in_truth_order(truth: pd.DataFrame) -> None:
    predictions = make_predictions(truth["id"], LABELS, 0.7, seed=1, truth=truth)
    shuffled = predictions.sample(frac=1.0, random_state=4).set_axis(range(200, 400))
    seen: list[pd.DataFrame] = []

    def spy(p: pd.DataFrame, t: pd.DataFrame) -> dict[str, float]:
        seen.append(p)
        return score(p, t)

    assert score_predictions(shuffled, truth, spy, BENCH) == score_predictions(
        predictions, truth, score, BENCH
    )
    assert seen[0]["id"].tolist() == truth["id"].tolist()
    assert list(seen[0].index) == list(range(200))


def test_a_scorer_cannot_corrupt_the_kept_test_set(truth: pd.DataFrame) -> None:
    before = truth.copy()

    def vandal(p: pd.DataFrame, t: pd.DataFrame) -> dict[str, float]:
        t.loc[0, "label"] = "vandalised"
        t["label"] = "gone"
        p.loc[0, "prediction"] = "changed"
        return {"accuracy": 0.0, "macro_f1": 0.0}

    predictions = make_predictions(truth["id"], LABELS, 1.0, seed=1, truth=truth)
    kept = predictions.copy()
    score_predictions(predictions, truth, vandal, BENCH)
    pd.testing.assert_frame_equal(truth, before)
    pd.testing.assert_frame_equal(predictions, kept)


def _returns(value: Any):  # noqa: ANN202 - a tiny scorer factory
    return lambda p, t: value


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ([0.5], "returned list, not a dict"),
        ({"accuracy": 0.5}, "lacks the declared metric(s) ['macro_f1']"),
        ({"accuracy": 0.5, "macro_f1": float("nan")}, "is nan, not a finite number"),
        ({"accuracy": 0.5, "macro_f1": np.inf}, "is inf, not a finite number"),
        ({"accuracy": 0.5, "macro_f1": "0.9"}, "is '0.9', not a number"),
        ({"accuracy": 0.5, "macro_f1": True}, "is True, not a number"),
        ({"accuracy": 0.5, "macro_f1": 0.5, 3: 1.0}, "a metric named 3"),
    ],
)
def test_unusable_results_are_scorer_bugs(truth: pd.DataFrame, result: object, words: str) -> None:
    with pytest.raises(ScorerError) as caught:
        score_predictions(
            truth.rename(columns={"label": "prediction"}), truth, _returns(result), BENCH
        )
    assert words in str(caught.value)


def test_numpy_numbers_are_accepted() -> None:
    result: Mapping[str, Any] = {"accuracy": np.float32(0.25), "macro_f1": np.int64(1)}
    assert check_result(result, BENCH) == {"accuracy": 0.25, "macro_f1": 1.0}


def test_primary_metric_alone_when_no_metrics_are_declared() -> None:
    bench = BenchmarkConfig(name="t", primary_metric="rmse")
    assert check_result({"rmse": 2, "extra": 1.5}, bench) == {"rmse": 2.0, "extra": 1.5}


def test_a_crashing_scorer_becomes_a_scorer_error(truth: pd.DataFrame) -> None:
    def crash(p: pd.DataFrame, t: pd.DataFrame) -> dict[str, float]:
        return {"x": t["no such column"].mean()}

    with pytest.raises(ScorerError, match="the scorer raised KeyError") as caught:
        score_predictions(truth, truth, crash, BENCH)
    assert isinstance(caught.value.__cause__, KeyError)


def test_invalid_predictions_from_a_scorer_pass_through(truth: pd.DataFrame) -> None:
    def picky(p: pd.DataFrame, t: pd.DataFrame) -> dict[str, float]:
        raise InvalidPredictions("line 3: no")

    with pytest.raises(InvalidPredictions, match="line 3: no"):
        score_predictions(truth, truth, picky, BENCH)


# --- fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_pinned() -> None:
    """The canonical form is part of every published result: changing it is a decision.

    The value is sha256 of b'heldout-truth-v1\\n' + '["id",["a","b"]]' + '["label",["y","x"]]'.
    """
    frame = pd.DataFrame({"label": ["x", "y"], "id": ["b", "a"]})
    assert fingerprint(frame) == fingerprint(pd.DataFrame({"id": ["a", "b"], "label": ["y", "x"]}))
    assert fingerprint(frame) == "e516116274b5be0378589c8c9967b75c61786511cc6659973b592aada2c5069a"


def test_fingerprint_ignores_row_order_column_order_and_index(truth: pd.DataFrame) -> None:
    shuffled = truth.sample(frac=1.0, random_state=2)[["label", "id"]]
    assert fingerprint(shuffled) == fingerprint(truth)
    assert len(fingerprint(truth)) == 64 and int(fingerprint(truth), 16) >= 0


def test_fingerprint_changes_with_any_label_or_id(truth: pd.DataFrame) -> None:
    relabelled = truth.copy()
    relabelled.loc[17, "label"] = "neutral" if truth.loc[17, "label"] != "neutral" else "positive"
    renamed = truth.copy()
    renamed.loc[0, "id"] = "ex-99999"
    extra = truth.assign(weight=1.0)
    prints = {fingerprint(f) for f in (truth, relabelled, renamed, extra, truth.iloc[1:])}
    assert len(prints) == 5


def test_fingerprint_cannot_be_fooled_by_separators() -> None:
    one = pd.DataFrame({"id": ["a", "b"], "label": ['x","y', "z"]})
    two = pd.DataFrame({"id": ["a", "b"], "label": ["x", 'y","z']})
    assert fingerprint(one) != fingerprint(two)


def test_fingerprint_handles_missing_values() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "score": [1.5, math.nan]})
    assert fingerprint(frame) != fingerprint(frame.fillna(0.0))
