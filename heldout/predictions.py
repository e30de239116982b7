"""Reading and checking a prediction file, shared by the leaderboard and the evaluator.

Both sides must refuse the same files with the same words, so the code lives in this
neutral module, which the leaderboard may import. It knows the public list of test
ids, never the labels. Every check runs column-wise in pyarrow or pandas, so a million
rows take well under a second; `heldout.prediction_formats` does the parsing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from heldout.config import BenchmarkConfig
from heldout.errors import ConfigError, InvalidPredictions
from heldout.prediction_formats import FORMATS, listing, read_table, show

__all__ = [
    "FORMATS",
    "check_ids",
    "detect_format",
    "fingerprint",
    "load_public_ids",
    "read_predictions",
    "show",
]

_EXAMPLES = 3  # how many ids a message names


def detect_format(filename: str, formats: Iterable[str] = FORMATS) -> str:
    """Pick the format from the extension; the content is checked when it is read.

    `formats` lets a benchmark accept fewer (limits.formats). The name is never echoed:
    on a server it may be a temporary path.
    """
    accepted = tuple(formats)
    names = ", ".join(f".{f}" for f in accepted)
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    if suffix[1:] in accepted:
        return suffix[1:]
    if not suffix:
        raise InvalidPredictions(f"the file name has no extension; accepted formats: {names}")
    hint = ""
    if suffix == ".json" and "jsonl" in accepted:
        hint = " (JSON Lines files, one object per line, must end in .jsonl)"
    elif suffix in (".gz", ".zip", ".bz2", ".xz", ".zst"):
        hint = " (upload the file uncompressed)"
    raise InvalidPredictions(
        f"files ending in {show(suffix)} are not accepted{hint}; accepted formats: {names}"
    )


def read_predictions(
    data: bytes,
    fmt: str,
    benchmark: BenchmarkConfig,
    max_bytes: int,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Parse and check one uploaded file, or raise `InvalidPredictions` saying what to fix.

    Returns exactly the columns [id_column, prediction_column]. Ids are str. Predictions
    are str when the benchmark has labels (each one of them) or the file holds text,
    float64 when it holds numbers. No value is null, blank, NaN or infinite; no id repeats.
    `max_rows` (the size of the public id list, when known) refuses a longer file before
    any value is looked at.
    """
    expected = [benchmark.id_column, benchmark.prediction_column]
    table = read_table(data, fmt, expected, max_bytes, max_rows)
    if table.num_rows == 0:
        raise InvalidPredictions("the file holds no predictions; expected one row per test id")
    where = Locator(data, fmt)
    ids = _ids(table.column(expected[0]), where)
    column = table.column(expected[1])
    if benchmark.labels:
        predictions = _labels(column, benchmark.labels, where)
    else:
        predictions = _values(column, fmt, where)
    _check_unique(ids, where)
    return pd.DataFrame({expected[0]: ids.to_pandas(), expected[1]: predictions.to_pandas()})


def check_ids(
    frame: pd.DataFrame,
    public_ids: frozenset[str] | pd.Index,
    id_column: str | None = None,
) -> None:
    """Refuse a file whose ids are not exactly the public test ids.

    `id_column` defaults to the frame's first column, as `read_predictions` returns it,
    whose ids are already unique. Pass the same `pd.Index` every time: it is cheap.
    """
    ids = _arrow(frame[id_column or frame.columns[0]])
    public = _public_array(public_ids)
    if len(ids) == len(public) and pc.all(pc.equal(ids, public)).as_py():
        return  # the usual case: rows in the order of the public list
    positions = pc.index_in(ids, value_set=public)
    unknown = pc.is_null(positions)
    hits = np.bincount(positions.drop_null().to_numpy(), minlength=len(public))
    missing = np.flatnonzero(hits == 0)
    n_unknown = pc.sum(unknown).as_py() or 0
    problems = []
    if n_unknown:
        shown = ids.filter(unknown).slice(0, _EXAMPLES).to_pylist()
        problems.append(
            f"{_count(n_unknown, 'id is', 'ids are')} not in the test set, "
            f"for example {listing(shown)}"
        )
    if len(missing):
        shown = public.take(missing[:_EXAMPLES]).to_pylist()
        problems.append(
            f"{_count(len(missing), 'test id is', 'test ids are')} missing, "
            f"for example {listing(shown)}"
        )
    if problems:
        raise InvalidPredictions(
            "; ".join(problems) + "; the file must have one row for each public test id"
        )


