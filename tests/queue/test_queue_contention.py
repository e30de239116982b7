"""What a writer with company costs: a lost race is caught up rather than planned
again, a worker's commit catches up before it is sent, claims leave the user index
alone, and a busy worker reads other workers' leases only when its watch is due."""

from __future__ import annotations

from queue_helpers import QueueEnv, scored, submission

from heldout.errors import Conflict
from heldout.queue import moves
from heldout.queue.jobs import JobQueue
from heldout.queue.results import Results
from heldout.queue.status import JobStatus, status_path
from heldout.queue.store import read_many
from heldout.queue.txn import Txn, transact


class Recording:
    """A store that remembers which paths were asked for and counts commit attempts."""

    def __init__(self, store) -> None:
        self.store, self.asked, self.commits, self.lost = store, [], 0, 0

    def head(self) -> str:
        return self.store.head()

    def list(self, prefix: str = "") -> list[str]:
        return self.store.list(prefix)

    def read(self, path: str, revision: str | None = None) -> bytes:
        self.asked.append(path)
        return self.store.read(path, revision)

    def read_many(self, paths: list[str], revision: str) -> dict[str, bytes | None]:
        self.asked.extend(paths)
        return read_many(self.store, paths, revision)

    def commit(self, operations, message: str, parent: str) -> str:
        self.commits += 1
        try:
            return self.store.commit(operations, message, parent)
        except Conflict:
            self.lost += 1
            raise


def cancel_with_a_racer(env: QueueEnv, store, racer: str, recheck: bool = False) -> list[int]:
    """Cancel alice's job in a transaction during which `racer` submits (one commit)."""
    q = env.queue()
    job = q.submit(submission("alice")).job_id
    calls: list[int] = []

    def work(txn: Txn):
        calls.append(1)
        entry = txn.entry(job)
        if len(calls) == 1:  # another writer commits while this one is planning
            env.queue().submit(submission(racer))
        return txn.put(moves.cancelled(entry, "alice", env.clock()))

    extra = {"recheck": True} if recheck else {}
    transact(store, env.config.benchmark.primary_metric, work, "Cancel", **extra)
    assert q.get(job).status is JobStatus.FAILED
    return calls


def test_a_race_lost_to_a_commit_it_did_not_read_is_caught_up_not_planned_again(
    env: QueueEnv,
) -> None:
    store = Recording(env.store)
    calls = cancel_with_a_racer(env, store, racer="carol")
    assert len(calls) == 1  # the same changes went onto the racer's commit
    assert (store.commits, store.lost) == (2, 1)
    q = env.queue()
    assert [e.status for e in q.user_jobs("carol")] == [JobStatus.PENDING]  # nothing undone
    assert q.quota("alice").used == 0  # the cancel's refund landed


def test_a_race_lost_to_a_commit_on_a_file_it_read_is_planned_again_and_loses_nothing(
    env: QueueEnv,
) -> None:
    calls = cancel_with_a_racer(env, Recording(env.store), racer="alice")
    assert len(calls) == 2  # alice's index changed under the cancel: planned afresh
    jobs = env.queue().user_jobs("alice")
    assert sorted(e.status.value for e in jobs) == ["FAILED", "PENDING"]  # both moves kept
    assert env.queue().quota("alice").used == 1


def test_a_worker_commit_catches_up_before_it_is_sent_instead_of_losing_the_race(
    env: QueueEnv,
) -> None:
    store = Recording(env.store)
    calls = cancel_with_a_racer(env, store, racer="carol", recheck=True)
    assert len(calls) == 1 and (store.commits, store.lost) == (1, 0)


def test_a_claim_leaves_the_user_index_alone_and_my_submissions_still_say_running(
    env: QueueEnv,
) -> None:
    q = env.queue()
    job = q.submit(submission("alice")).job_id
    index = env.store.read("users/alice.json")
    assert [e.job_id for e in q.claim("w").jobs] == [job]
    assert env.store.read("users/alice.json") == index  # no rewrite: fewer reads for others
    assert [e.status for e in q.user_jobs("alice")] == [JobStatus.RUNNING]
    q.renew("w", [job])
    assert env.store.read("users/alice.json") == index
    q.finish("w", [scored(job, 0.8)])  # no rule reads users' scores: nor does a result
    assert env.store.read("users/alice.json") == index
    (entry,) = q.user_jobs("alice")
    assert entry.status is JobStatus.FINISHED and entry.scores["accuracy"] == 0.8
    assert q.quota("alice").used == 1


def test_with_a_score_jump_rule_a_result_records_the_users_best_in_the_index(
    env: QueueEnv,
) -> None:
    q = env.queue(env.config_with(review={"max_jump": 0.3}))
    first, second = (q.submit(submission("alice")).job_id for _ in range(2))
    index = env.store.read("users/alice.json")
    q.claim("w")
    q.finish("w", [scored(first, 0.5)])
    assert env.store.read("users/alice.json") != index  # the best the rule compares with
    (flagged,) = q.finish("w", [scored(second, 0.9)])  # a jump of 0.4 over alice's best
    assert flagged.status is JobStatus.REVIEW


def test_a_busy_worker_reads_other_workers_leases_only_when_its_watch_is_due(
    env: QueueEnv,
) -> None:
    config = env.config  # leases of 60 s: the watch is due every 15 s
    seen = Recording(env.store)
    a = env.queue()
    b = JobQueue(seen, config, Results(env.results_store, config.benchmark), env.clock)  # type: ignore[arg-type]
    a.submit_many([submission(f"u{i}") for i in range(12)])
    assert len(b.claim("b", limit=2).jobs) == 2  # its first look reads every lease (none yet)
    held = [e.job_id for e in a.claim("a", limit=4).jobs]
    running = {status_path(JobStatus.RUNNING, j) for j in held}

    seen.asked.clear()
    assert len(b.claim("b", limit=2).jobs) == 2
    assert running.isdisjoint(seen.asked)  # a's busy jobs cost b nothing

    env.clock.advance(16)  # the watch is due: b reads a's leases once
    seen.asked.clear()
    b.claim("b", limit=2)
    assert running <= set(seen.asked)
    seen.asked.clear()
    b.claim("b", limit=2)
    assert running.isdisjoint(seen.asked)

    env.clock.advance(61)  # a died: its leases ran out, and b takes its jobs over
    taken = {e.job_id: e for e in b.claim("b", limit=12).jobs}
    assert set(held) <= set(taken)
    assert all(taken[j].worker == "b" and taken[j].attempts == 2 for j in held)


def test_an_idle_worker_that_has_not_read_a_lease_looks_again_when_its_watch_is_due(
    env: QueueEnv,
) -> None:
    a, b = env.queue(), env.queue()
    a.submit_many([submission(f"u{i}") for i in range(3)])
    assert b.claim("b", limit=1).jobs  # b's watch: read at this time
    a.claim("a", limit=2)
    env.clock.advance(5)
    quiet = b.claim("b", limit=1)
    assert quiet.jobs == [] and quiet.others
    assert quiet.wake_at is not None
    assert (quiet.wake_at - env.clock()).total_seconds() <= 15 - 5  # at most a quarter lease


def test_a_job_read_at_a_head_older_than_the_job_still_gives_its_predictions(
    env: QueueEnv,
) -> None:
    q = env.queue()
    seen = q.head()  # a worker read this head; its look then lost a race to a submission
    sub = submission("alice")
    entry = q.submit(sub)
    assert q.predictions(entry, seen) == sub.content
