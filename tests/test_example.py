"""The worked example benchmark: its scorer, its generated files and its public text."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from heldout.config import BenchmarkConfig
from heldout.example import ABOUT, LABELS, METRICS, PRIMARY_METRIC, SCORER, scorer
from heldout.example.generate import (
    ExampleFiles,
    example_ids,
    make_predictions,
    make_truth,
    write_benchmark,
)
from heldout.example.scorer import score
from heldout.predictions import check_ids, load_public_ids, read_predictions

BENCH = BenchmarkConfig(name="ex", primary_metric=PRIMARY_METRIC, metrics=METRICS, labels=LABELS)


def frames(truth: list[str], predicted: list[str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"ex-{i}" for i in range(len(truth))]
    return (
        pd.DataFrame({"id": ids, "prediction": predicted}),
        pd.DataFrame({"id": ids, "label": truth}),
    )


# --- the scorer ---------------------------------------------------------------------------


def test_perfect_predictions_score_one() -> None:
    truth = make_truth(300, seed=1)
    perfect = truth.rename(columns={"label": "prediction"})
    assert score(perfect, truth) == {"accuracy": 1.0, "macro_f1": 1.0}


def test_small_case_computed_by_hand() -> None:
    # truth     a a b c      per class: a  TP 1, predicted 2, true 2 -> F1 2/4 = 0.5
    # predicted a b b a                 b  TP 1, predicted 2, true 1 -> F1 2/3
    #                                   c  TP 0, predicted 0, true 1 -> F1 0
    predictions, truth = frames(["a", "a", "b", "c"], ["a", "b", "b", "a"])
    result = score(predictions, truth)
    assert result["accuracy"] == 0.5
    assert result["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)


def test_a_class_only_predicted_counts_in_the_macro_average() -> None:
    # truth a a, predicted a z: a -> 2·1/(1+2) = 2/3, z -> 0; as scikit-learn does
    predictions, truth = frames(["a", "a"], ["a", "z"])
    assert score(predictions, truth)["macro_f1"] == pytest.approx(1 / 3)


def test_missing_predictions_count_as_wrong() -> None:
    predictions, truth = frames(["a", "b", "b", "a"], ["a", "b", "b", "a"])
    assert score(predictions.iloc[:3], truth)["accuracy"] == 0.75


def test_order_of_predictions_does_not_matter() -> None:
    truth = make_truth(500, seed=2)
    predictions = make_predictions(truth["id"], LABELS, 0.6, seed=3, truth=truth)
    shuffled = predictions.sample(frac=1.0, random_state=0)
    assert score(shuffled, truth) == score(predictions, truth)


def test_scorer_is_self_contained() -> None:
    """`heldout init` copies this file into a benchmark folder, so it imports only pandas."""
    tree = ast.parse(inspect.getsource(scorer))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported <= {"__future__", "pandas", "numpy"}
    assert SCORER == "heldout.example.scorer:score"


# --- generate -----------------------------------------------------------------------------


def test_write_benchmark_files(tmp_path: Path) -> None:
    files = write_benchmark(tmp_path)
    assert files == ExampleFiles(
        root=tmp_path,
        truth=tmp_path / "private" / "truth.parquet",
        public_ids=tmp_path / "public" / "test_ids.txt",
        sample_predictions=tmp_path / "public" / "sample_predictions.csv",
    )
    truth = pd.read_parquet(files.truth)
    assert list(truth.columns) == ["id", "label"] and len(truth) == 2000
    assert truth["id"].iloc[0] == "ex-00001" and truth["id"].iloc[-1] == "ex-02000"
    assert set(truth["label"]) == set(LABELS)
    assert load_public_ids(files.public_ids).tolist() == truth["id"].tolist()


def test_sample_predictions_pass_the_checks_and_score_about_seventy(tmp_path: Path) -> None:
    files = write_benchmark(tmp_path)
    data = files.sample_predictions.read_bytes()
    frame = read_predictions(data, "csv", BENCH, 2**20)
    check_ids(frame, load_public_ids(files.public_ids))
    result = score(frame, pd.read_parquet(files.truth))
    assert 0.65 < result["accuracy"] < 0.75
    assert 0.5 < result["macro_f1"] < result["accuracy"]


def test_public_files_hold_no_labels(tmp_path: Path) -> None:
    files = write_benchmark(tmp_path, n=50)
    assert not any(label in files.public_ids.read_text() for label in LABELS)
    assert sorted(p.name for p in (tmp_path / "public").iterdir()) == [
        "sample_predictions.csv",
        "test_ids.txt",
    ]


def test_generate_is_deterministic(tmp_path: Path) -> None:
    one, two, other = (
        write_benchmark(tmp_path / n, seed=s) for n, s in (("a", 7), ("b", 7), ("c", 8))
    )
    for name in ("public_ids", "sample_predictions"):
        assert getattr(one, name).read_bytes() == getattr(two, name).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(one.truth), pd.read_parquet(two.truth))
    assert not pd.read_parquet(one.truth).equals(pd.read_parquet(other.truth))


def test_ids_widen_for_big_sets() -> None:
    assert example_ids(3) == ["ex-00001", "ex-00002", "ex-00003"]
    assert example_ids(100_000)[-1] == "ex-100000"


def test_make_predictions_hits_the_asked_accuracy() -> None:
    truth = make_truth(20_000, seed=4)
    for accuracy in (0.0, 0.5, 0.9, 1.0):
        predicted = make_predictions(truth["id"], LABELS, accuracy, seed=5, truth=truth)
        assert score(predicted, truth)["accuracy"] == pytest.approx(accuracy, abs=0.015)
    shuffled_ids = truth["id"].sample(frac=1.0, random_state=1)
    predicted = make_predictions(shuffled_ids, LABELS, 1.0, seed=5, truth=truth)
    assert score(predicted, truth)["accuracy"] == 1.0


def test_make_predictions_without_truth_is_chance() -> None:
    predicted = make_predictions(example_ids(3000), LABELS, 0.9, seed=1)
    assert set(predicted["prediction"]) == set(LABELS)
    assert predicted["prediction"].value_counts(normalize=True).min() > 0.28


def test_make_predictions_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        make_predictions(["a"], LABELS, 1.5, seed=0)
    with pytest.raises(ValueError, match="two labels"):
        make_predictions(["a"], ["only"], 0.5, seed=0)


# --- public text and the import boundary --------------------------------------------------


def test_about_page_describes_task_metrics_and_format() -> None:
    text = ABOUT.read_text(encoding="utf-8")
    for words in ("macro_f1", "accuracy", ".csv", ".jsonl", ".parquet", "id,prediction", *LABELS):
        assert words in text


def test_leaderboard_side_modules_never_import_the_evaluator() -> None:
    code = (
        "import sys, heldout.predictions, heldout.example, heldout.example.generate;"
        "print(sorted(m for m in sys.modules if m.startswith('heldout.evaluator')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