def fingerprint(frame: pd.DataFrame) -> str:
    """The predictions' identity, whatever file carried them (the shared-file rule).

    sha256 of a canonical form of `read_predictions`' frame: rows sorted by id, each id
    as text, numbers in single precision (so 0.1, 0.10 and a float32 Parquet column of
    0.1 agree), text exactly. So CRLF line endings, another row order, JSON Lines or
    Parquet instead of CSV all give the same fingerprint; any other prediction does not.
    Linear apart from the sort, all in pyarrow and numpy.
    """
    ids = _arrow(frame[frame.columns[0]])
    order = pc.sort_indices(ids)
    digest = hashlib.sha256(b"heldout predictions v1\0")
    _digest_strings(digest, ids.take(order))
    values = frame[frame.columns[1]]
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(np.float64)[order.to_numpy()].astype(np.float32) + np.float32(0)
        digest.update(b"numbers\0" + numbers.astype("<f4").tobytes())  # + 0 turns -0 into 0
    else:
        digest.update(b"text\0")
        _digest_strings(digest, _arrow(values).take(order))
    return digest.hexdigest()


def _digest_strings(digest: Any, values: pa.Array) -> None:
    """Feed each string's length, then all their bytes: no two lists feed the same."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.large_string())
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False).astype("<i8")
    digest.update(lengths.tobytes())
    offsets = np.frombuffer(values.buffers()[1], np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    if len(values) and values.buffers()[2] is not None:
        digest.update(memoryview(values.buffers()[2])[int(offsets[0]) : int(offsets[-1])])


def load_public_ids(path: str | os.PathLike[str]) -> pd.Index:
    """Read the public id list: one id per line, blank lines ignored, each id once."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the public id list {path.name}: {exc}") from None
    ids = pd.Index(text.splitlines(), dtype="str")
    ids = ids[ids != ""]
    if not ids.is_unique:
        first = ids[ids.duplicated()][0]
        raise ConfigError(f"the public id list {path.name} repeats the id {show(first)}")
    return ids


# --- what the columns must hold ------------------------------------------------------


def _ids(column: pa.ChunkedArray, where: Locator) -> pa.ChunkedArray:
    column = _plain(column)
    if pa.types.is_integer(column.type):
        column = column.cast(pa.string())
    elif not pa.types.is_string(column.type):
        raise InvalidPredictions(f"ids must be text; this file has {_type_name(column.type)}")
    _check_present(column, "id", where)
    return column


def _labels(column: pa.ChunkedArray, labels: tuple[str, ...], where: Locator) -> pa.ChunkedArray:
    column = _plain(column)
    if pa.types.is_floating(column.type):  # labels "0", "1" written as JSON numbers
        with contextlib.suppress(pa.ArrowInvalid):
            column = column.cast(pa.int64())
    if pa.types.is_integer(column.type):
        column = column.cast(pa.string())
    elif not pa.types.is_string(column.type):
        raise InvalidPredictions(
            f"predictions must be one of the labels {listing(labels)}; this file has "
            f"{_type_name(column.type)}"
        )
    _check_present(column, "prediction", where)
    bad = pc.invert(pc.is_in(column, value_set=pa.array(labels, pa.string())))
    if not pc.any(bad).as_py():
        return column
    row = pc.index(bad, True).as_py()
    value = column[row].as_py()
    folded = {label.lower() for label in labels}
    hint = " (labels are case-sensitive)" if value.strip().lower() in folded else ""
    raise InvalidPredictions(
        f"{where(row)}: the prediction {show(value)} is not one of the labels "
        f"{listing(labels)}{hint}; {_count(pc.sum(bad).as_py(), 'row has', 'rows have')} "
        "a prediction outside the labels"
    )


def _values(column: pa.ChunkedArray, fmt: str, where: Locator) -> pa.ChunkedArray:
    """No labels: numbers (as float64) or text, one or the other throughout."""
    column = _plain(column)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = column.cast(pa.float64())
    elif not pa.types.is_string(kind):
        raise InvalidPredictions(
            f"predictions must be numbers or text; this file has {_type_name(kind)}"
        )
    _check_present(column, "prediction", where)
    if fmt == "csv" and pa.types.is_string(column.type):
        column = _csv_numbers(column, where)
        _check_present(column, "prediction", where)  # "nan" and "inf" parse as numbers
    return column


_NUMBER = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:nan|inf|infinity))$"


def _csv_numbers(column: pa.ChunkedArray, where: Locator) -> pa.ChunkedArray:
    """CSV has no types: if the first prediction is a number, every one must be."""
    trimmed = pc.utf8_trim_whitespace(column)
    try:
        return pc.cast(trimmed, pa.float64())
    except pa.ArrowInvalid:
        pass
    numeric = pc.match_substring_regex(trimmed, _NUMBER)  # linear, in C
    if not numeric[0].as_py():
        return column
    row = pc.index(numeric, False).as_py()
    if row < 0:  # every value looks like a number, yet one did not convert
        raise InvalidPredictions("some predictions could not be read as numbers")
    raise InvalidPredictions(
        f"{where(row)}: the prediction {show(column[row].as_py())} is not a number, but "
        f"{where(0)} holds a number; use numbers throughout or text throughout"
    )


