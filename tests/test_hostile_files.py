"""Files built to cost the board CPU are refused before the expensive part, with a reason.

Issue 9 item 2: an 80,000-column header kept the board busy for 47 s. What each refusal
costs is measured by bench/bench_refusals.py; these tests check the refusal happens at
the cheap step (its message names the cap, not a per-column or per-row finding).
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from heldout.config import BenchmarkConfig
from heldout.errors import InvalidPredictions
from heldout.example import LABELS
from heldout.prediction_formats import MAX_COLUMNS, check_columns
from heldout.predictions import read_predictions

BENCH = BenchmarkConfig(name="t", primary_metric="macro_f1", labels=LABELS)
MAX = 20 * 2**20


def refused(data: bytes, fmt: str, max_rows: int | None = None) -> str:
    with pytest.raises(InvalidPredictions) as info:
        read_predictions(data, fmt, BENCH, MAX, max_rows=max_rows)
    return str(info.value)


def test_the_reported_80000_column_header_is_refused_by_its_width() -> None:
    header = b"id,prediction" + b"".join(b",c%d" % i for i in range(80_000))
    message = refused(header + b"\nex-1,positive\n", "csv")
    assert message.startswith("the file has 80,002 columns in its header")
    assert "'id' and 'prediction'" in message


def test_a_header_of_one_name_repeated_is_refused_by_its_width() -> None:
    message = refused(b"id" + b",id" * 50_000 + b"\n", "csv")
    assert message.startswith("the file has 50,001 columns")


def test_check_columns_counts_repeats_without_a_quadratic_scan() -> None:
    # 100 names, each twice: at the cap, still exact about what is wrong.
    names = [f"c{i % 50}" for i in range(MAX_COLUMNS)]
    with pytest.raises(InvalidPredictions, match="the column 'c0' appears more than once"):
        check_columns(names, ["id", "prediction"], "csv")
    with pytest.raises(InvalidPredictions, match="has 101 columns"):
        check_columns(names + ["x"], ["id", "prediction"], "csv")


def test_a_jsonl_first_line_with_many_keys_is_refused_before_python_parses_it() -> None:
    line = b'{"id":"a","prediction":"positive"' + b',"k":0' * 200_000 + b"}\n"
    message = refused(line, "jsonl")
    assert "keys or more on its first line" in message


def test_colons_inside_strings_are_not_keys() -> None:
    text = "a:" * 5000
    line = json.dumps({"id": "ex-1", "prediction": text}).encode() + b"\n"
    numeric = BenchmarkConfig(name="t", primary_metric="rmse")
    frame = read_predictions(line, "jsonl", numeric, MAX)
    assert frame["prediction"][0] == text


def test_a_parquet_file_with_many_columns_is_refused_from_its_metadata() -> None:
    columns = {"id": ["ex-1"], "prediction": ["positive"]}
    columns.update({f"c{i}": [i] for i in range(5_000)})
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    message = refused(sink.getvalue(), "parquet")
    assert "metadata takes" in message or "5,002 columns" in message


def test_a_parquet_file_with_many_row_groups_is_refused() -> None:
    n = 5_000
    sink = io.BytesIO()
    table = pa.table({"id": [f"x{i}" for i in range(n)], "prediction": ["positive"] * n})
    pq.write_table(table, sink, row_group_size=2)
    message = refused(sink.getvalue(), "parquet")
    assert "row groups" in message or "metadata takes" in message


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_more_rows_than_the_test_set_are_refused_before_values_are_checked(fmt: str) -> None:
    n = 5_000  # every id the same: the duplicate check would be the costly step
    if fmt == "csv":
        data = b"id,prediction\n" + b"x,positive\n" * n
    elif fmt == "jsonl":
        data = b'{"id":"x","prediction":"positive"}\n' * n
    else:
        sink = io.BytesIO()
        pq.write_table(pa.table({"id": ["x"] * n, "prediction": ["positive"] * n}), sink)
        data = sink.getvalue()
    message = refused(data, fmt, max_rows=1_000)
    assert "more than the 1,000 ids of the test set" in message
    assert "appears" not in message


def test_a_fault_deep_in_a_large_jsonl_file_is_named_by_its_line() -> None:
    lines = [json.dumps({"id": f"ex-{i}", "prediction": "positive"}) for i in range(120_000)]
    lines[99_999] = json.dumps({"id": "ex-x", "prediction": 3})
    lines[110_000] = json.dumps({"id": "ex-y", "prediction": "positive", "extra": 1})
    message = refused(("\n".join(lines) + "\n").encode(), "jsonl")
    assert message.startswith("line 100000: 'prediction' is a number, but on line 1 it is a string")


def test_duplicates_in_a_large_file_name_the_first_repeat_and_count_them() -> None:
    body = "".join(f"ex-{i % 40_000},positive\n" for i in range(100_000))
    message = refused(("id,prediction\n" + body).encode(), "csv")
    assert message.startswith("line 40002: the id 'ex-0' appears 3 times (first on line 2)")
    assert "40,000 ids are repeated" in message


def test_blank_lines_still_give_the_right_line() -> None:
    data = b"id,prediction\n\nex-1,positive\n\r\nex-1,neutral\n"
    assert refused(data, "csv").startswith(
        "line 5: the id 'ex-1' appears 2 times (first on line 3)"
    )
    data = b'{"id":"a","prediction":"positive"}\n   \n{"id":"a","prediction":"neutral"}\n'
    assert refused(data, "jsonl").startswith("line 3: the id 'a' appears 2 times (first on line 1)")
