"""Hub budget: every row of issue 10's table, for heldout AND for the simple design, on
the same emulator in the same run, with requests and commits counted per repo.

The simple design is built here with the real client: one JSON upload per submission
(predictions inline) and one per result, into one repo, and an evaluator that lists
the repo every 300 s, downloads each new submission and uploads its result.

Rows:
1. queue-repo commits per job, submissions arriving one at a time (each scored before
   the next arrives), and so the submissions per hour a 128 commits/h repo allows;
2. queue-repo commits per job, a burst of N (default 500), 1 worker;
3. HTTP requests per evaluated job in that burst, split into API calls, downloads and
   commits (every repo, board and evaluator together);
4. 4 workers vs 1: requests per job, and commit attempts that lost the CAS race (412);
5. time to drain the burst (the whole burst waiting when the evaluator starts);
6. API calls by one idle worker per 5 minutes, without and with a webhook (measured
   over --idle-seconds, run alongside the rest);
7. a spent commit quota (429 + Retry-After): commit probes per repo while it lasts,
   results re-published, submissions accepted once a commit is allowed.

    .venv/bin/python bench/bench_budget.py [--burst 500] [--lone 10] [--idle-seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="heldout-bench-hfhome-")

from huggingface_hub import HfApi, hf_hub_download  # noqa: E402

import heldout.hub_emulator.server as emulator_server  # noqa: E402
from heldout.config import Config, config_from_dict  # noqa: E402
from heldout.errors import QueueDelayed  # noqa: E402
from heldout.evaluator.worker import Worker  # noqa: E402
from heldout.example.generate import make_predictions, make_truth  # noqa: E402
from heldout.example.scorer import score as example_score  # noqa: E402
from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from heldout.queue.backends import open_queue  # noqa: E402
from heldout.queue.group import GroupCommitter  # noqa: E402
from heldout.queue.hub_store import HubStore  # noqa: E402
from heldout.queue.status import JobStatus  # noqa: E402
from heldout.queue.submission import Submission  # noqa: E402

OWNER = "bench"
TOKEN = f"hf_test_{OWNER}"
LABELS = ["negative", "neutral", "positive"]
N_TRUTH = 40
SIMPLE_POLL = 300.0
WARM_UP = 10.0

# ---- counting requests per repo ---------------------------------------------------------

_REPO = re.compile(r"^/(?:api/)?datasets/([^/]+/[^/]+?)(?:/|$)")


class RepoCounter:
    """ASGI middleware: every Hub request by repo and kind (api, download, commit), and
    commit attempts that got 412 (a lost CAS race) or 429 (quota)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def __getattr__(self, name: str) -> Any:  # `state` and the rest: the emulator's app
        return getattr(self.app, name)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        found = _REPO.match(path)
        repo = found.group(1) if found else "-"
        if "/resolve/" in path:
            kind = "download"
        elif "/commit/" in path and scope["method"] == "POST":
            kind = "commit"
        elif path.startswith("/api/"):
            kind = "api"
        elif repo == "-" and not path.startswith("/_emulator"):
            kind = "xet"  # the CAS service of binary (parquet) uploads; no repo in its paths
        else:
            kind = "other"
        status: list[int] = []

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        with self.lock:
            self.counts[repo][kind] += 1
            if kind in ("download", "api") and os.environ.get("BENCH_DETAIL"):
                rest = path.split("/resolve/", 1)[-1].split("/")
                where = rest[1] if kind == "download" and len(rest) > 1 else path.split("/")[-2]
                self.counts[repo][f"{kind}:{scope['method']}:{where}"] += 1
            if kind == "commit" and status and status[0] in (412, 429):
                self.counts[repo][f"commit {status[0]}"] += 1

    def of(self, *repos: str) -> Counter[str]:
        with self.lock:
            total: Counter[str] = Counter()
            for repo in repos:
                total += self.counts.get(repo, Counter())
            return total


COUNTER: RepoCounter | None = None


def start_emulator() -> EmulatorServer:
    global COUNTER
    original = emulator_server.create_app

    def counted(settings: EmulatorSettings | None = None) -> Any:
        global COUNTER
        COUNTER = RepoCounter(original(settings))
        return COUNTER

    emulator_server.create_app = counted
    try:
        return EmulatorServer(EmulatorSettings(), port=0).start()
    finally:
        emulator_server.create_app = original