def _check_present(column: pa.ChunkedArray, what: str, where: Locator) -> None:
    """No null, empty or blank value, and no NaN or infinity among numbers."""
    if column.null_count:
        row = pc.index(pc.is_null(column), True).as_py()
        raise InvalidPredictions(f"{where(row)}: the {what} is missing")
    if pa.types.is_string(column.type):
        blank = pc.equal(pc.utf8_trim_whitespace(column), "")
        if pc.any(blank).as_py():
            raise InvalidPredictions(f"{where(pc.index(blank, True).as_py())}: the {what} is empty")
    elif pa.types.is_floating(column.type):
        odd = pc.invert(pc.is_finite(column))
        if pc.any(odd).as_py():
            row = pc.index(odd, True).as_py()
            raise InvalidPredictions(
                f"{where(row)}: the {what} is {column[row].as_py()}, not a finite number"
            )


def _check_unique(ids: pa.ChunkedArray, where: Locator) -> None:
    """Each id once; otherwise name the first repeat. Linear: codes in order of first sight."""
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    encoded = ids.combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # A code is new exactly when it exceeds every code before it.
    seen = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    row = int(np.flatnonzero(codes <= seen)[0])
    code = codes[row]
    same = np.flatnonzero(codes == code)
    repeated = int(np.count_nonzero(np.bincount(codes) > 1))
    value = encoded.dictionary[code].as_py()
    raise InvalidPredictions(
        f"{where(row)}: the id {show(value)} appears {len(same)} times (first on "
        f"{where(int(same[0]))}); each id must appear once, and "
        f"{_count(repeated, 'id is', 'ids are')} repeated"
    )


# --- helpers -------------------------------------------------------------------------


class Locator:
    """Turns a record's position into the place a person would look: a line or a row.

    Only needed when an error is raised. With no blank line in the file, record n is
    simply on line n (after the CSV header); otherwise numpy builds the line table.
    """

    def __init__(self, data: bytes, fmt: str) -> None:
        self._data, self._fmt = data, fmt
        self._lines: np.ndarray | None = None
        self._plain: bool | None = None

    def _no_blank_lines(self) -> bool:
        data = self._data.rstrip(b"\r\n")
        if self._fmt == "csv":
            return (
                not data.startswith((b"\n", b"\r\n"))
                and data.count(b"\n\n") == 0
                and (data.count(b"\n\r\n") == 0)
            )
        return data.startswith(b"{") and data.count(b"\n{") == data.count(b"\n")

    def __call__(self, index: int) -> str:
        if self._fmt == "parquet":
            return f"row {index + 1}"
        header = 1 if self._fmt == "csv" else 0
        if self._plain is None:
            self._plain = self._no_blank_lines()
        if self._plain:
            return f"line {index + 1 + header}"  # the usual file
        if self._lines is None:
            self._lines = self._line_table()[header:]
        lines = self._lines
        return f"line {lines[index]}" if index < len(lines) else f"record {index + 1}"

    def _line_table(self) -> np.ndarray:
        """The numbers of the lines that hold a record: CSV skips empty lines (as pyarrow
        does), JSON Lines skips lines of only spaces."""
        buf = np.frombuffer(self._data, np.uint8)
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], ends + 1))
        stops = np.concatenate((ends, [len(buf)]))
        if self._fmt == "csv":
            length = stops - starts
            cr = np.zeros(len(starts), bool)
            one = length == 1
            cr[one] = buf[starts[one]] == 13
            blank = (length == 0) | cr
        else:
            solid = np.concatenate(([0], np.cumsum(~np.isin(buf, (9, 10, 11, 12, 13, 32)))))
            blank = solid[stops] == solid[starts]
        return np.flatnonzero(~blank) + 1


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Decode dictionaries and narrow string variants, so one code path handles them all."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_null(kind):
        kind = pa.string()
    return column.cast(kind) if kind != column.type else column


def _type_name(kind: pa.DataType) -> str:
    for test, name in (
        (pa.types.is_boolean, "true/false values"),
        (pa.types.is_floating, "decimal numbers"),
        (pa.types.is_temporal, "dates or times"),
        (pa.types.is_struct, "objects"),
        (pa.types.is_list, "lists"),
        (pa.types.is_large_list, "lists"),
        (pa.types.is_binary, "binary data"),
    ):
        if test(kind):
            return name
    return str(kind)


def _arrow(values: pd.Series | pd.Index) -> pa.Array:
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.string() else array.cast(pa.string())


def _public_array(public_ids: frozenset[str] | pd.Index) -> pa.Array:
    if isinstance(public_ids, pd.Index):
        return _arrow(public_ids if public_ids.is_unique else public_ids.drop_duplicates())
    return pa.array(sorted(public_ids), pa.string())


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
