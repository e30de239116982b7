"""What the queue costs on the Hub (the emulator): commits per job, an idle poll, a claim
in a big repo, and the board's read of 100,000 results.

1. Burst: 500 submissions from 500 threads through one GroupCommitter while 2 workers
   score them. Commits per job in both repos (the simple design spends 3).
2. Idle poll: requests per poll of an idle worker (the Hub allows ~1,000 per 5 minutes).
3. Claim with 100 and with 100,000 FINISHED jobs in the repo: requests and time. It
   must stay flat, since a claim only lists the PENDING and RUNNING folders.
4. The board's read of 100,000 results: cold (a fresh reader) and warm (cached by head).

    .venv/bin/python bench/bench_queue.py [--burst 500] [--big 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-bench-hfhome-")

from huggingface_hub import HfApi  # noqa: E402

from heldout.config import Config, config_from_dict  # noqa: E402
from heldout.evaluator.worker import Worker  # noqa: E402
from heldout.example.generate import make_predictions, make_truth  # noqa: E402
from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from heldout.hub_emulator.staging import PutFile  # noqa: E402
from heldout.queue.backends import open_queue  # noqa: E402
from heldout.queue.entry import Entry, iso, new_entry, new_job_id, utcnow  # noqa: E402
from heldout.queue.group import GroupCommitter  # noqa: E402
from heldout.queue.hub_store import HubStore  # noqa: E402
from heldout.queue.jobs import JobQueue  # noqa: E402
from heldout.queue.local_store import LocalStore  # noqa: E402
from heldout.queue.results import Results  # noqa: E402
from heldout.queue.status import Action, JobStatus  # noqa: E402
from heldout.queue.store import Add  # noqa: E402
from heldout.queue.submission import Submission  # noqa: E402

OWNER = "bench"
TOKEN = f"hf_test_{OWNER}"
LABELS = ["negative", "neutral", "positive"]


def make_config(tmp: Path, server: EmulatorServer, name: str) -> Config:
    truth = make_truth(40, seed=3)
    truth.to_parquet(tmp / "truth.parquet", index=False)
    os.environ["HELDOUT_BENCH_TOKEN"] = TOKEN
    return config_from_dict(
        {
            "benchmark": {
                "name": "bench",
                "primary_metric": "accuracy",
                "metrics": ["accuracy", "macro_f1"],
                "labels": LABELS,
            },
            "storage": {
                "backend": "hub",
                "queue_repo": f"{OWNER}/{name}-queue",
                "results_repo": f"{OWNER}/{name}-results",
                "token_env": "HELDOUT_BENCH_TOKEN",
                "endpoint": server.url,
            },
            "limits": {"submissions_per_day": 5},
            "evaluator": {
                "scorer": "heldout.example.scorer:score",
                "truth": str(tmp / "truth.parquet"),
                "poll_seconds": 0.2,
            },
        },
        base_dir=tmp,
    )


def create_repos(config: Config) -> None:
    s = config.storage
    for repo, private in ((s.queue_repo, True), (s.results_repo, False)):
        HubStore.create(repo, token=TOKEN, endpoint=s.endpoint, private=private)


def commit_titles(server: EmulatorServer, repo: str) -> Counter[str]:
    """Commits in `repo` by the first word of their title (Submit, Claim, Finish…)."""
    api = HfApi(endpoint=server.url, token=TOKEN)
    titles = [c.title for c in api.list_repo_commits(repo, repo_type="dataset")]
    return Counter(t.split()[0] for t in titles if t != "initial commit")


def measured(server: EmulatorServer, call: Callable[[], object]) -> tuple[int, float, object]:
    server.reset_counters()
    start = time.perf_counter()
    value = call()
    return sum(server.counters().values()), time.perf_counter() - start, value


# ---- 1. burst -------------------------------------------------------------------------


def burst(server: EmulatorServer, tmp: Path, n: int, workers: int) -> None:
    config = make_config(tmp, server, "burst")
    create_repos(config)
    truth = make_truth(40, seed=3)
    files = [
        make_predictions(truth["id"], LABELS, 0.7, seed, truth=truth).to_csv(index=False).encode()
        for seed in range(n)
    ]
    group = GroupCommitter(open_queue(config))
    pool = [Worker(open_queue(config), config, worker_id=f"w{i}") for i in range(workers)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in pool]
    server.reset_counters()
    start = time.perf_counter()
    for t in threads:
        t.start()
    outcomes: list[object] = [None] * n

    def send(i: int) -> None:
        sub = Submission(f"user{i % (n // 5 + 1)}", f"model {i}", files[i], "csv")
        try:
            outcomes[i] = group.submit(sub)
        except Exception as exc:  # noqa: BLE001 - counted below
            outcomes[i] = exc

    senders = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    accepted = sum(isinstance(o, Entry) for o in outcomes)
    submitted_at = time.perf_counter() - start
    while sum(w.stats["finished"] + w.stats["failed"] for w in pool) < accepted:
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    for w in pool:
        w.request_stop()
    for t in threads:
        t.join()
    requests = sum(server.counters().values())
    q_commits = commit_titles(server, config.storage.queue_repo)
    r_commits = commit_titles(server, config.storage.results_repo)
    total = sum(q_commits.values()) + sum(r_commits.values())
    print(f"\n1. burst of {n} submissions ({accepted} accepted), {workers} workers")
    print(f"   all submitted in {submitted_at:.1f} s, all scored in {elapsed:.1f} s")
    print(f"   queue repo commits:   {sum(q_commits.values()):4d}  {dict(q_commits)}")
    print(f"   results repo commits: {sum(r_commits.values()):4d}  {dict(r_commits)}")
    print(f"   commits per job: {total / accepted:.3f} (simple design: 3)")
    print(f"   Hub requests per job: {requests / accepted:.1f}")
    print(f"   group commits: {group.commits} for {n} submissions")


# ---- 2. idle poll ---------------------------------------------------------------------


def idle_poll(server: EmulatorServer, tmp: Path, seconds: float = 3.0) -> None:
    config = make_config(tmp, server, "idle")
    create_repos(config)
    worker = Worker(open_queue(config), config, worker_id="idle")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    time.sleep(1.0)  # the first look (a claim), then idle
    server.reset_counters()
    polls = worker.stats["polls"]
    time.sleep(seconds)
    counts = server.counters()
    polls = worker.stats["polls"] - polls
    worker.request_stop()
    thread.join()
    print(f"\n2. idle worker polling every {config.evaluator.poll_seconds} s for {seconds:.0f} s")
    print(f"   {polls} polls, {sum(counts.values())} requests {counts}")
    print(f"   requests per idle poll: {sum(counts.values()) / max(polls, 1):.2f}")


# ---- 3. claim in a big repo -----------------------------------------------------------


def finished_entries(n: int) -> list[Entry]:
    now = utcnow()
    out = []
    for i in range(n):
        at = now - timedelta(seconds=i)
        e = new_entry(
            job_id=new_job_id(at),
            model=f"model {i}",
            submitter=f"user{i % 1000}",
            description="",
            sha256=f"{i:064x}",
            size=1000,
            fmt="csv",
            now=at,
        )
        e = e.entered(Action.SUBMIT, JobStatus.PENDING, e.submitter, "submitted")
        done = dict(scores={"accuracy": 0.5, "macro_f1": 0.4}, finished_at=iso(now))
        e = e.moved(Action.CLAIM, JobStatus.RUNNING, "w", attempts=1)
        out.append(e.moved(Action.FINISH, JobStatus.FINISHED, "w", **done))
    return out


def fill_hub(server: EmulatorServer, repo_id: str, entries: list[Entry]) -> None:
    """Straight into the emulator's state, in commits of 20,000 files."""
    state = server.services.state
    repo = state.require("dataset", repo_id)
    for first in range(0, len(entries), 20_000):
        ops = [PutFile(e.path, e.to_json()) for e in entries[first : first + 20_000]]
        state.commit(repo, ops, title="fill", message="", author=OWNER, parent=None)


