"""Submit-to-FINISHED latency with an idle worker on the local store.

A real `heldout worker` process waits, idle, polling every `--poll` seconds; one job
at a time is submitted and the time until its entry reads FINISHED is measured (the
result is published before that). The simple design polls every 300 s; the aim here is
a median under 2 s.

    .venv/bin/python bench/bench_latency.py [--rounds 30] [--poll 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from heldout.config import load_config
from heldout.example.generate import make_predictions, write_benchmark
from heldout.queue.backends import open_queue
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--items", type=int, default=2000, help="size of the test set")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_benchmark(folder / "bench", n=args.items)
        tables = {
            "benchmark": {
                "name": "latency",
                "primary_metric": "accuracy",
                "metrics": ["accuracy", "macro_f1"],
                "labels": ["negative", "neutral", "positive"],
            },
            "storage": {"backend": "local", "root": "store"},
            "limits": {"submissions_per_day": 1000},
            "evaluator": {
                "scorer": "heldout.example.scorer:score",
                "truth": str(files.truth),
                "poll_seconds": args.poll,
            },
        }
        path = folder / "heldout.toml"
        path.write_text(
            "\n\n".join(
                f"[{t}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
                for t, values in tables.items()
            )
        )
        config = load_config(path)
        queue = open_queue(config)
        import pandas as pd

        truth = pd.read_parquet(files.truth)
        worker = subprocess.Popen(
            [sys.executable, "-m", "heldout.evaluator.cli", "-c", str(path)],
            stderr=subprocess.DEVNULL,
        )
        latencies = []
        try:
            time.sleep(3.0)  # let the worker start and go idle
            for n in range(args.rounds):
                time.sleep(random.uniform(0, args.poll))  # arrive anywhere in a poll cycle
                frame = make_predictions(
                    truth["id"], ["negative", "neutral", "positive"], 0.7, n, truth=truth
                )
                sub = Submission(
                    f"user{n % 50}", f"m{n}", frame.to_csv(index=False).encode(), "csv"
                )
                start = time.perf_counter()
                job = queue.submit(sub).job_id
                while queue.get(job).status is not JobStatus.FINISHED:
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - start)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(
        f"submit to FINISHED, idle worker polling every {args.poll:g} s, "
        f"{args.items} test items, {args.rounds} jobs, {os.cpu_count()} cores:"
    )
    print(
        f"  median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
        f"min {latencies[0]:.2f} s, max {latencies[-1]:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
