"""Workers that die or are stopped mid-job lose nothing and score nothing twice."""

from __future__ import annotations

import os
import signal
import time

from worker_helpers import Bench, assert_consistent, digest_of, wait_for

from heldout.evaluator.worker import Worker
from heldout.queue.entry import parse_iso, utcnow
from heldout.queue.status import JobStatus


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def scoring_pid(bench: Bench, digest: str) -> int:
    for line in bench.scorer_log.read_text().splitlines():
        event, seen, pid = line.split()
        if (event, seen) == ("start", digest):
            return int(pid)
    raise AssertionError("the scorer never started")


def started(bench: Bench, digest: str) -> bool:
    return bench.scorer_calls("start")[digest] > 0


def test_a_killed_worker_loses_its_job_to_the_lease_and_it_finishes_once(make_bench) -> None:
    # Long enough that a loaded machine cannot let it run out between the kill and the
    # check that nobody may take the job yet; the test then waits it out.
    bench = make_bench(queue={"lease_seconds": 5.0}, evaluator={"direct_seconds": 0})
    (job,) = bench.submit(1)
    digest = digest_of(bench.predictions(0))
    proc = bench.spawn("--id", "doomed", HELDOUT_TEST_SCORER_SLEEP="60")
    try:
        wait_for(lambda: started(bench, digest))
        child = scoring_pid(bench, digest)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    wait_for(lambda: not alive(child), timeout=5)  # the orphaned scorer dies with its worker

    q = bench.queue()
    held = q.get(job)
    assert (held.status, held.worker) == (JobStatus.RUNNING, "doomed")
    early = q.claim("early")
    assert early.jobs == [] and early.wake_at == parse_iso(held.lease_expires_at)
    assert q.get(job).status is JobStatus.RUNNING  # the lease still holds: nobody steals it
    time.sleep(max(0.0, (parse_iso(q.get(job).lease_expires_at) - utcnow()).total_seconds()))

    Worker(q, bench.config, worker_id="heir").run(once=True)
    entry = q.get(job)
    assert entry.status is JobStatus.FINISHED and entry.attempts == 2
    assert bench.scorer_calls("start")[digest] == 2 and bench.scorer_calls("done")[digest] == 1
    assert q.results.read()["job_id"].tolist() == [job]
    assert_consistent(q)


def test_sigterm_during_scoring_gives_every_claimed_job_back(make_bench) -> None:
    bench = make_bench(evaluator={"direct_seconds": 0})
    jobs = bench.submit(3)
    proc = bench.spawn("--id", "stopping", HELDOUT_TEST_SCORER_SLEEP="60")
    try:
        wait_for(lambda: sum(bench.scorer_calls("start").values()) == 1)
        q = bench.queue()
        assert {q.get(j).status for j in jobs} == {JobStatus.RUNNING}  # one scoring, two waiting
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        proc.kill()
    _, err = proc.communicate()
    assert "received SIGTERM" in err and "released" in err

    for entry in (q.get(j) for j in jobs):
        assert (entry.status, entry.worker, entry.attempts) == (JobStatus.PENDING, None, 0)
    assert q.results.read().empty
    assert_consistent(q)

    Worker(q, bench.config, worker_id="next").run(once=True)
    assert {q.get(j).status for j in jobs} == {JobStatus.FINISHED}
    assert set(bench.scorer_calls("done").values()) == {1} and len(bench.scorer_calls()) == 3
    assert sorted(q.results.read()["job_id"]) == sorted(jobs)


def test_a_job_longer_than_its_lease_is_renewed_and_never_stolen(make_bench, monkeypatch) -> None:
    import threading

    # The job runs over twice its lease; renewals come every lease/3, with room for a
    # loaded machine's hiccups.
    bench = make_bench(queue={"lease_seconds": 3.0}, evaluator={"direct_seconds": 0})
    (job,) = bench.submit(1)
    monkeypatch.setenv("HELDOUT_TEST_SCORER_SLEEP", "7")
    q = bench.queue()
    slow = Worker(q, bench.config, worker_id="slow")
    thread = threading.Thread(target=slow.run, kwargs={"once": True})
    thread.start()
    wait_for(lambda: sum(bench.scorer_calls("start").values()) == 1)
    monkeypatch.delenv("HELDOUT_TEST_SCORER_SLEEP")
    thief = Worker(bench.queue(), bench.config, worker_id="thief")
    stop = time.monotonic() + 6.5
    while time.monotonic() < stop:  # another worker keeps looking for expired leases
        thief.run(once=True)
        time.sleep(0.2)
    thread.join(timeout=20)
    entry = q.get(job)
    assert entry.status is JobStatus.FINISHED and entry.attempts == 1
    assert slow.stats["renewals"] >= 2 and thief.stats["finished"] == 0
    assert sum(bench.scorer_calls("start").values()) == 1