def claim_cost(server: EmulatorServer, tmp: Path, sizes: list[int]) -> None:
    print("\n3. one claim (1 PENDING job) with many FINISHED jobs in the repo")
    for size in sizes:
        entries = finished_entries(size)
        config = make_config(tmp, server, f"claim{size}")
        create_repos(config)
        fill_hub(server, config.storage.queue_repo, entries)
        hub = open_queue(config)
        local_store = LocalStore(tmp / f"local{size}", durable=False)
        for first in range(0, size, 20_000):
            chunk = entries[first : first + 20_000]
            local_store.commit(
                [Add(e.path, e.to_json()) for e in chunk], "fill", local_store.head()
            )
        local = JobQueue(local_store, config, None)
        for name, queue in (("hub", hub), ("local", local)):
            times, requests = [], []
            for i in range(5):
                queue.submit(Submission(f"c{i}", "m", f"x,{i}\n".encode(), "csv"))
                n, seconds, claimed = measured(server, lambda q=queue: q.claim("w"))
                assert len(claimed.jobs) == 1
                times.append(seconds)
                requests.append(n)
            label = f"{size:>7,} FINISHED, {name}:"
            req = f"{statistics.median(requests):.0f} requests" if name == "hub" else "no requests"
            print(f"   {label:<28} {req}, {statistics.median(times) * 1000:.0f} ms (median of 5)")


