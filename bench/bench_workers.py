"""Jobs per minute with 1, 2 and 4 worker processes on the Hub emulator, 50 ms scorer.

Each run puts the same number of jobs in a fresh pair of repos, starts N
`heldout worker --once` processes, and measures from the first claim to the last
finish (the entries' own timestamps), so process start-up is not counted; the wall
time with start-up is shown too. The machine's core count bounds the scaling.

    .venv/bin/python bench/bench_workers.py [--jobs 150] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SCORER_SECONDS = 0.05


def score(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """The benchmark's scorer: accuracy, after 50 ms of pretend work."""
    time.sleep(SCORER_SECONDS)
    hit = predictions["prediction"].to_numpy() == truth["label"].to_numpy()
    return {"accuracy": float(hit.mean()), "macro_f1": float(hit.mean())}


def write_config(folder: Path, endpoint: str, name: str) -> Path:
    from heldout.example.generate import make_truth

    make_truth(40, seed=5).to_parquet(folder / "truth.parquet", index=False)
    tables = {
        "benchmark": {
            "name": "bench",
            "primary_metric": "accuracy",
            "metrics": ["accuracy", "macro_f1"],
            "labels": ["negative", "neutral", "positive"],
        },
        "storage": {
            "backend": "hub",
            "queue_repo": f"bench/{name}-queue",
            "results_repo": f"bench/{name}-results",
            "token_env": "HELDOUT_BENCH_TOKEN",
            "endpoint": endpoint,
        },
        "limits": {"submissions_per_day": 1000},
        "evaluator": {
            "scorer": "bench_workers:score",
            "code_dir": str(HERE),
            "truth": "truth.parquet",
            "poll_seconds": 0.2,
        },
    }
    path = folder / f"{name}.toml"
    path.write_text(
        "\n\n".join(
            f"[{t}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
            for t, values in tables.items()
        )
    )
    return path


def one_run(server, folder: Path, jobs: int, workers: int) -> dict[str, float]:
    from heldout.config import load_config
    from heldout.example.generate import make_predictions, make_truth
    from heldout.queue.backends import open_queue
    from heldout.queue.entry import parse_iso
    from heldout.queue.hub_store import HubStore
    from heldout.queue.status import JobStatus
    from heldout.queue.submission import Submission

    config = load_config(write_config(folder, server.url, f"w{workers}-{uuid.uuid4().hex[:6]}"))
    for repo in (config.storage.queue_repo, config.storage.results_repo):
        HubStore.create(repo, token=os.environ["HELDOUT_BENCH_TOKEN"], endpoint=server.url)
    truth = make_truth(40, seed=5)
    queue = open_queue(config)
    subs = [
        Submission(
            f"user{n % 20}",
            f"model {n}",
            make_predictions(truth["id"], ["negative", "neutral", "positive"], 0.7, n, truth=truth)
            .to_csv(index=False)
            .encode(),
            "csv",
        )
        for n in range(jobs)
    ]
    for first in range(0, jobs, 50):
        queue.submit_many(subs[first : first + 50])
    env = dict(os.environ, PYTHONPATH=str(HERE))
    command = [sys.executable, "-m", "heldout.evaluator.cli", "-c", str(config.source), "--once"]
    start = time.perf_counter()
    procs = [
        subprocess.Popen([*command, "--id", f"w{i}"], env=env, stderr=subprocess.DEVNULL)
        for i in range(workers)
    ]
    for proc in procs:
        proc.wait()
    wall = time.perf_counter() - start
    entries = queue.jobs(JobStatus.FINISHED)
    assert len(entries) == jobs, f"only {len(entries)} of {jobs} finished"
    first = min(parse_iso(e.started_at) for e in entries)
    last = max(parse_iso(e.finished_at) for e in entries)
    busy = (last - first).total_seconds()
    return {"jobs_per_minute": jobs / busy * 60, "busy": busy, "wall": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["HELDOUT_BENCH_TOKEN"] = "hf_test_bench"
    from heldout.hub_emulator import EmulatorServer, EmulatorSettings

    server = EmulatorServer(EmulatorSettings(), port=0).start()
    print(f"{args.jobs} jobs, {SCORER_SECONDS * 1000:.0f} ms scorer, {os.cpu_count()} cores")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for workers in args.workers:
                r = one_run(server, Path(tmp), args.jobs, workers)
                print(
                    f"{workers} worker(s): {r['jobs_per_minute']:6.0f} jobs/min "
                    f"(first claim to last finish {r['busy']:.1f} s; wall with start-up "
                    f"{r['wall']:.1f} s)"
                )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
