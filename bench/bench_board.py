"""What the leaderboard costs: the board at 100,000 results, and submit-to-visible latency.

1. Board at N results (default 100,000, LocalStore): server-side time to build the
   table payload cold (read the parquet buckets, rank, format), warm (cache hit, and a
   TTL expiry with an unchanged head), and the per-request gradio payload for the rows
   a browser is sent, next to what sending all N rows would cost.
2. Submit to visible: a running app (its own OpenID provider on the emulator, a real
   sign-in) and an idle real evaluator worker in its own process; time from the submit
   call until the job is in the board endpoint's payload.

    .venv/bin/python bench/bench_board.py [--results 100000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="heldout-bench-gradio-")
for _name in ("SYSTEM", "SPACE_ID", "SPACE_HOST"):
    os.environ.pop(_name, None)

from heldout.hub_emulator import EmulatorServer, EmulatorSettings  # noqa: E402
from heldout.leaderboard.oauth_env import configure_local_oauth  # noqa: E402

# Sign-in settings must be in place before gradio is imported (below, lazily).
PROVIDER = EmulatorServer(EmulatorSettings(), port=0).start()
configure_local_oauth(PROVIDER.url, "heldout-local", "heldout-local-secret")

import httpx  # noqa: E402
import orjson  # noqa: E402

from heldout.config import BenchmarkConfig, load_config  # noqa: E402
from heldout.example.generate import make_predictions, make_truth, write_benchmark  # noqa: E402
from heldout.queue.local_store import LocalStore  # noqa: E402
from heldout.queue.results import RESULTS_SCHEMA_VERSION, Results  # noqa: E402

# Sign in exactly as the tests do: the real code flow through the emulator's page.
_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(_TESTS), str(_TESTS / "leaderboard")]
from lb_support import sign_in  # noqa: E402

BENCH = BenchmarkConfig(name="bench", primary_metric="accuracy", metrics=("accuracy", "macro_f1"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def populate(root: Path, n: int, batch: int = 10_000) -> Results:
    """n result rows, written with `Results.upsert` in big batches."""
    results = Results(LocalStore(root, durable=False), BENCH)
    rng = random.Random(0)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    for first in range(0, n, batch):
        rows = []
        for k in range(first, min(n, first + batch)):
            at = start + timedelta(minutes=k)
            score = round(rng.random(), 4)  # 4 decimals: many ties, as on real boards
            rows.append(
                {
                    "job_id": f"{at:%Y%m%dT%H%M%SZ}-{k:08x}",
                    "model": f"model {k}",
                    "submitter": f"user{k % 977}",
                    "description": "",
                    "submitted_at": at,
                    "finished_at": at + timedelta(minutes=1),
                    "primary_metric": "accuracy",
                    "primary_score": score,
                    "accuracy": score,
                    "macro_f1": score * 0.9,
                    "split_scores": [],
                    "predictions_sha256": "0" * 64,
                    "test_fingerprint": "bench",
                    "evaluator_version": "bench",
                    "schema_version": RESULTS_SCHEMA_VERSION,
                }
            )
        results.upsert(rows)
    return results


def payload_seconds(component: object, value: object) -> tuple[float, int]:
    """gradio's per-request work for one table value: postprocess, then JSON."""
    started = time.perf_counter()
    data = component.postprocess(value).model_dump()  # type: ignore[attr-defined]
    raw = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return time.perf_counter() - started, len(raw)


def board_at_scale(n: int, workdir: Path) -> None:
    import gradio as gr

    from heldout.leaderboard.board import SHOWN_ROWS
    from heldout.leaderboard.cache import BoardCache
    from heldout.leaderboard.ranking import best_over_time, board_table, columns, search

    print(f"\n== Board at {n:,} results (LocalStore, {BENCH.primary_metric}) ==")
    started = time.perf_counter()
    results = populate(workdir / "results", n)
    print(f"populate ({n // 10_000 or 1} upserts)      {time.perf_counter() - started:9.1f} s")

    now = [0.0]
    colds = []
    for _ in range(3):  # a fresh cache each time: the median of three cold builds
        cache = BoardCache(Results(results.store, BENCH), BENCH, ttl=30, clock=lambda: now[0])
        started = time.perf_counter()
        board = cache.get()
        colds.append(time.perf_counter() - started)
    cold = statistics.median(colds)
    print(f"cold build (read+rank+format) {ms(cold)}   ({board.rows:,} rows; median of 3)")

    fresh = Results(results.store, BENCH)
    t0 = time.perf_counter()
    frame = fresh.read()
    t1 = time.perf_counter()
    table = board_table(frame, BENCH)
    t2 = time.perf_counter()
    best_over_time(frame, BENCH)
    t3 = time.perf_counter()
    print(f"  of which: read parquet      {ms(t1 - t0)}")
    print(f"            rank + format     {ms(t2 - t1)}")
    print(f"            progress curve    {ms(t3 - t2)}")

    started = time.perf_counter()
    again = cache.get()
    print(f"warm, within the TTL          {ms(time.perf_counter() - started)}")
    now[0] = 31.0
    started = time.perf_counter()
    same = cache.get()
    assert again is board and same is board
    print(f"warm, TTL over, head same     {ms(time.perf_counter() - started)}   (one head())")

    cols = columns(BENCH)
    component = gr.Dataframe(headers=cols.headers, datatype=cols.datatypes, interactive=False)
    top = search(table, "", SHOWN_ROWS)
    seconds, size = payload_seconds(component, top)
    print(f"payload per page view         {ms(seconds)}   ({len(top):,} rows, {size / 1e6:.2f} MB)")
    seconds, size = payload_seconds(component, table)
    print(f"  (all {n:,} rows would be     {ms(seconds)}   {size / 1e6:.1f} MB per view)")
    started = time.perf_counter()
    found = search(table, f"model {n // 2}", SHOWN_ROWS)
    print(
        f"server-side search, all rows  {ms(time.perf_counter() - started)}   ({len(found)} hits)"
    )


