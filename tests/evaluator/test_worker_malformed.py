"""Each kind of broken prediction file fails through the real worker with its own reason."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from worker_helpers import HERE, Bench, write_bench

from heldout.config import load_config
from heldout.evaluator.worker import Worker
from heldout.queue.backends import open_queue
from heldout.queue.entry import Entry, ErrorKind
from heldout.queue.status import JobStatus
from heldout.queue.submission import Submission

WORKER_LIMIT_MB = 0.01  # the worker's limit; the queue below accepts larger files


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return sink.getvalue()


def cases(good: pd.DataFrame) -> dict[str, tuple[bytes, str, str]]:
    """name -> (file, format, what the submitter must read)."""
    n = len(good)
    extra = pd.DataFrame({"id": ["zz-999"], "prediction": ["negative"]})
    return {
        "missing ids": (csv(good.iloc[:-3]), "csv", "3 test ids are missing, for example"),
        "unknown ids": (
            csv(pd.concat([good, extra])),
            "csv",
            "1 id is not in the test set, for example 'zz-999'",
        ),
        "duplicate ids": (
            csv(pd.concat([good, good.iloc[:1]])),
            "csv",
            f"line {n + 2}: the id '{good['id'][0]}' appears 2 times (first on line 2)",
        ),
        "wrong column": (
            csv(good.rename(columns={"prediction": "label"})),
            "csv",
            "missing column 'prediction'; unexpected column 'label'",
        ),
        "wrong types": (
            b"\n".join(b'{"id": "%s", "prediction": true}' % i.encode() for i in good["id"]),
            "jsonl",
            "this file has true/false values",
        ),
        "numeric ids": (
            parquet(good.assign(id=np.arange(n) * 1.5)),
            "parquet",
            "ids must be text; this file has decimal numbers",
        ),
        "NaN": (
            parquet(good.assign(prediction=[*good["prediction"][:-1], np.nan])),
            "parquet",
            f"row {n}: the prediction is missing",
        ),
        "empty file": (b"\n\n", "csv", "the file is empty"),
        "header only": (b"id,prediction\n", "csv", "the file holds no predictions"),
        "wrong format": (parquet(good), "csv", "the file is a Parquet file, not CSV text"),
        "over the size limit": (csv(good) + b"#" * 20_000, "csv", "over the 0.0 MB"),
        "unknown label": (
            csv(good.assign(prediction="Negative")),
            "csv",
            "line 2: the prediction 'Negative' is not one of the labels",
        ),
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Entry, str]]:
    """Submit every case through a queue with a generous limit, then run one worker."""
    import sys

    sys.path.insert(0, str(HERE))
    bench: Bench = write_bench(tmp_path_factory.mktemp("malformed"), "local")
    good = pd.read_csv(io.BytesIO(bench.predictions(0)), dtype=str)
    q = bench.queue()  # limits.max_file_mb = 1.0
    submitted = {}
    for n, (name, (content, fmt, expected)) in enumerate(cases(good).items()):
        entry = q.submit(Submission(f"user{n}", name, content, fmt))
        submitted[name] = (entry.job_id, expected)
    text = bench.config_path.read_text().replace(
        "max_file_mb = 1.0", f"max_file_mb = {WORKER_LIMIT_MB}"
    )
    bench.config_path.write_text(text)
    config = load_config(bench.config_path)
    Worker(open_queue(config), config, worker_id="strict").run(once=True)
    return {name: (q.get(job), expected) for name, (job, expected) in submitted.items()}


@pytest.mark.parametrize("case", list(cases(pd.DataFrame({"id": ["a"], "prediction": ["b"]}))))
def test_a_malformed_file_fails_with_a_reason_the_submitter_can_act_on(
    outcomes: dict[str, tuple[Entry, str]], case: str
) -> None:
    entry, expected = outcomes[case]
    assert entry.status is JobStatus.FAILED
    assert entry.error.kind is ErrorKind.USER
    assert expected in entry.error.message
    assert entry.attempts == 1  # a user error is final: never retried
    assert "Traceback" not in entry.error.message and "/" not in entry.error.message.replace(
        "true/false", ""
    )