def requests(c: Counter[str]) -> int:
    return c["api"] + c["download"] + c["commit"] + c["xet"]


# ---- shared setup ------------------------------------------------------------------------


def files(n: int, start: int = 0) -> list[bytes]:
    truth = make_truth(N_TRUTH, seed=3)
    return [
        make_predictions(truth["id"], LABELS, 0.7, seed, truth=truth).to_csv(index=False).encode()
        for seed in range(start, start + n)
    ]


def make_config(tmp: Path, server: EmulatorServer, name: str, **evaluator: Any) -> Config:
    truth_path = tmp / "truth.parquet"
    if not truth_path.exists():
        make_truth(N_TRUTH, seed=3).to_parquet(truth_path, index=False)
    os.environ["HELDOUT_BENCH_TOKEN"] = TOKEN
    config = config_from_dict(
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
            "limits": {"submissions_per_day": 1000},
            "evaluator": {
                "scorer": "heldout.example.scorer:score",
                "truth": str(truth_path),
                "poll_seconds": 0.2,
                **evaluator,
            },
        },
        base_dir=tmp,
    )
    for repo, private in ((config.storage.queue_repo, True), (config.storage.results_repo, False)):
        HubStore.create(repo, token=TOKEN, endpoint=server.url, private=private)
    return config


def repos(config: Config) -> tuple[str, str]:
    return config.storage.queue_repo, config.storage.results_repo  # type: ignore[return-value]


def run_worker(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def published_all(config: Config, n: int) -> bool:
    return len(open_queue(config).results.read()) >= n


# ---- the simple design ---------------------------------------------------------------------


class Simple:
    """One repo; one JSON upload per submission and per result; an evaluator polling."""

    def __init__(self, server: EmulatorServer, name: str) -> None:
        self.repo = f"{OWNER}/{name}-simple"
        self.endpoint = server.url
        self.api = HfApi(endpoint=server.url, token=TOKEN)
        self.api.create_repo(self.repo, repo_type="dataset", private=True, exist_ok=True)
        self.truth = make_truth(N_TRUTH, seed=3)
        self.n = 0
        self.lock = threading.Lock()
        self.done: set[str] = set()

    def submit(self, user: str, content: bytes) -> str:
        with self.lock:
            self.n += 1
            name = f"{self.n:06d}"
        record = {"user": user, "predictions": content.decode()}
        self.api.upload_file(
            path_or_fileobj=json.dumps(record).encode(),
            path_in_repo=f"submissions/{name}.json",
            repo_id=self.repo,
            repo_type="dataset",
            commit_message=f"submission {name}",
        )
        return name

    def poll(self) -> int:
        """One poll: list, then download, score and upload a result for each new one."""
        tree = self.api.list_repo_tree(self.repo, repo_type="dataset", recursive=True)
        paths = [f.path for f in tree if f.path.endswith(".json")]
        subs = {p.split("/")[1][:-5] for p in paths if p.startswith("submissions/")}
        results = {p.split("/")[1][:-5] for p in paths if p.startswith("results/")}
        n = 0
        for name in sorted(subs - results - self.done):
            local = hf_hub_download(
                self.repo,
                f"submissions/{name}.json",
                repo_type="dataset",
                token=TOKEN,
                endpoint=self.endpoint,
            )
            import io

            import pandas as pd

            record = json.loads(Path(local).read_text())
            frame = pd.read_csv(io.StringIO(record["predictions"]), dtype={"id": str})
            frame = frame.set_index("id").loc[self.truth["id"]].reset_index()
            scores = example_score(frame, self.truth)
            self.api.upload_file(
                path_or_fileobj=json.dumps({"user": record["user"], **scores}).encode(),
                path_in_repo=f"results/{name}.json",
                repo_id=self.repo,
                repo_type="dataset",
                commit_message=f"result {name}",
            )
            self.done.add(name)
            n += 1
        return n

    def idle(self, stop: threading.Event) -> None:
        while True:
            self.poll()
            if stop.wait(SIMPLE_POLL):
                return


# ---- 1. lone jobs ------------------------------------------------------------------------


def lone(server: EmulatorServer, tmp: Path, n: int) -> dict[str, Any]:
    contents = files(n, start=10_000)
    simple = Simple(server, "lone")
    for i, content in enumerate(contents):
        simple.submit(f"user{i}", content)
        simple.poll()
    config = make_config(tmp, server, "lone")
    board = GroupCommitter(open_queue(config))
    worker = Worker(open_queue(config), config, worker_id="lone")
    worker.webhook = True  # woken by the bench as a webhook would, so no wait for a poll
    thread = run_worker(worker)
    for i, content in enumerate(contents):
        entry = board.submit(Submission(f"user{i}", f"m{i}", content, "csv"))
        worker.wake()
        queue = open_queue(config)
        while queue.get(entry.job_id).status is not JobStatus.FINISHED:
            time.sleep(0.05)
    worker.request_stop()
    thread.join()
    queue_repo, _ = repos(config)
    return {
        "simple": COUNTER.of(simple.repo)["commit"] / n,
        "heldout": COUNTER.of(queue_repo)["commit"] / n,
    }


# ---- 2-5. the burst ----------------------------------------------------------------------


def submit_burst(board: Callable[[int, bytes], object], contents: list[bytes]) -> float:
    started = time.perf_counter()
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            board(i, contents[i])
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(contents))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} submissions failed: {errors[0]!r}")
    return time.perf_counter() - started


