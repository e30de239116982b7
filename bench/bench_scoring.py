"""How long reading, validating and scoring a 1,000,000-row submission takes.

Writes a 1,000,000-item example test set and predictions for it (about 70% right) as
CSV, JSON Lines and Parquet, then, for each format, reads + validates + scores the
file in a fresh process and prints the wall time of each phase and the peak memory
(resident set size) of that process. The rows come in the order of the public id list
(what most submitters upload) and, with --shuffled, in a random order.

    .venv/bin/python bench/bench_scoring.py [--rows N] [--shuffled]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from heldout.config import BenchmarkConfig
from heldout.evaluator.scoring import fingerprint, load_scorer, load_truth, score_predictions
from heldout.example import LABELS, METRICS, PRIMARY_METRIC, SCORER
from heldout.example.generate import make_predictions, write_benchmark
from heldout.predictions import check_ids, load_public_ids, read_predictions

BENCHMARK = BenchmarkConfig(
    name="bench", primary_metric=PRIMARY_METRIC, metrics=METRICS, labels=LABELS
)
MAX_BYTES = 200 * 2**20


def prepare(folder: Path, rows: int, shuffled: bool) -> dict[str, Path]:
    """Write the test set and one predictions file per format; return their paths."""
    files = write_benchmark(folder, n=rows, seed=1)
    truth = pd.read_parquet(files.truth)
    predictions = make_predictions(truth["id"], LABELS, 0.7, seed=2, truth=truth)
    if shuffled:
        predictions = predictions.sample(frac=1.0, random_state=3).reset_index(drop=True)
    paths = {"truth": files.truth, "ids": files.public_ids}
    for fmt in ("csv", "jsonl", "parquet"):
        paths[fmt] = folder / f"predictions.{fmt}"
    predictions.to_csv(paths["csv"], index=False)
    predictions.to_json(paths["jsonl"], orient="records", lines=True)
    predictions.to_parquet(paths["parquet"], index=False)
    return paths


def measure(fmt: str, paths: dict[str, Path]) -> dict[str, float]:
    """Run once in this process; the evaluator loads truth and ids once, so they are setup."""
    t = time.perf_counter()
    truth = load_truth(paths["truth"], BENCHMARK)
    public_ids = load_public_ids(paths["ids"])
    scorer = load_scorer(SCORER)
    setup = time.perf_counter() - t
    t = time.perf_counter()
    digest = fingerprint(truth)
    fingerprint_s = time.perf_counter() - t
    data = paths[fmt].read_bytes()
    t0 = time.perf_counter()
    frame = read_predictions(data, fmt, BENCHMARK, MAX_BYTES)
    t1 = time.perf_counter()
    check_ids(frame, public_ids)
    t2 = time.perf_counter()
    scores = score_predictions(frame, truth, scorer, BENCHMARK)
    t3 = time.perf_counter()
    return {
        "mb": len(data) / 2**20,
        "read": t1 - t0,
        "ids": t2 - t1,
        "score": t3 - t2,
        "total": t3 - t0,
        "setup": setup,
        "fingerprint": fingerprint_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "accuracy": scores["accuracy"],
        "digest": digest[:12],  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shuffled", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fmt, paths = json.loads(args.child)
        print(json.dumps(measure(fmt, {k: Path(v) for k, v in paths.items()})))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = prepare(Path(tmp), args.rows, args.shuffled)
        order = "shuffled" if args.shuffled else "in public-id order"
        print(
            f"{args.rows:,} rows, {order}; files written in {time.perf_counter() - started:.1f} s"
        )
        print(
            f"{'format':8} {'size MB':>8} {'read+check':>10} {'ids':>6} {'score':>6} "
            f"{'TOTAL s':>8} {'peak RSS MB':>11}   (setup: truth+ids load, fingerprint)"
        )
        for fmt in ("csv", "jsonl", "parquet"):
            child = json.dumps([fmt, {k: str(v) for k, v in paths.items()}])
            out = subprocess.run(
                [sys.executable, __file__, "--child", child],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out)
            print(
                f"{fmt:8} {r['mb']:8.1f} {r['read']:10.3f} {r['ids']:6.3f} {r['score']:6.3f} "
                f"{r['total']:8.3f} {r['peak_mb']:11.0f}   "
                f"({r['setup']:.2f} s, {r['fingerprint']:.2f} s; accuracy {r['accuracy']:.3f})"
            )


if __name__ == "__main__":
    main()
