"""The statistics behind intervals, tied bands and the Ladder, against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heldout.evaluator import stats


def predictions(truth: np.ndarray, accuracy: float, seed: int, k: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wrong = (truth + rng.integers(1, k, size=len(truth))) % k
    return np.where(rng.random(len(truth)) < accuracy, truth, wrong)


@pytest.fixture
def truth() -> np.ndarray:
    return np.random.default_rng(0).choice(3, size=4000, p=[0.3, 0.2, 0.5])


@pytest.mark.parametrize(("n", "p"), [(400, 0.5), (2000, 0.85), (10000, 0.3)])
def test_bootstrap_matches_the_binomial_interval(n: int, p: float) -> None:
    hits = np.zeros(n)
    hits[: round(n * p)] = 1
    interval = stats.bootstrap_interval(stats.mean_view(hits))
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    assert interval.value == pytest.approx(p)
    assert interval.low == pytest.approx(p - half, abs=half * 0.12)
    assert interval.high == pytest.approx(p + half, abs=half * 0.12)
    assert (interval.b, interval.seed) == (1000, stats.SEED_DEFAULT)


def test_a_fixed_seed_gives_the_same_interval_and_another_seed_another() -> None:
    view = stats.mean_view(np.random.default_rng(3).random(500))
    assert stats.bootstrap_interval(view) == stats.bootstrap_interval(view)
    assert stats.bootstrap_interval(view, seed=1) != stats.bootstrap_interval(view, seed=2)


def test_continuous_values_take_the_index_path_and_agree_with_the_standard_error() -> None:
    values = np.random.default_rng(4).normal(size=20000)  # every row distinct
    interval = stats.bootstrap_interval(stats.mean_view(values))
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert interval.half_width == pytest.approx(1.96 * se, rel=0.12)


def test_macro_f1_view_scores_what_the_example_scorer_scores(truth: np.ndarray) -> None:
    import pandas as pd

    from heldout.example.scorer import score

    guess = predictions(truth, 0.7, seed=1)
    labels = np.array(["negative", "neutral", "positive"])
    frame_truth = pd.DataFrame({"id": [str(i) for i in range(len(truth))], "label": labels[truth]})
    frame_pred = pd.DataFrame({"id": frame_truth["id"], "prediction": labels[guess]})
    expected = score(frame_pred, frame_truth)["macro_f1"]
    view = stats.macro_f1_view(truth, guess, 3)
    assert view.score() == pytest.approx(expected)
    interval = stats.bootstrap_interval(view)
    assert interval.low < expected < interval.high
    assert 0.01 < interval.high - interval.low < 0.06


def test_a_missing_prediction_counts_as_wrong_and_as_no_prediction() -> None:
    view = stats.macro_f1_view(np.array([0, 1]), np.array([0, -1]), 2)
    # class 0: tp 1, predicted 1, true 1 -> 1.0; class 1: tp 0, predicted 0, true 1 -> 0.0
    assert view.score() == pytest.approx(0.5)


def test_a_clearly_better_model_is_significantly_better(truth: np.ndarray) -> None:
    good = stats.macro_f1_view(truth, predictions(truth, 0.8, seed=1), 3)
    poor = stats.macro_f1_view(truth, predictions(truth, 0.6, seed=2), 3)
    test = stats.paired_test(good, poor)
    assert test.delta > 0.1 and test.p_value < 0.01
    assert stats.paired_test(poor, good).p_value > 0.99
    # lower is better: the same pair, read as losses, turns round
    assert stats.paired_test(poor, good, higher_is_better=False).p_value < 0.01


def test_identical_predictions_are_tied(truth: np.ndarray) -> None:
    same = predictions(truth, 0.7, seed=1)
    a, b = stats.macro_f1_view(truth, same, 3), stats.macro_f1_view(truth, same.copy(), 3)
    test = stats.paired_test(a, b)
    assert test.delta == 0 and test.p_value == 1.0
    assert stats.tied_bands([a, b]) == [1, 1]


def test_a_paired_test_needs_the_same_items() -> None:
    with pytest.raises(ValueError, match="same items"):
        stats.paired_test(stats.mean_view([1, 0]), stats.mean_view([1, 0, 1]))


def test_holm_rejects_step_down() -> None:
    # m = 3: 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05/1 -> all three rejected
    assert stats.holm([0.04, 0.01, 0.02], 0.05) == [True, True, True]
    # 0.03 > 0.05/2 stops the procedure: only the smallest is rejected
    assert stats.holm([0.01, 0.03, 0.04], 0.05) == [True, False, False]
    assert stats.holm([], 0.05) == []
    with pytest.raises(ValueError):
        stats.holm([0.1], 0.7)


def test_bands_group_the_indistinguishable_and_split_the_clearly_different(
    truth: np.ndarray,
) -> None:
    base = predictions(truth, 0.8, seed=1)
    # a near twin: right on 10 items the first gets wrong, wrong on 12 it gets right
    twin = base.copy()
    wrong, right = np.flatnonzero(base != truth)[:10], np.flatnonzero(base == truth)[:12]
    twin[wrong] = truth[wrong]
    twin[right] = (truth[right] + 1) % 3
    rows = [
        stats.macro_f1_view(truth, base, 3),
        stats.macro_f1_view(truth, twin, 3),
        stats.macro_f1_view(truth, predictions(truth, 0.6, seed=2), 3),
        stats.macro_f1_view(truth, predictions(truth, 0.6, seed=3), 3),
        stats.macro_f1_view(truth, predictions(truth, 0.4, seed=4), 3),
    ]
    rows.sort(key=lambda v: -v.score())
    assert stats.tied_bands(rows) == [1, 1, 2, 2, 3]


def test_the_ladder_releases_a_first_score_rounded_to_its_resolution(truth: np.ndarray) -> None:
    view = stats.mean_view(predictions(truth, 0.7, seed=1) == truth)
    step = stats.ladder_step(view, None, None)
    assert step.updated
    # margin = z(0.95) · se = 1.645 · sqrt(.21/4000) = 0.012
    assert step.margin == pytest.approx(1.645 * math.sqrt(0.21 / 4000), rel=0.15)
    assert step.resolution == 0.01
    assert step.shown == round(view.score(), 2)
    # the paper's parameter-free Ladder: one standard error (level 0.16)
    paper = stats.ladder_step(view, None, None, level=0.1587)
    assert paper.margin == pytest.approx(math.sqrt(0.21 / 4000), rel=0.15)
    assert paper.resolution == 0.001


def test_the_ladder_ignores_noise_and_releases_a_real_gain(truth: np.ndarray) -> None:
    first = stats.mean_view(predictions(truth, 0.7, seed=1) == truth)
    shown = stats.ladder_step(first, None, None).shown
    # fresh models of the same quality, one after another: their scores differ by noise
    # only. The Ladder follows its best, so noise gets through only a few times.
    best, best_shown, updates = first, shown, 0
    for seed in range(10, 30):
        view = stats.mean_view(predictions(truth, 0.7, seed=seed) == truth)
        step = stats.ladder_step(view, best, best_shown)
        if step.updated:
            best, best_shown, updates = view, step.shown, updates + 1
        else:
            assert step.shown == best_shown
    assert updates <= 3
    assert step.margin == pytest.approx(1.645 * math.sqrt(2 * 0.21 / len(truth)), rel=0.15)
    better = stats.mean_view(predictions(truth, 0.8, seed=6) == truth)
    step = stats.ladder_step(better, first, shown)
    assert step.updated and step.shown == stats.round_to(better.score(), step.resolution)
    assert step.shown > shown


def test_rounding_to_a_resolution() -> None:
    assert stats.resolution_of(0.021) == 0.01
    assert stats.resolution_of(0.0072) == 0.001
    assert stats.round_to(0.85171, 0.01) == 0.85
    assert stats.round_to(0.8567, 0.01) == 0.86


def test_a_view_refuses_what_it_cannot_resample() -> None:
    with pytest.raises(ValueError):
        stats.mean_view([])
    with pytest.raises(ValueError):
        stats.mean_view([1.0, float("nan")])


def test_resampling_distinct_rows_counts_each_row_as_numpy_does(truth: np.ndarray) -> None:
    values = stats.macro_f1_view(truth, predictions(truth, 0.5, seed=1), 3).values
    fast, fast_counts = stats._distinct_rows(values)
    exact, exact_counts = np.unique(values, axis=0, return_counts=True)
    order = np.lexsort(fast.T[::-1])
    assert np.array_equal(fast[order], exact)
    assert np.array_equal(fast_counts[order], exact_counts)


def test_the_ladders_level_is_spent_over_a_submitters_judgements() -> None:
    levels = [stats.spent_level(0.05, k) for k in range(1, 100_001)]
    assert levels[0] == pytest.approx(0.05 * 6 / math.pi**2)
    assert levels[1] == pytest.approx(levels[0] / 4)
    assert sum(levels) < 0.05 and sum(levels) == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ValueError):
        stats.spent_level(0.05, 0)
    # the 500th judgement needs a gain of about 5.1 standard errors, not 1.645
    view = stats.mean_view([0, 1] * 500)
    step = stats.ladder_step(view, None, None, level=stats.spent_level(0.05, 500))
    assert step.margin == pytest.approx(5.1 * math.sqrt(0.25 / 1000), rel=0.1)
