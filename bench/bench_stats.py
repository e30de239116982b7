"""How long the bootstrap intervals and the paired test take on 100,000 items.

The goal: under 2 s each for accuracy and for macro-F1 (B = 1000 resamples), so that
every scored job gets its intervals. Also timed: a mean of continuous per-example values
(every row distinct, the index-resampling path) and one paired test of two macro-F1
prediction sets (what a tied band or a Ladder step costs).

    .venv/bin/python bench/bench_stats.py [--items N] [--resamples B]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from heldout.evaluator import stats


def timed(label: str, call) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call()
    took = time.perf_counter() - started
    print(f"{label:<40} {took:6.3f} s   {result}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=stats.B_DEFAULT)
    args = parser.parse_args()
    n, b = args.items, args.resamples
    rng = np.random.default_rng(1)
    truth = rng.choice(3, size=n, p=[0.3, 0.2, 0.5])
    guess = np.where(rng.random(n) < 0.7, truth, rng.integers(0, 3, n))
    other = np.where(rng.random(n) < 0.7, truth, rng.integers(0, 3, n))
    print(f"{n:,} items, B = {b}, seed {stats.SEED_DEFAULT}")

    def interval(view: stats.View) -> str:
        i = stats.bootstrap_interval(view, b=b)
        return f"{i.value:.4f} [{i.low:.4f}, {i.high:.4f}]"

    timed("accuracy interval", lambda: interval(stats.mean_view(guess == truth)))
    timed("macro-F1 interval", lambda: interval(stats.macro_f1_view(truth, guess, 3)))
    timed("continuous mean interval", lambda: interval(stats.mean_view(rng.random(n))))

    def paired() -> str:
        a, c = stats.macro_f1_view(truth, guess, 3), stats.macro_f1_view(truth, other, 3)
        t = stats.paired_test(a, c, resamples=b)
        return f"delta {t.delta:+.4f}, p {t.p_value:.3f}, se {t.se:.4f}"

    timed("macro-F1 paired test", paired)


if __name__ == "__main__":
    main()
