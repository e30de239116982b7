"""The worker in one process: burst mode, idle polling, errors the submitter reads."""

from __future__ import annotations

import threading
import time

import pytest
from worker_helpers import Bench, digest_of

from heldout.errors import TransientError
from heldout.evaluator.failures import EVALUATOR_MESSAGE
from heldout.evaluator.worker import Worker
from heldout.queue.entry import ErrorKind
from heldout.queue.jobs import JobQueue
from heldout.queue.status import JobStatus


def run_once(bench: Bench, queue: JobQueue | None = None, **options) -> Worker:
    worker = Worker(queue or bench.queue(), bench.config, worker_id="w-test", **options)
    assert worker.run(once=True) == 0
    return worker


def test_a_burst_worker_scores_every_job_once_and_publishes_it(make_bench) -> None:
    bench = make_bench()
    jobs = bench.submit(12)
    worker = run_once(bench, concurrency=3)
    q = bench.queue()
    entries = {e.job_id: e for e in q.jobs()}
    assert {entries[j].status for j in jobs} == {JobStatus.FINISHED}
    first = entries[jobs[0]]
    assert first.evaluator_version.startswith("heldout ")
    assert len(first.test_fingerprint) == 64 and first.attempts == 1
    assert set(first.scores) == {"accuracy", "macro_f1"}
    results = q.results.read()
    assert sorted(results["job_id"]) == sorted(jobs)
    assert results.set_index("job_id").loc[jobs[0], "accuracy"] == first.scores["accuracy"]
    assert set(bench.scorer_calls().values()) == {1} and len(bench.scorer_calls()) == 12
    # claims and finishes were batched: far fewer commits than jobs
    assert worker.stats["claims"] <= 4
    later = bench.submit(2, start=100)  # the same worker, run again, serves new jobs too
    assert worker.run(once=True) == 0
    assert {q.get(j).status for j in later} == {JobStatus.FINISHED}


class CountingStore:
    """Counts each store call, to see what an idle worker costs."""

    def __init__(self, store) -> None:
        self.store, self.calls = store, {"head": 0, "list": 0, "read": 0, "commit": 0}

    def head(self):
        self.calls["head"] += 1
        return self.store.head()

    def list(self, prefix=""):
        self.calls["list"] += 1
        return self.store.list(prefix)

    def read(self, path, revision=None):
        self.calls["read"] += 1
        return self.store.read(path, revision)

    def commit(self, operations, message, parent):
        self.calls["commit"] += 1
        return self.store.commit(operations, message, parent)


