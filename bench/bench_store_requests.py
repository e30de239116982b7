"""How many Hub requests each HubStore call costs, measured on the emulator.

The Hub limits API calls per 5 minutes and commits per hour, so what a worker's idle
poll and a queue transition cost decides how many workers one repo can carry. The
figures are what the emulator's counters saw, by endpoint; the last lines are the
process's rate governor's own count, and what a spent commit quota costs.

    .venv/bin/python bench/bench_store_requests.py [--commits 100] [--big 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-bench-hfhome-")

from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from heldout.queue.governor import governor  # noqa: E402
from heldout.queue.hub_store import HubStore  # noqa: E402
from heldout.queue.store import Add, read_many  # noqa: E402

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
    other = HubStore(store.repo_id, token=TOKEN, endpoint=server.url)  # another process
    show("read(path, sha), first time", measured(server, lambda: other.read("probe.json", head))[0])
    show(
        "read(path, sha) of a file it committed",
        measured(server, lambda: store.read("probe.json", head))[0],
    )
    show("read(path, sha), cached", measured(server, lambda: other.read("probe.json", head))[0])
    show("read(path) at the head, cached", measured(server, lambda: store.read("probe.json"))[0])


def bench_read_many(server: EmulatorServer, store: HubStore, label: str) -> None:
    paths = [f"users/u{n:02d}.json" for n in range(30)]
    first = store.commit([Add(p, p.encode()) for p in paths], "users", store.head())
    fresh = HubStore(store.repo_id, token=TOKEN, endpoint=server.url)  # nothing cached
    show(
        f"{label}read_many(30 files), first time",
        measured(server, lambda: read_many(fresh, paths, first))[0],
    )
    moved = store.commit([Add("queue/other.json", b"x")], "other", first)
    show(
        f"{label}read_many(30 files), after a commit",
        measured(server, lambda: read_many(fresh, paths, moved))[0],
    )
    show(
        f"{label}read_many(30 files), same sha again",
        measured(server, lambda: read_many(fresh, paths, moved))[0],
    )


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


def bench_spent_quota(server: EmulatorServer, threads: int = 4, waits: int = 3) -> None:
    """Threads keep committing while the commit quota is out; it comes back after
    `waits` Retry-After waits (slept as 0.1 s here: the emulator asks for up to an hour)."""
    seen: list[float] = []
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        time.sleep(0.1)
        with lock:
            seen.append(seconds)
            if len(seen) == waits and server.settings.commit_quota_per_hour is not None:
                counts.update(server.counters())
                server.settings.commit_quota_per_hour = None

    store = HubStore.create(
        "bench/quota", token=TOKEN, endpoint=server.url, sleep=sleep, retry_seconds=1e6
    )
    store.commit([Add("n", b"0")], "start", store.head())
    server.settings.commit_quota_per_hour = 1
    server.reset_counters()

    def bump(_: int) -> None:
        while True:
            head = store.head()
            try:
                store.commit([Add("n", b"%d" % (int(store.read("n", head)) + 1))], "bump", head)
                return
            except Exception:  # noqa: BLE001 - a lost CAS race: re-read
                continue

    pool = [threading.Thread(target=bump, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    sent = counts["commit"] + counts["preupload"]
    print(
        f"{'quota out, ' + str(threads) + ' threads, ' + str(waits) + ' Retry-After waits':<44}"
        f" {sent:6d} commit+preupload requests while out; counter {store.read('n').decode()}"
        f" (expected {threads})"
    )


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
        bench_read_many(server, store, "")
        server.settings.paths_info = False
        bench_read_many(
            server,
            HubStore.create("bench/nopi", token=TOKEN, endpoint=server.url),
            "no paths-info: ",
        )
        server.settings.paths_info = True
        listing = HubStore.create("bench/listing", token=TOKEN, endpoint=server.url)
        bench_listing(server, listing, args.big)
        print(f"{'governor, whole run':<44} {governor().snapshot().describe()}")
        bench_spent_quota(server)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