def burst_simple(server: EmulatorServer, contents: list[bytes]) -> dict[str, Any]:
    simple = Simple(server, "burst")
    submit_burst(lambda i, c: simple.submit(f"user{i % (len(contents) // 5 + 1)}", c), contents)
    started = time.perf_counter()
    simple.poll()  # its poll comes when the whole burst is there
    drain = time.perf_counter() - started
    c = COUNTER.of(simple.repo)
    return {"commits": c["commit"], "counts": c, "drain": drain}


def burst_heldout(
    server: EmulatorServer, tmp: Path, contents: list[bytes], workers: int, name: str
) -> dict[str, Any]:
    config = make_config(tmp, server, name)
    board = GroupCommitter(open_queue(config))
    n = len(contents)
    submit_burst(
        lambda i, c: board.submit(Submission(f"user{i % (n // 5 + 1)}", f"m{i}", c, "csv")),
        contents,
    )
    pool = [Worker(open_queue(config), config, worker_id=f"{name}{k}") for k in range(workers)]
    queue_repo, results_repo = repos(config)
    xet_before = COUNTER.of("-")["xet"]
    submitted = COUNTER.of(queue_repo, results_repo)  # the workers' share starts here
    started = time.perf_counter()
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in pool]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain = time.perf_counter() - started
    counts = COUNTER.of(queue_repo, results_repo)
    counts["xet"] = COUNTER.of("-")["xet"] - xet_before  # nothing else uses Xet meanwhile
    working = counts - submitted
    working["xet"] = counts["xet"]
    counted = {  # before the bench's own checks below
        "queue_commits": COUNTER.of(queue_repo)["commit"],
        "counts": counts,
        "working": working,  # from the workers' start to the drain
        "queue": COUNTER.of(queue_repo),
        "drain": drain,
    }
    queue = open_queue(config)
    finished = queue.ids(JobStatus.FINISHED)
    assert len(finished) == n, (len(finished), n)
    assert len(queue.results.read()) == n
    return counted


# ---- 6. idle -----------------------------------------------------------------------------


