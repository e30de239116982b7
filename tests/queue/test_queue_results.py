"""The results dataset: one row per job whatever happens, readable by the usual tools."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from queue_helpers import FINGERPRINT, QueueEnv, scored, submission

from heldout.queue.results import BUCKETS, Results, bucket_path, result_row, results_schema
from heldout.queue.status import JobStatus


def finish_many(env: QueueEnv, n: int) -> list[str]:
    """Submit and finish `n` jobs by several users, in batched commits."""
    q = env.config_with(limits={"submissions_per_day": n})
    queue = env.queue(q)
    jobs = [e.job_id for e in queue.submit_many([submission(user=f"u{i % 7}") for i in range(n)])]
    while claimed := queue.claim("w", limit=50).jobs:
        queue.finish("w", [scored(e.job_id, 0.5) for e in claimed])
    return jobs


class CountingStore:
    """Wraps a store and counts file reads, to check what a board read costs."""

    def __init__(self, store) -> None:
        self.store, self.reads = store, 0

    def head(self) -> str:
        return self.store.head()

    def list(self, prefix: str = "") -> list[str]:
        return self.store.list(prefix)

    def read(self, path: str, revision: str | None = None) -> bytes:
        self.reads += 1
        return self.store.read(path, revision)


def test_writing_a_result_twice_leaves_one_row(env: QueueEnv) -> None:
    q = env.queue()
    job = q.submit(submission()).job_id
    q.claim("w")
    (entry,) = q.finish("w", [scored(job, 0.7)])
    results = Results(env.results_store, env.config.benchmark)
    results.upsert([result_row(entry, env.config.benchmark)])
    results.upsert([result_row(entry, env.config.benchmark)])
    frame = results.read()
    assert frame["job_id"].tolist() == [job]
    raw = env.results_store.read(bucket_path(job))
    assert pq.read_table(io.BytesIO(raw)).num_rows == 1


def test_rows_hold_aggregates_only_in_the_declared_schema(env: QueueEnv) -> None:
    jobs = finish_many(env, 30)
    frame = env.queue().results.read()
    schema = results_schema(env.config.benchmark)
    assert list(frame.columns) == schema.names
    assert sorted(frame["job_id"]) == sorted(jobs) and frame["job_id"].is_unique
    assert set(frame["test_fingerprint"]) == {FINGERPRINT}
    assert all(len(s) == 0 for s in frame["split_scores"])  # no per-example data


def test_the_board_reads_at_most_sixteen_files_however_many_results(env: QueueEnv) -> None:
    finish_many(env, 120)
    counting = CountingStore(env.results_store)
    frame = Results(counting, env.config.benchmark).read()  # type: ignore[arg-type]
    assert len(frame) == 120
    assert counting.reads <= BUCKETS == 16
    assert len([p for p in env.results_store.list("data") if p.endswith(".parquet")]) <= 16


@pytest.fixture()
def hub_env(queue_factory) -> QueueEnv:
    env = queue_factory()
    if env.backend != "hub":
        pytest.skip("reading through the Hub client needs the Hub backend")
    return env


def test_datasets_pandas_and_hffilesystem_read_the_results_as_they_stand(
    hub_env: QueueEnv, tmp_path: Path
) -> None:
    import datasets
    from huggingface_hub import HfFileSystem

    env = hub_env
    jobs = finish_many(env, 12)
    repo = env.repos[1]

    loaded = datasets.load_dataset(
        repo, split="train", cache_dir=str(tmp_path / "ds"), download_mode="force_redownload"
    )
    assert sorted(loaded["job_id"]) == sorted(jobs)

    part = bucket_path(jobs[0])
    one = pd.read_parquet(f"hf://datasets/{repo}/{part}")
    assert jobs[0] in set(one["job_id"])

    fs = HfFileSystem()
    files = fs.glob(f"datasets/{repo}/data/*.parquet")
    assert 1 <= len(files) <= 16
    whole = pd.concat([pd.read_parquet(f"hf://{f}") for f in files])
    assert sorted(whole["job_id"]) == sorted(jobs)

    # The same job published again (a retried finish) replaces its row everywhere.
    q = env.queue()
    entry = q.get(jobs[0])
    assert entry.status is JobStatus.FINISHED
    again = result_row(entry, env.config.benchmark) | {"primary_score": 0.5}
    Results(env.results_store, env.config.benchmark).upsert([again])
    fs.invalidate_cache()
    reloaded = datasets.load_dataset(
        repo, split="train", cache_dir=str(tmp_path / "ds2"), download_mode="force_redownload"
    )
    assert sorted(reloaded["job_id"]) == sorted(jobs)
    assert reloaded.to_pandas().set_index("job_id").loc[jobs[0], "primary_score"] == 0.5
