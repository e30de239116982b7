"""Uploaded bytes to an arrow table: one reader per format, and how each goes wrong.

Split from `heldout.predictions` by concept: this module knows file formats (CSV,
JSON Lines, Parquet); that one knows what the columns must hold. Nothing here sees
labels. pyarrow parses in C++; Python scans the file only to put a line number on a
problem once pyarrow has refused it. Uploads are hostile until proven otherwise: a few
guards keep a crafted file (deep JSON nesting, a Parquet zip bomb, damaged Parquet
metadata) from crashing or exhausting the process that reads it.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from heldout.errors import InvalidPredictions
from heldout.prediction_jsonl import read_jsonl
from heldout.prediction_text import MAX_COLUMNS, check_columns, listing, mb, reason, show, too_many

__all__ = ["EXPANSION", "FORMATS", "MAX_COLUMNS", "check_columns", "listing", "read_table", "show"]

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
EXPANSION = 10
"""A Parquet file may unpack to at most this many times the upload limit (a zip bomb)."""

_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}
_MAGIC = {
    b"PAR1": "a Parquet file",
    b"PK\x03\x04": "a ZIP archive (or an Excel workbook)",
    b"\x1f\x8b": "a gzip-compressed file",
    b"\xff\xfe": "UTF-16 text",
    b"\xfe\xff": "UTF-16 text",
}
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
MAX_ROW_GROUPS = 1000
"""pandas and pyarrow write one row group per million rows or so; more is a crafted file."""
_SLACK = 100  # blank lines a JSON Lines file may have beyond one line per test id
_FOOTER = 1 << 20  # Parquet metadata bigger than this is refused before it is parsed
_BAD_ROWS = 10  # CSV rows with the wrong number of fields looked at before giving up


def read_table(
    data: bytes, fmt: str, expected: list[str], max_bytes: int, max_rows: int | None = None
) -> pa.Table:
    """Parse `data` into a table with exactly the `expected` columns (not yet checked inside).

    With `max_rows`, a file holding more rows is refused as early as its format allows:
    Parquet from its metadata, JSON Lines from its line count, CSV (whose quoted values
    may span lines) once parsed."""
    if fmt not in FORMATS:
        raise InvalidPredictions(
            f"unknown format {show(fmt)}; accepted formats: csv, jsonl, parquet"
        )
    if len(data) > max_bytes:
        raise InvalidPredictions(
            f"the file is {mb(len(data), max_bytes)}, over the {mb(max_bytes, len(data))} limit"
        )
    if not data.strip():
        raise InvalidPredictions("the file is empty")
    if fmt == "parquet":
        return _read_parquet(data, expected, max_bytes, max_rows)
    _check_text(data, fmt)
    if fmt == "jsonl":
        if max_rows is not None:
            _check_rows(data.count(b"\n") + (not data.endswith(b"\n")), max_rows, _SLACK)
        return read_jsonl(data, expected)
    _check_csv_header(data, expected)
    table = _read_csv(data, expected)
    check_columns(table.column_names, expected, fmt)
    if max_rows is not None:
        _check_rows(table.num_rows, max_rows)
    return table


def _check_rows(rows: int, max_rows: int, slack: int = 0) -> None:
    if rows > max_rows + slack:
        raise InvalidPredictions(
            f"the file holds {rows:,} {'lines' if slack else 'rows'}, more than the "
            f"{max_rows:,} ids of the test set; it must have one row for each test id"
        )


# --- text formats --------------------------------------------------------------------


def _check_text(data: bytes, fmt: str) -> None:
    """Catch the usual wrong files (Parquet named .csv, a zip, UTF-16) with a plain answer."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise InvalidPredictions(f"the file is {what}, not {_NAMES[fmt]} text")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidPredictions(
            f"line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    if fmt == "csv" and data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        raise InvalidPredictions("the file looks like JSON, not CSV; name JSON Lines files .jsonl")


def _check_csv_header(data: bytes, expected: list[str]) -> None:
    """Count the header's fields (an upper bound: quoted commas count too) before pyarrow
    builds a column for each of them."""
    end = data.find(b"\n", 0, 1 << 20)
    header = data[: end if end >= 0 else 1 << 20]
    too_many(header.count(b",") + 1, expected, "columns in its header")