def start_idle(
    server: EmulatorServer, tmp: Path
) -> tuple[Callable[[], dict[str, float]], Callable]:
    stop = threading.Event()
    simple = Simple(server, "idle")
    threads = [threading.Thread(target=simple.idle, args=(stop,), daemon=True)]
    workers = []
    configs = {}
    for webhook in (False, True):
        config = make_config(tmp, server, f"idle{int(webhook)}", poll_seconds=2.0)
        worker = Worker(open_queue(config), config, worker_id=f"idle{int(webhook)}")
        worker.webhook = webhook
        workers.append(worker)
        configs[webhook] = config
        threads.append(threading.Thread(target=worker.run, daemon=True))
    for t in threads:
        t.start()
    time.sleep(WARM_UP)  # set-up and the first look are not what idling costs
    names = {"simple": (simple.repo,)}
    names.update({f"heldout{int(w)}": repos(c) for w, c in configs.items()})
    base = {name: COUNTER.of(*rs)["api"] for name, rs in names.items()}
    started = time.monotonic()

    def measure() -> dict[str, float]:
        seconds = time.monotonic() - started
        per5 = 300.0 / max(seconds, 1e-9)
        out = {name: (COUNTER.of(*rs)["api"] - base[name]) * per5 for name, rs in names.items()}
        return {"seconds": seconds, **out}

    def finish() -> None:
        stop.set()
        for w in workers:
            w.request_stop()

    return measure, finish


# ---- 7. a spent commit quota ---------------------------------------------------------------


def quota(server: EmulatorServer, tmp: Path, watch: float) -> dict[str, Any]:
    """Fill each repo's commit quota, then keep submitting and working for `watch`
    seconds: count commit attempts (probes) per repo and what gets re-published."""
    config = make_config(tmp, server, "quota")
    queue_repo, results_repo = repos(config)
    simple = Simple(server, "quota")
    queue = open_queue(config)
    board = GroupCommitter(queue, max_wait=0)
    worker = Worker(open_queue(config), config, worker_id="quota")
    contents = files(12, start=20_000)
    for i in range(6):
        board.submit(Submission(f"user{i}", f"m{i}", contents[i], "csv"))
        simple.submit(f"user{i}", contents[i])
    thread = run_worker(worker)
    while not published_all(config, 6):
        time.sleep(0.1)
    # every repo has used its hour: the next commit anywhere gets 429 + Retry-After
    used = {r: COUNTER.of(r)["commit"] for r in (queue_repo, results_repo, simple.repo)}
    server.settings.commit_quota_per_hour = 1
    before = {r: Counter(COUNTER.of(r)) for r in used}
    delayed = simple_failed = 0
    deadline = time.monotonic() + watch
    i = 6
    while time.monotonic() < deadline:
        if i < len(contents):
            try:
                board.submit(Submission(f"user{i}", f"m{i}", contents[i], "csv"))
            except QueueDelayed:
                delayed += 1
            try:
                simple.submit(f"user{i}", contents[i])
            except Exception:  # noqa: BLE001 - the simple design just fails
                simple_failed += 1
            i += 1
        time.sleep(watch / 8)
    during = {r: COUNTER.of(r) - before[r] for r in used}
    server.settings.commit_quota_per_hour = None
    worker.request_stop()
    thread.join()
    titles = [
        c.title
        for c in HfApi(endpoint=server.url, token=TOKEN).list_repo_commits(
            results_repo, repo_type="dataset"
        )
    ]
    rows_written = sum(int(m.group(1)) for t in titles if (m := re.match(r"Publish (\d+)", t)))
    return {
        "watch": watch,
        "probes": {r: d["commit"] for r, d in during.items()},
        "refused": {r: d["commit 429"] for r, d in during.items()},
        "requests": {r: requests(d) for r, d in during.items()},
        "rows_written": rows_written,
        "rows": len(queue.results.read()),
        "delayed": delayed,
        "simple_failed": simple_failed,
        "simple": simple.repo,
        "queue": queue_repo,
        "results": results_repo,
    }


# ---- the table ---------------------------------------------------------------------------


def row(measure: str, simple: str, heldout: str, target: str) -> None:
    print(f"| {measure} | {simple} | {heldout} | {target} |")


