"""How many Hub requests each HubStore call costs, measured on the emulator.

The Hub limits API calls per 5 minutes and commits per hour, so what a worker's idle
poll and a queue transition cost decides how many workers one repo can carry.

    .venv/bin/python bench/bench_store_requests.py [--commits 100] [--big 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-bench-hfhome-")

from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from heldout.queue.hub_store import HubStore  # noqa: E402
from heldout.queue.store import Add  # noqa: E402

TOKEN = "hf_test_bench"


def measured(server: EmulatorServer, call: Callable[[], object]) -> tuple[Counter[str], float]:
    """Requests by endpoint and seconds taken by one call."""
    server.reset_counters()
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    return Counter(server.counters()), elapsed


def show(title: str, counts: Counter[str], per: int = 1) -> None:
    total = sum(counts.values()) / per
    detail = ", ".join(f"{name} {n / per:g}" for name, n in sorted(counts.items()))
    print(f"{title:<44} {total:6.2f} requests  ({detail or 'none'})")


def one_cycle(
    server: EmulatorServer, store: HubStore, index: int
) -> tuple[Counter, Counter, float]:
    """A queue transition: head, read the counter there, commit. Returns cycle and commit cost."""
    head_counts, _ = measured(server, store.head)
    head = store.head()
    read_counts, _ = measured(server, lambda: store.read("queue/counter", head))
    value = int(store.read("queue/counter", head))
    ops = [
        Add(f"queue/PENDING/job-{index:04d}.json", b"{}"),
        Add("queue/counter", b"%d" % (value + 1)),
    ]
    commit_counts, elapsed = measured(server, lambda: store.commit(ops, "enqueue", head))
    return head_counts + read_counts + commit_counts, commit_counts, elapsed


def bench_commits(server: EmulatorServer, store: HubStore, commits: int) -> None:
    store.commit([Add("queue/counter", b"0")], "start", store.head())
    totals: Counter[str] = Counter()
    cycle: Counter[str] = Counter()
    latencies: list[float] = []
    for index in range(commits):
        cycle_counts, commit_counts, elapsed = one_cycle(server, store, index)
        cycle += cycle_counts
        totals += commit_counts
        latencies.append(elapsed)
    show(f"commit() x {commits}, per commit", totals, commits)
    show("cycle: head() + read() + commit()", cycle, commits)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    median = statistics.median(latencies) * 1000
    print(f"{'commit latency':<44} median {median:.1f} ms, p95 {p95 * 1000:.1f} ms")


def bench_reads(server: EmulatorServer, store: HubStore) -> None:
    show("head()", measured(server, store.head)[0])
    head = store.head()
    store.commit([Add("probe.json", b"{}")], "probe", head)
    head = store.head()
    show("read(path, sha), first time", measured(server, lambda: store.read("probe.json", head))[0])
    show("read(path, sha), cached", measured(server, lambda: store.read("probe.json", head))[0])
    show("read(path) at the head, cached", measured(server, lambda: store.read("probe.json"))[0])


def bench_listing(server: EmulatorServer, store: HubStore, big: int) -> None:
    small = {f"small/{i:02d}.json": b"{}" for i in range(10)}
    store.commit([Add(p, c) for p, c in small.items()], "small folder", store.head())
    counts, elapsed = measured(server, lambda: store.list("small"))
    show(f"list(10-file folder), repo small [{elapsed * 1000:.0f} ms]", counts)
    for start in range(0, big, 1000):
        ops = [Add(f"elsewhere/{i:05d}.json", b"{}") for i in range(start, min(big, start + 1000))]
        store.commit(ops, "bulk", store.head())
    counts, elapsed = measured(server, lambda: store.list("small"))
    show(f"list(10-file folder), +{big} files elsewhere [{elapsed * 1000:.0f} ms]", counts)
    counts, elapsed = measured(server, lambda: store.list("elsewhere"))
    show(f"list({big}-file folder) [{elapsed * 1000:.0f} ms]", counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--big", type=int, default=10_000)
    args = parser.parse_args()
    server = EmulatorServer(EmulatorSettings())
    server.start()
    try:
        store = HubStore.create("bench/queue", token=TOKEN, endpoint=server.url)
        bench_commits(server, store, args.commits)
        bench_reads(server, store)
        listing = HubStore.create("bench/listing", token=TOKEN, endpoint=server.url)
        bench_listing(server, listing, args.big)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
