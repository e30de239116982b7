"""Copies are the same predictions, not the same bytes (issue 9 item 7).

Each file is parsed as the board's Submit check and `heldout submit` parse it, and its
fingerprint travels on the Submission to the queue, whose shared-file rule and
same-user refusal compare fingerprints. Runs on both backends.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from queue_helpers import QueueEnv

from heldout.config import BenchmarkConfig
from heldout.errors import DuplicateSubmission
from heldout.predictions import fingerprint, read_predictions
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission

BENCH = BenchmarkConfig(name="toy", primary_metric="accuracy", labels=("a", "b"))
FRAME = pd.DataFrame({"id": [f"ex-{i}" for i in range(50)], "prediction": ["a", "b"] * 25})


def as_file(frame: pd.DataFrame, fmt: str, crlf: bool = False) -> bytes:
    if fmt == "parquet":
        sink = io.BytesIO()
        frame.to_parquet(sink, index=False)
        return sink.getvalue()
    if fmt == "jsonl":
        return frame.to_json(orient="records", lines=True).encode()
    return frame.to_csv(index=False, lineterminator="\r\n" if crlf else "\n").encode()


def parsed(user: str, content: bytes, fmt: str) -> Submission:
    """A submission as the board makes it: parse, check, fingerprint."""
    frame = read_predictions(content, fmt, BENCH, 2**20)
    return Submission(user, "model", content, fmt, fingerprint=fingerprint(frame))


VARIANTS = {
    "crlf": lambda: (as_file(FRAME, "csv", crlf=True), "csv"),
    "reordered": lambda: (as_file(FRAME.iloc[::-1], "csv"), "csv"),
    "parquet": lambda: (as_file(FRAME, "parquet"), "parquet"),
    "jsonl, shuffled": lambda: (as_file(FRAME.sample(frac=1, random_state=1), "jsonl"), "jsonl"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_same_predictions_in_another_file_are_flagged_as_shared(
    queue_factory, variant: str
) -> None:
    env: QueueEnv = queue_factory()
    q = env.queue()
    original = q.submit(parsed("alice", as_file(FRAME, "csv"), "csv"))
    content, fmt = VARIANTS[variant]()
    assert content != as_file(FRAME, "csv")  # not the same bytes
    copy = q.submit(parsed("bob", content, fmt))
    assert original.status is JobStatus.PENDING
    assert copy.status is JobStatus.REVIEW
    assert copy.flags[0].rule == "shared_file" and original.job_id in copy.flags[0].detail
    assert copy.predictions_fingerprint == original.predictions_fingerprint


def test_the_same_user_resubmitting_the_same_predictions_is_refused(env: QueueEnv) -> None:
    q = env.queue()
    first = q.submit(parsed("alice", as_file(FRAME, "csv"), "csv"))
    head = env.store.head()
    for content, fmt in (VARIANTS["crlf"](), VARIANTS["parquet"]()):
        with pytest.raises(DuplicateSubmission) as caught:
            q.submit(parsed("alice", content, fmt))
        assert caught.value.job_id == first.job_id
        assert f"you already submitted these predictions as job {first.job_id}" in str(caught.value)
    assert env.store.head() == head


def test_a_real_difference_is_not_a_copy(env: QueueEnv) -> None:
    q = env.queue()
    q.submit(parsed("alice", as_file(FRAME, "csv"), "csv"))
    changed = FRAME.copy()
    changed.loc[7, "prediction"] = "a" if changed.loc[7, "prediction"] == "b" else "b"
    other = q.submit(parsed("bob", as_file(changed, "csv"), "csv"))
    again = changed.copy()
    again.loc[9, "prediction"] = "a" if again.loc[9, "prediction"] == "b" else "b"
    mine = q.submit(parsed("alice", as_file(again.iloc[::-1], "parquet"), "parquet"))
    assert other.status is JobStatus.PENDING and other.flags == ()
    assert mine.status is JobStatus.PENDING and mine.flags == ()  # new predictions


def test_numbers_match_across_formats_and_precisions_but_not_across_values() -> None:
    numeric = BenchmarkConfig(name="toy", primary_metric="rmse")
    ids = [f"ex-{i}" for i in range(20)]
    values = [i / 10 for i in range(20)]
    base = pd.DataFrame({"id": ids, "prediction": values})

    def fp(content: bytes, fmt: str) -> str:
        return fingerprint(read_predictions(content, fmt, numeric, 2**20))

    reference = fp(as_file(base, "csv"), "csv")
    as_float32 = base.astype({"prediction": "float32"})
    padded = "id,prediction\n" + "".join(f"{i},{v:.6f}\n" for i, v in zip(ids, values, strict=True))
    assert fp(as_file(as_float32, "parquet"), "parquet") == reference
    assert fp(padded.encode(), "csv") == reference
    assert fp(as_file(base.iloc[::-1], "jsonl"), "jsonl") == reference
    nudged = base.copy()
    nudged.loc[3, "prediction"] += 0.001
    assert fp(as_file(nudged, "csv"), "csv") != reference


def test_old_entries_without_a_fingerprint_still_load() -> None:
    from heldout.queue.entry import Entry, new_entry

    entry = new_entry(
        job_id="20261128T061212Z-3f9a1c2e",
        model="m",
        submitter="alice",
        description="",
        sha256="a" * 64,
        size=1,
        fmt="csv",
    )
    raw = entry.to_json().replace(b', "predictions_fingerprint": null', b"")
    assert b"predictions_fingerprint" not in raw
    assert Entry.from_json(raw).predictions_fingerprint is None