def split(c: Counter[str], n: int) -> str:
    xet = f", {c['xet'] / n:.2f} Xet CAS" if c["xet"] else ""
    return (
        f"{requests(c) / n:.2f} ({c['api'] / n:.2f} API, {c['download'] / n:.2f} downloads, "
        f"{c['commit'] / n:.2f} commits{xet})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--lone", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=300.0)
    parser.add_argument("--quota-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    server = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            idle_measure, idle_finish = start_idle(server, tmp)
            print(f"measuring (burst {args.burst}, {args.lone} lone jobs) ...", file=sys.stderr)
            lone_cost = lone(server, tmp, args.lone)
            contents = files(args.burst)
            simple = burst_simple(server, contents)
            one = burst_heldout(server, tmp, contents, 1, "one")
            four = burst_heldout(server, tmp, contents, 4, "four")
            left = args.idle_seconds - idle_measure()["seconds"]
            if left > 0:
                print(f"waiting {left:.0f} s more for the idle figures ...", file=sys.stderr)
                time.sleep(left)
            idle = idle_measure()
            idle_finish()
            spent = quota(server, tmp, args.quota_seconds)
    finally:
        server.stop()

    n = args.burst
    if os.environ.get("BENCH_DETAIL"):
        for name, result in (("one", one), ("four", four)):
            detail = {k: v for k, v in result["counts"].items() if ":" in k}
            print(name, json.dumps(dict(sorted(detail.items())), indent=0))
    print(f"\nHub budget, heldout vs the simple design, same emulator, same run (burst {n})\n")
    row("measure", "simple design", "heldout", "target")
    row("---", "---", "---", "---")
    row(
        f"queue-repo commits per job, {args.lone} jobs one at a time",
        f"{lone_cost['simple']:.2f}",
        f"{lone_cost['heldout']:.2f}",
        "≤ 2.0",
    )
    row(
        "submissions/hour a 128 commits/h repo allows, one at a time",
        f"{128 / lone_cost['simple']:.1f}",
        f"{128 / lone_cost['heldout']:.1f}",
        "≥ 64",
    )
    row(
        f"queue-repo commits per job, burst of {n}, 1 worker",
        f"{simple['commits'] / n:.3f}",
        f"{one['queue_commits'] / n:.3f}",
        "≤ 0.2",
    )
    row(
        f"HTTP requests per evaluated job, burst of {n}, 1 worker",
        split(simple["counts"], n),
        split(one["counts"], n),
        "≤ 5",
    )
    q4, w4, w1 = four["queue"], four["working"], one["working"]
    lost = q4["commit 412"] / max(1, q4["commit"])
    worker_lost = w4["commit 412"] / max(1, w4["commit"])
    ratio = requests(four["counts"]) / max(1, requests(one["counts"]))
    working_ratio = requests(w4) / max(1, requests(w1))
    row(
        "requests per job, 4 workers vs 1; lost CAS races",
        "—",
        f"{ratio:.2f}× ({requests(four['counts']) / n:.2f} vs {requests(one['counts']) / n:.2f});"
        f" {lost:.1%} of {q4['commit']} commit attempts lost",
        "≤ 1.3×; ≤ 10%",
    )
    row(
        "... the workers' part only (from their start to the drain)",
        "—",
        f"{working_ratio:.2f}× ({requests(w4) / n:.2f} vs {requests(w1) / n:.2f}); "
        f"{worker_lost:.1%} of {w4['commit']} worker commit attempts lost",
        "≤ 1.3×; ≤ 10%",
    )
    row(
        "time to drain the burst, 1 worker",
        f"1× ({simple['drain']:.1f} s)",
        f"{one['drain'] / simple['drain']:.2f}× ({one['drain']:.1f} s; 4 workers {four['drain']:.1f} s)",
        "≤ 1.5×",
    )
    row(
        f"API calls per 5 minutes by one idle worker (over {idle['seconds']:.0f} s)",
        f"{idle['simple']:.1f}",
        f"{idle['heldout0']:.1f} without a webhook, {idle['heldout1']:.1f} with one",
        "≤ 20; ≤ 5",
    )
    probes = spent["probes"]
    row(
        f"a spent commit quota, {spent['watch']:.0f} s watched: commit attempts per repo",
        f"{probes[spent['simple']]} ({spent['simple_failed']} submissions failed)",
        f"queue {probes[spent['queue']]}, results {probes[spent['results']]} "
        f"({spent['delayed']} submissions told 'delayed'; "
        f"{spent['rows_written']} rows written for {spent['rows']} results)",
        "≤ 1 per Retry-After per repo; nothing re-published",
    )
    print(
        "\nRequests while the quota was spent: "
        + ", ".join(f"{r}: {n}" for r, n in spent["requests"].items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