def wait_until(condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_idle_worker_reads_only_the_head_and_claims_when_it_moves(make_bench) -> None:
    bench = make_bench()
    real = bench.queue()
    store = CountingStore(real.store)
    queue = JobQueue(store, bench.config, real.results)  # type: ignore[arg-type]
    worker = Worker(queue, bench.config, worker_id="idle")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(lambda: worker.stats["polls"] >= 2)  # the first look, then an idle poll
        before = dict(store.calls)
        wait_until(lambda: store.calls["head"] - before["head"] >= 5)  # five idle polls
        idle = {k: store.calls[k] - before.get(k, 0) for k in store.calls}
        assert idle["list"] == idle["read"] == idle["commit"] == 0

        (job,) = bench.submit(1)
        deadline = time.monotonic() + 10
        while real.get(job).status is not JobStatus.FINISHED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert real.get(job).status is JobStatus.FINISHED
    finally:
        worker.request_stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_scorer_that_raises_or_hangs_fails_only_its_job_with_the_generic_reason(
    make_bench, caplog: pytest.LogCaptureFixture
) -> None:
    bench = make_bench(
        queue={"max_attempts": 2, "claim_batch": 2},
        evaluator={"scorer": "worker_scorers:score_by_content", "score_timeout_seconds": 1.0},
    )
    ids, q = bench.truth["id"], bench.queue()

    def file_of(label: str) -> bytes:
        return ("id,prediction\n" + "".join(f"{i},{label}\n" for i in ids)).encode()

    from heldout.queue.submission import Submission

    raises, hangs = (
        q.submit(Submission(user, "m", file_of(label), "csv")).job_id
        for user, label in (("ann", "negative"), ("bo", "neutral"))
    )
    good = bench.submit(3)
    with caplog.at_level("INFO", logger="heldout.evaluator"):
        run_once(bench, concurrency=2)  # a hang past the timeout is killed, not waited for
    for job in (raises, hangs):
        entry = q.get(job)
        assert entry.status is JobStatus.FAILED and entry.attempts == 2
        assert entry.error.kind is ErrorKind.EVALUATOR
        assert entry.error.message == EVALUATOR_MESSAGE
    assert {q.get(j).status for j in good} == {JobStatus.FINISHED}
    assert bench.scorer_calls("raise")[digest_of(file_of("negative"))] == 2
    assert bench.scorer_calls("hang")[digest_of(file_of("neutral"))] == 2
    # the maintainer's log has the whole story: the exception and its traceback
    log = caplog.text
    assert "ZeroDivisionError" in log and "Traceback" in log and "did not finish within 1 s" in log
    assert "in score_by_content" in log  # where the hung scorer was stuck
    assert q.quota("ann").used == 0  # our fault: the submission is given back


class FlakyDownloads(CountingStore):
    """Every predictions download fails as a dropped connection would."""

    def read(self, path, revision=None):
        if path.startswith("predictions/"):
            self.calls["read"] += 1
            raise TransientError("reading predictions kept failing (HTTP 503)")
        return self.store.read(path, revision)


def test_a_download_that_keeps_failing_is_retried_then_fails_as_ours(make_bench) -> None:
    from heldout.evaluator.failures import INFRASTRUCTURE_MESSAGE

    bench = make_bench(queue={"max_attempts": 2})
    (job,) = bench.submit(1)
    real = bench.queue()
    store = FlakyDownloads(real.store)
    queue = JobQueue(store, bench.config, real.results)  # type: ignore[arg-type]
    run_once(bench, queue)
    entry = real.get(job)
    assert entry.status is JobStatus.FAILED and entry.attempts == 2
    assert entry.error.kind is ErrorKind.INFRASTRUCTURE
    assert entry.error.message == INFRASTRUCTURE_MESSAGE  # no URL, no status line
    # the store's own retry policy is the only one (it gave up here): no loop stacked
    # on top in the worker, so one read per attempt, and two attempts
    assert store.calls["read"] == 2
    assert real.quota(entry.submitter).used == 0  # our fault: the submission is given back


def test_the_command_refuses_a_config_without_an_evaluator_section(make_bench, capsys) -> None:
    from heldout.evaluator.cli import main

    bench = make_bench()
    text = bench.config_path.read_text()
    board = bench.root / "board.toml"
    board.write_text(text[: text.index("[evaluator]")])
    assert main(["-c", str(board), "--once"]) == 1
    assert "has no [evaluator] section" in capsys.readouterr().err
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert main(["-c", str(bench.config_path), "--once", "--id", "cli"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before  # the host's handler is back


def test_a_busy_worker_looks_for_more_work_less_and_less_often(make_bench, monkeypatch) -> None:
    from worker_scorers import SLEEP_ENV

    bench = make_bench(evaluator={"idle_poll_seconds": 2.0})
    real = bench.queue()
    store = CountingStore(real.store)
    queue = JobQueue(store, bench.config, real.results)  # type: ignore[arg-type]
    monkeypatch.setenv(SLEEP_ENV, "4")  # one job that takes 4 s to score
    (job,) = bench.submit(1)
    worker = Worker(queue, bench.config, worker_id="busy")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(lambda: bench.scorer_calls("start")[digest_of(bench.predictions(0))] == 1)
        before = store.calls["head"]
        time.sleep(3)  # scoring: polls for more double from 0.05 s up to 2 s
        busy_heads = store.calls["head"] - before
        wait_until(lambda: real.get(job).status is JobStatus.FINISHED)
    finally:
        worker.request_stop()
        thread.join(timeout=10)
    assert busy_heads <= 8, busy_heads  # at a steady 0.05 s it was about 60
