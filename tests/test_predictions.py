"""Reading and checking prediction files: each refusal says what a submitter must fix."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

from heldout.config import BenchmarkConfig
from heldout.errors import ConfigError, InvalidPredictions
from heldout.example import LABELS
from heldout.example.generate import example_ids
from heldout.predictions import (
    check_ids,
    detect_format,
    load_public_ids,
    read_predictions,
    show,
)

BENCH = BenchmarkConfig(name="t", primary_metric="macro_f1", labels=LABELS)
NUMERIC = BenchmarkConfig(name="t", primary_metric="rmse")
MAX = 10 * 2**20
FORMATS = ["csv", "jsonl", "parquet"]


def encode(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """The same rows as a submitter would write them in each format."""
    if fmt == "csv":
        return pd.DataFrame(rows).to_csv(index=False).encode()
    if fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)  # keeps NaN apart from null
    return buffer.getvalue()


def at(fmt: str, index: int) -> str:
    """Where a person finds data row `index` (0-based): a line, or a parquet row."""
    return {"csv": f"line {index + 2}", "jsonl": f"line {index + 1}"}.get(fmt, f"row {index + 1}")


def rows(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    return [{"id": i, "prediction": p} for i, p in pairs]


def refused(data: bytes, fmt: str, bench: BenchmarkConfig = BENCH, max_bytes: int = MAX) -> str:
    with pytest.raises(InvalidPredictions) as caught:
        read_predictions(data, fmt, bench, max_bytes)
    return str(caught.value)


GOOD = rows(("ex-1", "positive"), ("ex-2", "neutral"), ("ex-3", "negative"))


# --- detect_format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("p.csv", "csv"), ("P.JSONL", "jsonl"), ("dir/p.Parquet", "parquet"), ("C:\\u\\p.csv", "csv")],
)
def test_detect_format_by_extension(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/tmp/gradio/abc/preds.txt", "files ending in '.txt' are not accepted"),
        ("preds.json", "must end in .jsonl"),
        ("preds.csv.gz", "upload the file uncompressed"),
        ("preds", "no extension"),
    ],
)
def test_detect_format_refuses_with_accepted_list(name: str, words: str) -> None:
    with pytest.raises(InvalidPredictions) as caught:
        detect_format(name)
    message = str(caught.value)
    assert words in message
    assert ".csv, .jsonl, .parquet" in message
    assert "/tmp" not in message and "gradio" not in message


def test_detect_format_honours_configured_formats() -> None:
    with pytest.raises(InvalidPredictions, match="accepted formats: .csv$"):
        detect_format("p.parquet", formats=("csv",))


# --- the happy path ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_each_format(fmt: str) -> None:
    frame = read_predictions(encode(GOOD, fmt), fmt, BENCH, MAX)
    assert list(frame.columns) == ["id", "prediction"]
    assert frame["id"].tolist() == ["ex-1", "ex-2", "ex-3"]
    assert frame["prediction"].tolist() == ["positive", "neutral", "negative"]
    assert pd.api.types.is_string_dtype(frame["id"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_numbers_without_labels_become_float(fmt: str) -> None:
    frame = read_predictions(encode(rows(("a", 1), ("b", 2.5)), fmt), fmt, NUMERIC, MAX)
    assert frame["prediction"].dtype == np.float64
    assert frame["prediction"].tolist() == [1.0, 2.5]


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_without_labels_stays_text(fmt: str) -> None:
    frame = read_predictions(encode(rows(("a", "x y"), ("b", "12 apples")), fmt), fmt, NUMERIC, MAX)
    assert frame["prediction"].tolist() == ["x y", "12 apples"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_custom_column_names(fmt: str) -> None:
    bench = BenchmarkConfig(
        name="t", primary_metric="m", id_column="qid", prediction_column="answer", labels=LABELS
    )
    data = encode([{"qid": "q1", "answer": "neutral"}], fmt)
    assert list(read_predictions(data, fmt, bench, MAX).columns) == ["qid", "answer"]


def test_csv_with_bom_crlf_and_blank_lines() -> None:
    data = b"\xef\xbb\xbfid,prediction\r\nex-1,positive\r\n\r\nex-2,neutral\r\n"
    assert read_predictions(data, "csv", BENCH, MAX)["id"].tolist() == ["ex-1", "ex-2"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_integer_ids_become_text(fmt: str) -> None:
    frame = read_predictions(encode(rows((1, "positive"), (2, "neutral")), fmt), fmt, BENCH, MAX)
    assert frame["id"].tolist() == ["1", "2"]


def test_parquet_pandas_index_and_categories_are_fine() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "prediction": ["neutral", "positive"]}, index=[7, 9])
    frame["prediction"] = frame["prediction"].astype("category")
    buffer = io.BytesIO()
    frame.to_parquet(buffer)  # index=True: a __index_level_0__ column
    result = read_predictions(buffer.getvalue(), "parquet", BENCH, MAX)
    assert result["prediction"].tolist() == ["neutral", "positive"]


def test_a_million_rows_round_trip() -> None:
    """Correctness at scale; the speed is measured by bench/bench_scoring.py."""
    numbers = pa.array(np.arange(1, 1_000_001)).cast(pa.string())
    ids = pc.binary_join_element_wise("ex-", pc.utf8_lpad(numbers, 7, "0"), "")
    labels = pa.array(np.asarray(LABELS, dtype=object)[np.arange(1_000_000) % 3])
    table = pa.table({"id": ids, "prediction": labels}).take(
        np.random.default_rng(0).permutation(1_000_000)
    )
    as_csv, as_parquet = io.BytesIO(), io.BytesIO()
    pa.csv.write_csv(table, as_csv)
    pq.write_table(table, as_parquet)
    public = pd.Index(ids.to_pandas())
    for fmt, data in (("csv", as_csv.getvalue()), ("parquet", as_parquet.getvalue())):
        frame = read_predictions(data, fmt, BENCH, 100 * 2**20)
        check_ids(frame, public)
        assert len(frame) == 1_000_000 and frame["id"].is_unique
        assert frame.set_index("id").loc["ex-0000002", "prediction"] == LABELS[1]


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# --- size, emptiness and the wrong kind of file ------------------------------------


def test_too_big_is_refused_before_parsing() -> None:
    data = b"\x00garbage that is no format at all" * 1000
    message = refused(data, "parquet", max_bytes=len(data) - 1)
    assert message.startswith("the file is ") and "over the" in message and "limit" in message


def test_size_message_in_megabytes() -> None:
    message = refused(b"x" * (25 * 2**20), "csv", max_bytes=20 * 2**20)
    assert message == "the file is 25.0 MB, over the 20.0 MB limit"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("data", [b"", b" \n\r\n"])
def test_empty_file(fmt: str, data: bytes) -> None:
    assert refused(data, fmt) == "the file is empty"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_no_rows(fmt: str) -> None:
    data = b"id,prediction\n" if fmt == "csv" else _parquet(pd.DataFrame(GOOD).iloc[:0])
    assert refused(data, fmt) == "the file holds no predictions; expected one row per test id"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_parquet_bytes_with_a_text_name(fmt: str) -> None:
    assert refused(encode(GOOD, "parquet"), fmt).startswith("the file is a Parquet file, not")


@pytest.mark.parametrize(
    ("data", "looks"),
    [
        (b"id,prediction\nex-1,positive\n", "it looks like text, perhaps CSV"),
        (b'{"id": "ex-1", "prediction": "positive"}\n', "it looks like JSON text"),
        (b"PAR1 cut short", "a damaged or truncated Parquet file"),
        (b"PK\x03\x04 excel", "a ZIP archive"),
    ],
)
def test_not_parquet(data: bytes, looks: str) -> None:
    message = refused(data, "parquet")
    assert message.startswith("the file is not a Parquet file") and looks in message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (gzip.compress(b"id,prediction\n"), "gzip-compressed"),
        (b"PK\x03\x04rest", "ZIP archive"),
        ("id,prediction\nex-1,positive\n".encode("utf-16"), "UTF-16"),
        (b'{"id": "ex-1", "prediction": "positive"}\n', "looks like JSON, not CSV"),
    ],
)
def test_wrong_kind_of_csv(data: bytes, words: str) -> None:
    assert words in refused(data, "csv")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_invalid_utf8_names_the_line(fmt: str) -> None:
    data = encode(GOOD, fmt).replace(b"neutral", b"neu\xfftral")
    line = 3 if fmt == "csv" else 2
    assert refused(data, fmt) == (
        f"line {line} is not UTF-8 text (byte 0xff); save the file as UTF-8"
    )


# --- JSON Lines -----------------------------------------------------------------------


def test_invalid_json_on_line_n() -> None:
    data = encode(GOOD, "jsonl").replace(b'"ex-3",', b'"ex-3"')
    message = refused(data, "jsonl")
    assert message.startswith("line 3 is not valid JSON (Expecting ',' delimiter)")
    assert "one JSON object" in message


def test_json_line_that_is_not_an_object() -> None:
    data = encode(GOOD, "jsonl") + b'["ex-4", "positive"]\n'
    assert refused(data, "jsonl").startswith("line 4 holds a JSON list, not an object")


def test_json_type_changes_between_lines() -> None:
    data = encode(rows(("a", "positive"), ("b", "neutral"), ("c", 3)), "jsonl")
    assert refused(data, "jsonl", NUMERIC).startswith(
        "line 3: 'prediction' is a number, but on line 1 it is a string"
    )


def test_json_repeated_key() -> None:
    data = b'{"id": "a", "prediction": "positive"}\n{"id": "b", "id": "c", "prediction": "x"}\n'
    assert refused(data, "jsonl") == "line 2: the key 'id' appears twice"


def test_json_line_numbers_count_blank_lines() -> None:
    data = b'{"id": "a", "prediction": "positive"}\n\n\n{"id": "b", "prediction": "bad"}\n'
    assert refused(data, "jsonl").startswith("line 4: the prediction 'bad'")


# --- CSV structure --------------------------------------------------------------------


def test_csv_row_with_extra_field() -> None:
    data = b"id,prediction\nex-1,positive\nex-2,neutral,oops\nex-3,negative\n"
    assert refused(data, "csv") == "line 3 has 3 fields but the header has 2: 'ex-2,neutral,oops'"


def test_csv_separated_by_semicolons() -> None:
    message = refused(b"id;prediction\nex-1;positive\n", "csv")
    assert "unexpected column 'id;prediction'" in message
    assert "values must be separated by commas" in message


def test_csv_without_header() -> None:
    message = refused(b"ex-1,positive\nex-2,neutral\n", "csv")
    assert "missing columns 'id', 'prediction'" in message
    assert "the first line must be the header id,prediction" in message


def test_csv_repeated_column() -> None:
    assert refused(b"id,id,prediction\na,b,positive\n", "csv") == (
        "the column 'id' appears more than once"
    )


# --- columns, in every format ---------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_column(fmt: str) -> None:
    data = encode([{"id": "ex-1"}], fmt)
    message = refused(data, fmt)
    assert message.startswith("missing column 'prediction'")
    assert "the file must have exactly the columns 'id' and 'prediction'" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_unexpected_column(fmt: str) -> None:
    data = encode([{"id": "ex-1", "prediction": "positive", "score": 0.9}], fmt)
    assert refused(data, fmt).startswith(
        "unexpected column 'score'; the file must have exactly the columns 'id' and 'prediction'"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_column_names_are_case_sensitive(fmt: str) -> None:
    data = encode([{"ID": "ex-1", "Prediction": "positive"}], fmt)
    assert "rename 'ID' to 'id', 'Prediction' to 'prediction'" in refused(data, fmt)


# --- values, in every format ----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_prediction_outside_labels(fmt: str) -> None:
    data = encode(rows(("ex-1", "positive"), ("ex-2", "great"), ("ex-3", "meh")), fmt)
    assert refused(data, fmt) == (
        f"{at(fmt, 1)}: the prediction 'great' is not one of the labels 'negative', "
        "'neutral', 'positive'; 2 rows have a prediction outside the labels"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_label_case_hint(fmt: str) -> None:
    data = encode(rows(("ex-1", "Positive")), fmt)
    assert "(labels are case-sensitive)" in refused(data, fmt)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_booleans_are_not_labels(fmt: str) -> None:
    data = encode(rows(("ex-1", True), ("ex-2", False)), fmt)
    assert refused(data, fmt).endswith("this file has true/false values")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_lists_are_not_predictions(fmt: str) -> None:
    data = encode(rows(("ex-1", [1, 2]), ("ex-2", [3])), fmt)
    assert (
        refused(data, fmt, NUMERIC)
        == {
            "jsonl": "line 1: the prediction is a list, not a number or text",
            "parquet": "predictions must be numbers or text; this file has lists",
        }[fmt]
    )


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_decimal_ids_are_refused(fmt: str) -> None:
    data = encode(rows((1.5, "positive"), (2.5, "neutral")), fmt)
    assert refused(data, fmt) == "ids must be text; this file has decimal numbers"


def test_csv_mixes_numbers_and_text() -> None:
    data = b"id,prediction\na,0.5\nb,1\nc,high\n"
    assert refused(data, "csv", NUMERIC) == (
        "line 4: the prediction 'high' is not a number, but line 2 holds a number; "
        "use numbers throughout or text throughout"
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_numbers_must_be_finite(fmt: str, bad: float) -> None:
    data = encode(rows(("a", 0.5), ("b", bad)), fmt)
    if fmt == "csv":  # pandas would write NaN as an empty field
        data = f"id,prediction\na,0.5\nb,{bad}\n".encode()
    assert (
        refused(data, fmt, NUMERIC) == f"{at(fmt, 1)}: the prediction is {bad}, not a finite number"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_prediction(fmt: str) -> None:
    data = encode(rows(("ex-1", "positive"), ("ex-2", None)), fmt)
    expected = "empty" if fmt == "csv" else "missing"  # CSV cannot tell null from ""
    assert refused(data, fmt) == f"{at(fmt, 1)}: the prediction is {expected}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_id(fmt: str) -> None:
    data = encode(rows(("ex-1", "positive"), ("ex-2", "neutral"), (None, "negative")), fmt)
    expected = "empty" if fmt == "csv" else "missing"
    assert refused(data, fmt) == f"{at(fmt, 2)}: the id is {expected}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_blank_id(fmt: str) -> None:
    data = encode(rows(("ex-1", "positive"), ("  ", "neutral")), fmt)
    assert refused(data, fmt) == f"{at(fmt, 1)}: the id is empty"


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_ids(fmt: str) -> None:
    data = encode(
        rows(("ex-1", "positive"), ("ex-2", "neutral"), ("ex-1", "negative"), ("ex-1", "neutral")),
        fmt,
    )
    assert refused(data, fmt) == (
        f"{at(fmt, 2)}: the id 'ex-1' appears 3 times (first on {at(fmt, 0)}); "
        "each id must appear once, and 1 id is repeated"
    )


# --- hostile content ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_control_characters_are_shown_escaped(fmt: str) -> None:
    data = encode(rows(("ex-1", "pos\x1b[2J\x00itive\u202e")), fmt)
    message = refused(data, fmt)
    assert "'pos\\x1b[2J\\x00itive\\u202e'" in message
    assert not any(ord(ch) < 32 or ch == "\u202e" for ch in message)


@pytest.mark.parametrize("fmt", FORMATS)
def test_html_is_echoed_as_text(fmt: str) -> None:
    data = encode(rows(("ex-1", "<img src=x onerror=alert(1)>")), fmt)
    assert "'<img src=x onerror=alert(1)>' is not one of the labels" in refused(data, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_ten_kilobyte_values_are_cut(fmt: str) -> None:
    long = "A" * 10_000
    data = encode(rows((long, "positive"), (long, "neutral")), fmt)
    message = refused(data, fmt)
    assert "repeated" in message and "(10,000 characters)" in message
    assert len(message) < 300


def test_show() -> None:
    assert show("a\nb") == "'a\\nb'"
    assert show(3) == "'3'"
    assert show("x" * 100) == repr("x" * 40) + "… (100 characters)"
    assert len(show("\x00" * 100)) < 100


def test_parquet_dictionary_bomb_is_refused_without_expanding() -> None:
    n = 100_000  # one 10 kB string referenced 100,000 times: 1 GB once decoded
    bomb = pa.table(
        {
            "id": pa.array(np.arange(n).astype(str)),
            "prediction": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array(["x" * 10_000])
            ),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(bomb, buffer, compression="zstd", write_statistics=False)
    data = buffer.getvalue()
    assert len(data) < 2**20
    assert "unpacks to more than 100.0 MB" in refused(data, "parquet", NUMERIC)


def test_parquet_compression_bomb_is_refused() -> None:
    table = pa.table({"id": ["a"], "prediction": ["0" * 5_000_000]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", use_dictionary=False)
    data = buffer.getvalue()
    assert "unpacks to more than 1.0 MB" in refused(data, "parquet", NUMERIC, max_bytes=2**20 // 10)


def test_parquet_with_absurd_row_count() -> None:
    table = pa.table({"id": ["a"] * 200_000, "prediction": ["positive"] * 200_000})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = buffer.getvalue()
    assert refused(data, "parquet", max_bytes=100_000) == (
        "the file holds 200,000 rows, far more than the test set"
    )


# --- check_ids ------------------------------------------------------------------------

PUBLIC = pd.Index(example_ids(10), dtype="str")


def frame_of(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": pd.array(ids, dtype="str"), "prediction": "positive"})


def test_ids_match_in_any_order() -> None:
    check_ids(frame_of(list(PUBLIC)), PUBLIC)
    check_ids(frame_of(list(reversed(PUBLIC))), PUBLIC)
    check_ids(frame_of(list(PUBLIC)), frozenset(PUBLIC))


def test_missing_ids() -> None:
    with pytest.raises(InvalidPredictions) as caught:
        check_ids(frame_of(list(PUBLIC[5:])), PUBLIC)
    assert str(caught.value) == (
        "5 test ids are missing, for example 'ex-00001', 'ex-00002', 'ex-00003'; "
        "the file must have one row for each public test id"
    )


def test_unknown_ids() -> None:
    with pytest.raises(InvalidPredictions) as caught:
        check_ids(frame_of([*PUBLIC, "ex-99999", " ex-00001"]), PUBLIC)
    assert str(caught.value) == (
        "2 ids are not in the test set, for example 'ex-99999', ' ex-00001'; "
        "the file must have one row for each public test id"
    )


def test_unknown_and_missing_ids_with_hostile_text() -> None:
    with pytest.raises(InvalidPredictions) as caught:
        check_ids(frame_of([*PUBLIC[1:], "<b>\x07" + "z" * 5000]), frozenset(PUBLIC))
    message = str(caught.value)
    assert message.startswith("1 id is not in the test set, for example '<b>\\x07zz")
    assert (
        "(5,004 characters)" in message
        and "1 test id is missing, for example 'ex-00001'" in message
    )
    assert "\x07" not in message


def test_check_ids_uses_named_column() -> None:
    frame = pd.DataFrame({"prediction": ["x"] * 10, "qid": list(PUBLIC)})
    check_ids(frame, PUBLIC, id_column="qid")


# --- load_public_ids ------------------------------------------------------------------


def test_load_public_ids(tmp_path: Path) -> None:
    path = tmp_path / "test_ids.txt"
    path.write_bytes(b"ex-1\r\nex-2\n\nex-3\n")
    assert load_public_ids(path).tolist() == ["ex-1", "ex-2", "ex-3"]


def test_public_ids_must_be_unique(tmp_path: Path) -> None:
    path = tmp_path / "secret-dir" / "test_ids.txt"
    path.parent.mkdir()
    path.write_text("a\nb\na\n")
    with pytest.raises(ConfigError) as caught:
        load_public_ids(path)
    assert str(caught.value) == "the public id list test_ids.txt repeats the id 'a'"


# --- files built to crash or exhaust the reader ----------------------------------------


def test_hostile_json_nesting_is_refused_without_crashing() -> None:
    """pyarrow's JSON parser recurses, and segfaults near 30,000 levels: run in a child so a
    regression fails this test instead of killing the test session."""
    cases = {
        "deep": b'{"id": "a", "prediction": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "over lines": b'{"id": "a", "prediction": "neutral"}\n' + b"[\n" * 50_000,
        "after closers": b'{"id": "a", "prediction": "x"}\n'
        + b"]" * 60_000
        + b"\n"
        + b"{" * 50_000,
        "open quote": b'{"id": "a", "prediction": "x"}\n"\n' + b"[" * 50_000,
        "escaped": b'{"id": "a\\\\", "prediction": "\\"[[[["}\n' + b"[" * 50_000,
    }
    code = (
        "import sys, pickle\n"
        "from heldout.config import BenchmarkConfig\n"
        "from heldout.errors import InvalidPredictions\n"
        "from heldout.predictions import read_predictions\n"
        "for name, data in pickle.loads(sys.stdin.buffer.read()).items():\n"
        "    try:\n"
        "        read_predictions(data, 'jsonl', BenchmarkConfig(name='t', primary_metric='m'), 10**7)\n"
        "        print(name, 'ACCEPTED')\n"
        "    except InvalidPredictions as exc:\n"
        "        print(name, '|', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(cases), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()[-500:]
    lines = dict(line.split(" | ", 1) for line in done.stdout.decode().splitlines())
    assert lines.keys() == cases.keys()
    assert lines["deep"].startswith("line 1 nests lists or objects more than 32 deep")
    assert all("nests lists or objects" in message for message in lines.values())


def test_stray_keys_are_named_not_turned_into_columns() -> None:
    lines = [json.dumps({"id": f"ex-{i}", "prediction": "neutral"}) for i in range(5)]
    lines += [json.dumps({"id": f"ex-{i}", "prediction": "neutral", f"k{i}": 1}) for i in range(9)]
    assert refused("\n".join(lines).encode(), "jsonl") == (
        "line 6 has the unexpected key 'k0'; each line must have exactly the keys 'id' and "
        "'prediction'"
    )


def test_json_number_labels_are_matched_as_text() -> None:
    bench = BenchmarkConfig(name="t", primary_metric="m", labels=("0", "1"))
    data = b'{"id": "a", "prediction": 1}\n{"id": "b", "prediction": 0}\n'
    assert read_predictions(data, "jsonl", bench, MAX)["prediction"].tolist() == ["1", "0"]
    assert "the prediction '2' is not one of the labels '0', '1'" in refused(
        data.replace(b": 0}", b": 2}"), "jsonl", bench
    )


def test_json_first_line_sets_the_types() -> None:
    assert refused(b'{"id": null, "prediction": "x"}\n', "jsonl") == "line 1: the id is missing"
    data = b'{"id": "a", "prediction": 0.5}\n{"id": "b", "prediction": "high"}\n'
    assert refused(data, "jsonl", NUMERIC) == (
        "line 2: 'prediction' is a string, but on line 1 it is a number; use one type on every line"
    )
