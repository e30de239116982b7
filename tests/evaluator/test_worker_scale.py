"""Four worker processes share one queue: every job is scored and published exactly once."""

from __future__ import annotations

import pytest
from worker_helpers import assert_consistent, digest_of

from heldout.queue.status import JobStatus

JOBS = 200
WORKERS = 4


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "hub"])
def test_four_worker_processes_finish_two_hundred_jobs_exactly_once(make_bench, backend) -> None:
    bench = make_bench(backend)
    jobs = bench.submit(JOBS, users=20)
    procs = [bench.spawn("--once", "--id", f"w{n}") for n in range(WORKERS)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]

    q = bench.queue()
    entries = {e.job_id: e for e in q.jobs()}
    assert {entries[j].status for j in jobs} == {JobStatus.FINISHED}
    for job in jobs:  # finished exactly once (a retried download may add an attempt)
        history = [(event.status, event.by, event.note) for event in entries[job].history]
        assert [h[0] for h in history].count("FINISHED") == 1, history
    results = q.results.read()
    assert len(results) == JOBS and set(results["job_id"]) == set(jobs)

    done = bench.scorer_calls("done")
    expected = {digest_of(bench.predictions(n)) for n in range(JOBS)}
    assert set(done) == expected
    assert max(done.values()) == 1, [d for d, n in done.items() if n > 1]  # no job scored twice
    pids = {line.split()[2] for line in bench.scorer_log.read_text().splitlines()}
    assert not pids & {str(p.pid) for p in procs}  # scoring ran in child processes
    workers = {
        event.by for e in entries.values() for event in e.history if event.status == "FINISHED"
    }
    assert len(workers) >= 2  # the work was shared
    assert_consistent(q)