# ---- submit to visible --------------------------------------------------------------


def call(client: httpx.Client, url: str, name: str, data: list, cookie: str | None) -> list:
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    event = client.post(f"{url}/gradio_api/call/{name}", json={"data": data}, headers=headers)
    event_id = event.json()["event_id"]
    text = client.get(f"{url}/gradio_api/call/{name}/{event_id}", headers=headers).text
    line = next(x for x in text.splitlines() if x.startswith("data: "))
    return orjson.loads(line[len("data: ") :])


def write_configs(root: Path, cache_seconds: float, poll_seconds: float) -> tuple[Path, Path]:
    files = write_benchmark(root / "bench", n=2000, seed=0)
    common = f"""
[benchmark]
name = "Latency bench"
primary_metric = "accuracy"
metrics = ["accuracy", "macro_f1"]
labels = ["negative", "neutral", "positive"]
public_ids = "{files.public_ids}"
[storage]
backend = "local"
root = "{root / "store"}"
[limits]
submissions_per_day = 1000
[leaderboard]
cache_seconds = {cache_seconds}
refresh_seconds = 1
"""
    board, worker = root / "board.toml", root / "evaluator.toml"
    board.write_text(common)
    worker.write_text(
        common
        + f"""
[evaluator]
scorer = "heldout.example.scorer:score"
truth = "{files.truth}"
poll_seconds = {poll_seconds}
idle_poll_seconds = {poll_seconds}
"""
    )
    return board, worker


def submit_to_visible(rounds: int, workdir: Path, cache_seconds: float, poll: float) -> None:
    from heldout.leaderboard.app import create_app
    from heldout.leaderboard.server import BackgroundServer

    print(
        f"\n== Submit to visible (idle worker polling every {poll:g} s, "
        f"board cache {cache_seconds:g} s) =="
    )
    board_config, worker_config = write_configs(workdir, cache_seconds, poll)
    config = load_config(board_config)
    blocks = create_app(config)
    blocks.space_id = None
    server = BackgroundServer(blocks, config).start()
    log = open(workdir / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "heldout.cli", "worker", "-c", str(worker_config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while b" started: " not in (workdir / "worker.log").read_bytes():  # "worker X started: …"
            assert time.monotonic() < deadline and worker.poll() is None, "worker did not start"
            time.sleep(0.1)
        cookie = sign_in(server.url, "bench-user")
        truth = make_truth(2000, 0)
        client = httpx.Client(timeout=60)
        submit_s, visible_s = [], []
        for k in range(rounds):
            content = make_predictions(
                truth["id"], ["negative", "neutral", "positive"], 0.6, 50 + k, truth
            )
            upload = client.post(
                f"{server.url}/gradio_api/upload",
                files={"files": ("p.csv", content.to_csv(index=False).encode())},
                headers={"Cookie": f"session={cookie}"},  # uploads need a session
            ).json()[0]
            file = {"path": upload, "orig_name": "p.csv", "meta": {"_type": "gradio.FileData"}}
            time.sleep(random.uniform(0, poll))  # arrive at a random point of the poll cycle
            started = time.perf_counter()
            status = call(client, server.url, "submit", [f"bench {k}", "", file], cookie)[0]
            submitted = time.perf_counter()
            job_id = re.search(r"\d{8}T\d{6}Z-[0-9a-f]{8}", status).group(0)  # type: ignore[union-attr]
            while True:
                table = call(client, server.url, "board", [""], None)[0]
                if any(row[-1] == job_id for row in table["data"]):
                    break
                time.sleep(0.05)
            visible_s.append(time.perf_counter() - started)
            submit_s.append(submitted - started)
        client.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        server.stop()

    def line(label: str, values: list[float]) -> None:
        print(
            f"{label:30}{ms(statistics.median(values))} median, "
            f"{ms(min(values)).strip()} min, {ms(max(values)).strip()} max"
        )

    line(f"submit call ({rounds} rounds)", submit_s)
    line("submit -> on the board payload", visible_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cache-seconds", type=float, default=1.0)
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heldout-bench-board-") as tmp:
        board_at_scale(args.results, Path(tmp) / "scale")
        (Path(tmp) / "latency").mkdir()
        submit_to_visible(args.rounds, Path(tmp) / "latency", args.cache_seconds, args.poll_seconds)
    PROVIDER.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
