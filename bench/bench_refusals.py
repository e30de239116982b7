"""What a refused file costs the board: CPU seconds for the worst hostile files we know.

Each file is built at the configured upload limit (20 MB by default, `--mb`), then
checked exactly as the Submit tab checks it (`read_predictions`, then `check_ids`
against the public ids), and the CPU time of the whole process (every thread, pyarrow's
included) is printed. The goal is under 0.5 s for every refused file; an accepted
file of the same size is shown for comparison. Anything over the goal is marked SLOW.

    .venv/bin/python bench/bench_refusals.py [--mb 20] [--only NAME]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from heldout.config import BenchmarkConfig
from heldout.errors import InvalidPredictions
from heldout.example import LABELS, METRICS, PRIMARY_METRIC
from heldout.predictions import check_ids, read_predictions

LABELLED = BenchmarkConfig(
    name="bench", primary_metric=PRIMARY_METRIC, metrics=METRICS, labels=LABELS
)
NUMERIC = BenchmarkConfig(name="bench", primary_metric="mse", metrics=("mse",))
GOAL = 0.5
PUBLIC = pd.Index([f"ex-{n:06d}" for n in range(2000)], dtype="str")


def public_ids(n: int) -> pd.Index:
    global PUBLIC
    PUBLIC = pd.Index([f"ex-{i:06d}" for i in range(n)], dtype="str")
    return PUBLIC


def fill(head: bytes, unit: bytes, size: int, tail: bytes = b"") -> bytes:
    """`head`, then `unit` repeated up to `size` bytes in all, then `tail`."""
    room = max(0, size - len(head) - len(tail))
    return head + unit * (room // len(unit)) + tail


def rows(n: int, fmt: str, bad_last: str | None = None) -> bytes:
    """n valid-looking label rows (unknown ids past the public list)."""
    ids = [f"ex-{i:06d}" for i in range(n)]
    labels = [LABELS[i % 3] for i in range(n)]
    if fmt == "csv":
        text = "id,prediction\n" + "".join(f"{i},{p}\n" for i, p in zip(ids, labels, strict=True))
        return text.encode() + (bad_last or "").encode()
    text = "".join(f'{{"id":"{i}","prediction":"{p}"}}\n' for i, p in zip(ids, labels, strict=True))
    return text.encode() + (bad_last or "").encode()


def parquet(table: pa.Table, **kwargs: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue()


def cases(size: int) -> Iterator[tuple[str, str, BenchmarkConfig, Callable[[], bytes]]]:
    """(name, format, benchmark, build) for every hostile file, and one good file."""
    line = len(b"ex-000000,positive\n")
    n = size // line
    yield (
        "csv: 80,000-column header (the reported file)",
        "csv",
        LABELLED,
        lambda: b"id,prediction" + b"".join(b",c%d" % i for i in range(80_000)) + b"\n1,2\n",
    )
    yield (
        "csv: wide header just under a block",
        "csv",
        LABELLED,
        lambda: fill(fill(b"id,prediction", b",c", (1 << 20) - 100, b"\n"), b"1,2\n", size),
    )
    yield (
        "csv: header of one name repeated",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction", b",id", size, b"\n"),
    )
    yield (
        "csv: one row with many fields",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction\nx,positive\nx", b",", size, b"\n"),
    )
    yield (
        "csv: many rows with extra fields",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction\n", b"x,positive," + b"y" * 20_000 + b"\n", size),
    )
    yield "csv: one 20 MB line", "csv", LABELLED, lambda: fill(b"id,prediction\nx,", b"p", size)
    yield (
        "csv: one huge id",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction\n", b"i", size, b",positive\n"),
    )
    yield (
        "csv: every id the same",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction\n", b"x,positive\n", size),
    )
    yield "csv: unknown ids", "csv", LABELLED, lambda: rows(n, "csv")
    yield (
        "csv: bad label on the last line",
        "csv",
        LABELLED,
        lambda: rows(n - 1, "csv")[: -len("positive\n")] + b"Positive\n",
    )
    yield (
        "csv: numbers, text on the last line",
        "csv",
        NUMERIC,
        lambda: fill(b"id,prediction\n", b"x,0.5\n", size, b"y,abc\n"),
    )
    yield (
        "csv: blank lines then a bad row",
        "csv",
        LABELLED,
        lambda: fill(b"id,prediction\n", b"\n", size, b"a,b,c\n"),
    )
    yield "csv: not UTF-8 at the end", "csv", LABELLED, lambda: rows(n - 1, "csv") + b"\xff\n"
    yield (
        "csv: many quoted newlines",
        "csv",
        LABELLED,
        lambda: fill(b'id,prediction\n"', b"\n", size, b'",positive\n'),
    )
    yield (
        "jsonl: first line with many keys",
        "jsonl",
        LABELLED,
        lambda: fill(b'{"id":"x","prediction":"y"', b',"k":0', size, b"}\n"),
    )
    yield (
        "jsonl: deep nesting",
        "jsonl",
        LABELLED,
        lambda: fill(b"", b"[", size // 2) + fill(b"", b"]", size // 2),
    )
    yield (
        "jsonl: deep nesting in many lines",
        "jsonl",
        LABELLED,
        lambda: fill(b"", b'{"id":' + b"[" * 40 + b"]" * 40 + b"}\n", size),
    )
    yield (
        "jsonl: extra key on the last line",
        "jsonl",
        LABELLED,
        lambda: rows(int(n * 0.4), "jsonl", '{"id":"z","prediction":"positive","x":1}\n'),
    )
    yield (
        "jsonl: type change on the last line",
        "jsonl",
        LABELLED,
        lambda: rows(int(n * 0.4), "jsonl", '{"id":"z","prediction":3}\n'),
    )
    yield (
        "jsonl: tiny lines, bad at the end",
        "jsonl",
        LABELLED,
        lambda: fill(b'{"id":"a","prediction":"positive"}\n', b"{}\n", size, b"[\n"),
    )
    yield (
        "jsonl: every id the same",
        "jsonl",
        LABELLED,
        lambda: fill(b"", b'{"id":"x","prediction":"positive"}\n', size),
    )
    yield (
        "jsonl: huge string id",
        "jsonl",
        LABELLED,
        lambda: fill(b'{"id":"', b"i", size, b'","prediction":"positive"}\n'),
    )
    yield "parquet: many columns", "parquet", LABELLED, lambda: fit(wide_parquet, size, 20_000)
    yield (
        "parquet: many row groups",
        "parquet",
        LABELLED,
        lambda: fit(lambda k: parquet(same_rows(k, distinct=True), row_group_size=1), size, 50_000),
    )
    yield (
        "parquet: one value a million times (bomb)",
        "parquet",
        LABELLED,
        lambda: parquet(
            pa.table(
                {
                    "id": pa.array(["i" * 1000] * 2_000_000).dictionary_encode(),
                    "prediction": pa.array(["positive"] * 2_000_000).dictionary_encode(),
                }
            )
        ),
    )
    yield "parquet: deep nesting", "parquet", LABELLED, lambda: deep_parquet()
    yield (
        "parquet: every id the same",
        "parquet",
        LABELLED,
        lambda: fit(lambda k: parquet(same_rows(k)), size, 3_000_000),
    )
    yield (
        "parquet: truncated",
        "parquet",
        LABELLED,
        lambda: fit(lambda k: parquet(same_rows(k, distinct=True))[:-100] + b"PAR1", size, 500_000),
    )
    yield "(accepted) csv: the public ids", "csv", LABELLED, lambda: good_csv()


def fit(make: Callable[[int], bytes], size: int, n: int) -> bytes:
    """The biggest `make(k)`, k <= n, that fits in `size` bytes."""
    while True:
        data = make(n)
        if len(data) <= size or n < 2:
            return data
        n = int(n * min(0.9, size / len(data)))


def same_rows(n: int, distinct: bool = False) -> pa.Table:
    ids = [f"x{i}" for i in range(n)] if distinct else ["x"] * n
    return pa.table({"id": ids, "prediction": ["positive"] * n})


def wide_parquet(width: int) -> bytes:
    columns: dict[str, list[object]] = {"id": ["x"], "prediction": ["positive"]}
    columns.update({f"c{i}": [i] for i in range(width)})
    return parquet(pa.table(columns))


def deep_parquet(depth: int = 500) -> bytes:
    kind: pa.DataType = pa.int64()
    value: object = 1
    for _ in range(depth):
        kind = pa.struct([("a", kind)])
        value = {"a": value}
    table = pa.table({"id": ["x"], "prediction": pa.array([value], kind)})
    return parquet(table)


def good_csv() -> bytes:
    return ("id,prediction\n" + "".join(f"{i},positive\n" for i in PUBLIC)).encode()


def measure(data: bytes, fmt: str, benchmark: BenchmarkConfig, limit: int) -> tuple[float, str]:
    start = time.process_time()
    try:
        frame = read_predictions(data, fmt, benchmark, limit, max_rows=len(PUBLIC))
        check_ids(frame, PUBLIC)
        outcome = "accepted"
    except InvalidPredictions as exc:
        outcome = str(exc)
    return time.process_time() - start, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mb", type=float, default=20.0, help="the upload limit (limits.max_file_mb)"
    )
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument(
        "--ids", type=int, default=2000, help="public test ids (2,000 in the example benchmark)"
    )
    args = parser.parse_args()
    public_ids(args.ids)
    limit = int(args.mb * 2**20)
    measure(good_csv(), "csv", LABELLED, limit)  # warm up imports and thread pools
    worst = 0.0
    print(
        f"refusing hostile files at the {args.mb:g} MB limit, {args.ids:,} public ids "
        "(CPU seconds, all threads)"
    )
    for name, fmt, benchmark, build in cases(limit):
        if args.only and args.only not in name:
            continue
        data = build()
        if len(data) > limit:
            data = data[:limit]
        cpu, outcome = measure(data, fmt, benchmark, limit)
        refused = outcome != "accepted"
        if refused:
            worst = max(worst, cpu)
        flag = "  SLOW" if refused and cpu > GOAL else ""
        print(f"{cpu:7.3f} s  {len(data) / 2**20:5.1f} MB  {name}{flag}")
        print(f"           -> {json.dumps(outcome[:110])}")
    print(f"worst refusal: {worst:.3f} s CPU (goal: under {GOAL} s)")
    _ = np  # numpy is imported for pyarrow's pandas conversions


if __name__ == "__main__":
    main()
