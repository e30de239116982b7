"""The results dataset: one declared, versioned parquet schema, upserted by job id.

Rows live in a fixed number of bucket files chosen by a hash of the job id. Writing a
result rewrites only its bucket, so writing it twice leaves one row, and the board
reads at most `BUCKETS` files however many results there are. `datasets.load_dataset`
and `pd.read_parquet("hf://…")` read the repo as it stands: there is never a second
copy of a row to deduplicate.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from heldout.config import BenchmarkConfig
from heldout.errors import NotFound
from heldout.queue.entry import Entry, parse_iso
from heldout.queue.release import Release, published_scores
from heldout.queue.splits import PUBLIC, WHOLE, SplitScore, only, row_items
from heldout.queue.store import Add, Delete, Operation, Store, commits_last_hour, read_many
from heldout.queue.txn import retry_on_conflict

RESULTS_SCHEMA_VERSION = 1
REVEAL_RECORD = "reveal.json"  # `reveal.RECORD`; named here too, as reveal imports the queue
BUCKETS = 16
DATA_FOLDER = "data"

_TS = pa.timestamp("us", tz="UTC")
# Room for later: a score per split of the test set (public/private parts) and
# confidence intervals, without a schema change that breaks readers.
SPLIT_SCORE = pa.struct(
    [
        ("split", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
    ]
)


def results_schema(benchmark: BenchmarkConfig) -> pa.Schema:
    """The one schema of a benchmark's results; metric columns come from its config."""
    fields = [
        pa.field("job_id", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("submitter", pa.string()),
        pa.field("description", pa.string()),
        pa.field("submitted_at", _TS),
        pa.field("finished_at", _TS),
        pa.field("primary_metric", pa.string()),
        pa.field("primary_score", pa.float64()),
        *(pa.field(m, pa.float64()) for m in benchmark.all_metrics),
        pa.field("split_scores", pa.list_(SPLIT_SCORE)),
        pa.field("band", pa.int32()),  # tied band on the live board (1 = top), see stats.py
        pa.field("ci_method", pa.string()),  # how split_scores' intervals were computed
        pa.field("predictions_sha256", pa.string()),
        pa.field("test_fingerprint", pa.string()),
        pa.field("evaluator_version", pa.string()),
        pa.field("schema_version", pa.int32()),
    ]
    return pa.schema(fields, metadata={"heldout_results_schema": str(RESULTS_SCHEMA_VERSION)})


def bucket_path(job_id: str) -> str:
    bucket = hashlib.sha256(job_id.encode()).digest()[0] % BUCKETS
    return f"{DATA_FOLDER}/part-{bucket:02d}.parquet"


def result_row(entry: Entry, benchmark: BenchmarkConfig, revealed: bool = False) -> dict[str, Any]:
    """A scored entry as one row. Only aggregate metrics: never per-example results.

    Private split scores only once `revealed` (see `reveal.py`): a writer that republishes
    rows after the reveal must pass it, or it would take them back out. Under the Ladder
    (`entry.release`), and until the reveal, the row carries only what the Ladder
    released: rounded scores, or none."""
    scores = entry.scores or {}
    missing = [m for m in benchmark.all_metrics if m not in scores]
    if missing or not entry.finished_at or not entry.test_fingerprint:
        raise ValueError(f"job {entry.job_id} has no complete result (missing {missing})")
    release = None if revealed else entry.release
    shown = published_scores({m: float(scores[m]) for m in benchmark.all_metrics}, release)
    return {
        "job_id": entry.job_id,
        "model": entry.model,
        "submitter": entry.submitter,
        "description": entry.description,
        "submitted_at": parse_iso(entry.submitted_at),
        "finished_at": parse_iso(entry.finished_at),
        "primary_metric": benchmark.primary_metric,
        "primary_score": shown[benchmark.primary_metric],
        **shown,
        # Before the reveal only the public split (or the whole set) is published.
        "split_scores": row_items(
            entry.split_scores
            if revealed
            else released(only(entry.split_scores, PUBLIC, WHOLE), release)
        ),
        "band": None,
        "ci_method": CI_METHOD if any(s.ci_low is not None for s in entry.split_scores) else None,
        "predictions_sha256": entry.predictions_sha256,
        "test_fingerprint": entry.test_fingerprint,
        "evaluator_version": entry.evaluator_version or "",
        "schema_version": RESULTS_SCHEMA_VERSION,
    }


CI_METHOD = "percentile bootstrap, 95%, B=1000, seed=20150706"  # = evaluator.stats defaults


def released(scores: tuple[SplitScore, ...], release: Release | None) -> tuple[SplitScore, ...]:
    """Split scores as the Ladder lets them out: all, rounded, or none."""
    if release is None:
        return scores
    if not release.updated:
        return ()
    r = release.rounded
    return tuple(
        SplitScore(
            s.split,
            s.metric,
            r(s.value),
            None if s.ci_low is None else r(s.ci_low),
            None if s.ci_high is None else r(s.ci_high),
        )
        for s in scores
    )


class Results:
    """Read and write the results repo through any `Store`."""

    def __init__(self, store: Store, benchmark: BenchmarkConfig) -> None:
        self.store = store
        self.benchmark = benchmark
        self.schema = results_schema(benchmark)
        self._cache: tuple[str, pd.DataFrame] | None = None

    def version(self) -> str:
        """The results repo's head: one cheap request; the board caches by it."""
        return self.store.head()

    def read_file(self, path: str, revision: str | None = None) -> bytes | None:
        """A file of the results repo other than the rows (the reveal record, the card),
        or None when it is not there."""
        return read_many(self.store, [path], revision or self.store.head())[path]

    def rewrite_files(
        self,
        paths: list[str],
        change: Callable[[dict[str, bytes | None]], list[Add] | None],
        message: str,
    ) -> str | None:
        """A read-modify-write of files other than the rows (the card, say), in one CAS
        commit: `change` gets `paths` as they are at the head and returns the files to
        write (None: nothing to do). A lost race runs it again on the new head."""

        def attempt() -> str | None:
            parent = self.store.head()
            ops = change(read_many(self.store, paths, parent))
            return self.store.commit(ops, message, parent=parent) if ops else None

        return retry_on_conflict(attempt, message[:1].lower() + message[1:])

    def commits_last_hour(self) -> dict[str, int]:
        """This repo's commits in the last hour, by every process (Hub stores only)."""
        return commits_last_hour(self.store)

    def revealed(self) -> bool:
        """Whether the reveal is published (its record is in the repo, see `reveal.py`):
        rows written from then on carry the private split scores too."""
        return read_many(self.store, [REVEAL_RECORD], self.store.head())[REVEAL_RECORD] is not None

    def upsert(
        self, rows: list[dict[str, Any]], extra: tuple[Add, ...] = (), message: str = ""
    ) -> str | None:
        """Write rows keyed by job id in one commit; an existing row is replaced.

        `extra` files go in the same commit (the reveal's record, say)."""
        return self.sync(rows, (), extra, message)

    def remove(self, job_ids: Iterable[str]) -> str | None:
        """Delete the rows of these jobs, in one commit; no commit if none is there."""
        return self.sync([], job_ids)

    def sync(
        self,
        rows: list[dict[str, Any]],
        remove: Iterable[str] = (),
        extra: tuple[Add, ...] = (),
        message: str = "",
    ) -> str | None:
        """Make the repo hold exactly these rows for their jobs and none for `remove`.

        One commit for all, and none at all when every bucket already says so: a
        retried or repeated publication never writes a row a second time. Returns the
        new head, or None when nothing had to change."""
        gone = set(remove) - {row["job_id"] for row in rows}
        if not rows and not gone and not extra:
            return None
        by_bucket: dict[str, tuple[list[dict[str, Any]], set[str]]] = defaultdict(
            lambda: ([], set())
        )
        for row in rows:
            by_bucket[bucket_path(row["job_id"])][0].append(row)
        for job_id in gone:
            by_bucket[bucket_path(job_id)][1].add(job_id)

        def attempt() -> str | None:
            parent = self.store.head()
            found = read_many(self.store, sorted(by_bucket), parent)  # one request on the Hub
            ops = [
                op
                for path, (new, drop) in sorted(by_bucket.items())
                if (op := self._bucket_change(path, new, drop, found[path])) is not None
            ]
            ops += list(extra)
            if not ops:
                return None
            text = message or f"Publish {len(rows)} result(s)" + (
                f", remove {len(gone)}" if gone else ""
            )
            return self.store.commit(ops, text, parent=parent)

        return retry_on_conflict(attempt, "publish results")

    def _bucket_change(
        self, path: str, new: list[dict[str, Any]], drop: set[str], raw: bytes | None
    ) -> Operation | None:
        """The operation that takes one bucket to its wanted rows; None if it has them."""
        old = self._parse(raw) if raw is not None else None
        table = pa.Table.from_pylist(new, schema=self.schema)
        if old is None:
            if not table.num_rows:
                return None
            return Add(path, _parquet(table.sort_by("job_id")))
        replaced = pa.array(sorted({*table["job_id"].to_pylist(), *drop}), pa.string())
        kept = old.filter(pc.invert(pc.is_in(old["job_id"], replaced)))
        merged = pa.concat_tables([kept, table]).sort_by("job_id")
        if merged.equals(old.sort_by("job_id")):
            return None
        return Add(path, _parquet(merged)) if merged.num_rows else Delete(path)

    def _read_bucket(self, path: str, revision: str | None) -> pa.Table | None:
        try:
            raw = self.store.read(path, revision=revision)
        except NotFound:
            return None
        return self._parse(raw)

    def _parse(self, raw: bytes) -> pa.Table:
        table = pq.read_table(io.BytesIO(raw))
        # An older file may lack newer columns; cast fills them with nulls.
        missing = [f for f in self.schema if f.name not in table.column_names]
        for f in missing:
            table = table.append_column(f, pa.nulls(len(table), f.type))
        return table.select(self.schema.names).cast(self.schema)

    def job_ids(self) -> set[str]:
        """Every job that has a row (reads the buckets, cached by head like `read`)."""
        return set(self.read()["job_id"])

    def read(self, on_file: Callable[[int, int], object] | None = None) -> pd.DataFrame:
        """All results as a frame; re-reads only when the repo's head has moved.

        `on_file(done, total)` is called after each file, for progress bars."""
        head = self.store.head()
        if self._cache and self._cache[0] == head:
            return self._cache[1]
        paths = [p for p in self.store.list(DATA_FOLDER) if p.endswith(".parquet")]
        tables = []
        for n, path in enumerate(paths, start=1):
            table = self._read_bucket(path, head)
            if table is not None:
                tables.append(table)
            if on_file:
                on_file(n, len(paths))
        table = pa.concat_tables(tables) if tables else self.schema.empty_table()
        frame = table.to_pandas()
        self._cache = (head, frame)
        return frame


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