# ---- 4. the board's read --------------------------------------------------------------


def board_read(server: EmulatorServer, tmp: Path, rows: int) -> None:
    config = make_config(tmp, server, "board")
    create_repos(config)
    store = HubStore(config.storage.results_repo, token=TOKEN, endpoint=server.url)
    now = utcnow()
    metric_rows = [
        {
            "job_id": f"20260101T000000Z-{i:08x}",
            "model": f"model {i}",
            "submitter": f"user{i % 5000}",
            "description": "",
            "submitted_at": now,
            "finished_at": now,
            "primary_metric": "accuracy",
            "primary_score": (i % 1000) / 1000,
            "accuracy": (i % 1000) / 1000,
            "macro_f1": (i % 997) / 1000,
            "split_scores": [],
            "predictions_sha256": f"{i:064x}",
            "test_fingerprint": "f" * 64,
            "evaluator_version": "heldout bench",
            "schema_version": 1,
        }
        for i in range(rows)
    ]
    n, seconds, _ = measured(server, lambda: Results(store, config.benchmark).upsert(metric_rows))
    print(f"\n4. the board's read of {rows:,} results ({len(store.list('data'))} files)")
    print(f"   writing them: {seconds:.1f} s, {n} requests")
    anonymous = HubStore(config.storage.results_repo, token=None, endpoint=server.url)
    reader = Results(anonymous, config.benchmark)
    n, seconds, frame = measured(server, reader.read)
    print(f"   cold: {seconds * 1000:.0f} ms, {n} requests, {len(frame):,} rows")
    n, seconds, frame = measured(server, reader.read)
    print(f"   warm: {seconds * 1000:.0f} ms, {n} requests (head unchanged: cached)")
    again = Results(anonymous, config.benchmark)
    n, seconds, frame = measured(server, again.read)
    print(f"   cold reader, warm HTTP cache: {seconds * 1000:.0f} ms, {n} requests")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args(argv)
    server = EmulatorServer(EmulatorSettings(), port=0).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            burst(server, Path(tmp), args.burst, args.workers)
            idle_poll(server, Path(tmp))
            claim_cost(server, Path(tmp), [100, args.big])
            board_read(server, Path(tmp), args.big)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