def _read_csv(data: bytes, expected: list[str]) -> pa.Table:
    bad: list[Any] = []

    def on_bad_row(row: Any) -> str:
        bad.append(row)
        return "skip" if len(bad) < _BAD_ROWS else "error"

    table = None
    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_bad_row),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(expected, pa.string())),
        )
    except pa.ArrowException as exc:
        if not bad:
            raise InvalidPredictions(f"the file could not be read as CSV: {reason(exc)}") from None
    if bad or table is None:
        # pyarrow reads blocks in parallel and gives the text, not the line: find the first
        line, row = min(((_line_of(data, row.text), row) for row in bad), key=lambda p: p[0])
        raise InvalidPredictions(
            f"line {line} has {row.actual_columns} fields but the header has "
            f"{row.expected_columns}: {show(row.text)}"
        )
    return table


def _line_of(data: bytes, text: str) -> int:
    found = data.find(b"\n" + text.encode("utf-8"))
    return data.count(b"\n", 0, found + 1) + 1 if found >= 0 else len(data)


# --- parquet -------------------------------------------------------------------------


def _read_parquet(
    data: bytes, expected: list[str], max_bytes: int, max_rows: int | None = None
) -> pa.Table:
    """Read only the expected columns, refusing a file that would unpack to gigabytes."""
    if not (data.startswith(b"PAR1") and data.endswith(b"PAR1")):
        what = next((w for m, w in _MAGIC.items() if data.startswith(m)), "")
        if data.startswith(b"PAR1"):
            what = "a damaged or truncated Parquet file"
        elif not what and data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            what = "JSON text"
        elif not what:
            what = "text, perhaps CSV" if _is_text(data[:4096]) else "some other kind of file"
        raise InvalidPredictions(f"the file is not a Parquet file; it looks like {what}")
    footer = int.from_bytes(data[-8:-4], "little") if len(data) >= 12 else 0
    if footer + 12 > len(data):
        raise InvalidPredictions("the file is not a valid Parquet file: it is damaged or truncated")
    if footer > _FOOTER:  # thousands of columns or row groups: refused before parsing
        raise InvalidPredictions(
            f"the file's metadata takes {mb(footer, 0)}; a file of two columns needs far "
            "less (write it with pandas' to_parquet, index=False)"
        )
    try:
        meta = pq.read_metadata(pa.BufferReader(data))
        too_many(meta.num_columns, expected)
        if meta.num_row_groups > MAX_ROW_GROUPS:
            raise InvalidPredictions(
                f"the file is split into {meta.num_row_groups:,} row groups; write it "
                f"in fewer (at most {MAX_ROW_GROUPS:,}), for example with pandas' to_parquet"
            )
        schema = meta.schema.to_arrow_schema()
        names = [n for n in schema.names if not _PANDAS_INDEX.fullmatch(n)]
        # Only file- and row-group-level fields: pyarrow 26 aborts the whole process when
        # asked for the column-chunk metadata of some damaged files.
        unpacked = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
    except InvalidPredictions:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictions(f"the file is not a valid Parquet file: {reason(exc)}") from None
    check_columns(names, expected, "parquet")
    if max_rows is not None:
        _check_rows(meta.num_rows, max_rows)
    if meta.num_rows > max_bytes:
        raise InvalidPredictions(
            f"the file holds {meta.num_rows:,} rows, far more than the test set"
        )
    budget = EXPANSION * max_bytes
    too_big = InvalidPredictions(
        f"the file unpacks to more than {mb(budget, 0)}; upload fewer or shorter predictions"
    )
    if unpacked > budget:
        raise too_big
    # Strings come back dictionary-encoded, so a tiny file holding one long value a
    # million times is measured before it is expanded, not after.
    strings = [n for n in expected if _stringy(schema.field(n).type)]
    try:
        table = pq.ParquetFile(pa.BufferReader(data), read_dictionary=strings).read(expected)
        table.validate(full=True)  # a damaged file can hold dictionary indices out of range
        unpacked = sum(_decoded_bytes(table.column(n)) for n in expected)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidPredictions(f"the Parquet file could not be read: {reason(exc)}") from None
    if unpacked > budget:
        raise too_big
    return table


def _decoded_bytes(column: pa.ChunkedArray) -> int:
    """Bytes a dictionary-encoded string column takes once decoded, found without decoding."""
    total = 0
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            lengths = pc.binary_length(chunk.dictionary).take(chunk.indices)
            total += pc.sum(lengths).as_py() or 0
        else:
            total += chunk.nbytes
    return total


def _stringy(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # only a character cut by the sample's end
    return True
