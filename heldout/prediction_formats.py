"""Uploaded bytes to an arrow table: one reader per format, and how each goes wrong.

Split from `heldout.predictions` by concept: this module knows file formats (CSV,
JSON Lines, Parquet); that one knows what the columns must hold. Nothing here sees
labels. pyarrow parses in C++; Python scans the file only to put a line number on a
problem once pyarrow has refused it. Uploads are hostile until proven otherwise: a few
guards keep a crafted file (deep JSON nesting, a Parquet zip bomb, damaged Parquet
metadata) from crashing or exhausting the process that reads it.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from heldout.errors import InvalidPredictions

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
EXPANSION = 10
"""A Parquet file may unpack to at most this many times the upload limit (a zip bomb)."""

_ROLE = ("id", "prediction")  # what expected[0] and expected[1] hold, in messages
_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet"}
_MAGIC = {
    b"PAR1": "a Parquet file",
    b"PK\x03\x04": "a ZIP archive (or an Excel workbook)",
    b"\x1f\x8b": "a gzip-compressed file",
    b"\xff\xfe": "UTF-16 text",
    b"\xfe\xff": "UTF-16 text",
}
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
_MAX_DEPTH = 32
MAX_COLUMNS = 100
"""More columns than this are refused before anything looks at them one by one."""
MAX_ROW_GROUPS = 1000
"""pandas and pyarrow write one row group per million rows or so; more is a crafted file."""
_SLACK = 100  # blank lines a JSON Lines file may have beyond one line per test id
_FOOTER = 1 << 20  # Parquet metadata bigger than this is refused before it is parsed
_BAD_ROWS = 10  # CSV rows with the wrong number of fields looked at before giving up
_BLOCK = 1 << 20  # JSON Lines are parsed in pieces of about this many bytes
_PIECE = 1 << 16  # and a refused piece is halved down to this size to find the bad line
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}\n')
_NOT_KEYS = bytes(b for b in range(256) if b not in b'"[]{}:')
_ONE_OBJECT = 'each line must be one JSON object such as {"id": "…", "prediction": "…"}'


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
            f"the file is {_mb(len(data), max_bytes)}, over the {_mb(max_bytes, len(data))} limit"
        )
    if not data.strip():
        raise InvalidPredictions("the file is empty")
    if fmt == "parquet":
        return _read_parquet(data, expected, max_bytes, max_rows)
    _check_text(data, fmt)
    if fmt == "jsonl":
        if max_rows is not None:
            _check_rows(data.count(b"\n") + (not data.endswith(b"\n")), max_rows, _SLACK)
        return _read_jsonl(data, expected)
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


def show(value: Any) -> str:
    """Echo a user's value safely: repr() makes control characters visible, and long
    values are cut so a 10 kB string cannot flood a message."""
    value = value if isinstance(value, str) else str(value)
    if len(value) <= 40 and len(text := repr(value)) <= 90:
        return text
    text = repr(value[:40]) if len(repr(value[:40])) <= 90 else repr(value[:10])
    return f"{text}… ({len(value):,} characters)"


def listing(values: Iterable[Any]) -> str:
    return ", ".join(show(v) for v in values)


def check_columns(found: list[str], expected: list[str], fmt: str) -> None:
    """Exactly the expected columns, each once; near misses get a hint. Linear in `found`."""
    too_many(len(found), expected)
    counts = Counter(found)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        raise InvalidPredictions(f"the column {show(repeated[0])} appears more than once")
    missing = [name for name in expected if name not in counts]
    extra = [name for name in found if name not in expected]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing {_plural(len(missing), 'column')} {listing(missing)}")
    if extra:
        more = f" and {len(extra) - 5:,} more" if len(extra) > 5 else ""
        parts.append(f"unexpected {_plural(len(extra), 'column')} {listing(extra[:5])}{more}")
    near = {name.strip().lower(): name for name in extra}
    renames = [f"{show(near[n.lower()])} to {show(n)}" for n in missing if n.lower() in near]
    hint = ""
    if renames:
        hint = f" (names are case-sensitive: rename {', '.join(renames)})"
    elif fmt == "csv" and len(found) == 1 and re.search(r"[;\t|]", found[0]):
        hint = " (values must be separated by commas)"
    elif fmt == "csv" and len(missing) == len(expected):
        hint = f" (the first line must be the header {expected[0]},{expected[1]})"
    elif fmt == "parquet" and extra:
        hint = " (with pandas, write the file with index=False)"
    raise InvalidPredictions(
        f"{'; '.join(parts)}; the file must have exactly the columns "
        f"{show(expected[0])} and {show(expected[1])}{hint}"
    )


def too_many(count: int, expected: list[str], what: str = "columns") -> None:
    """Refuse a file with far more columns than expected, before any per-column work."""
    if count > MAX_COLUMNS:
        raise InvalidPredictions(
            f"the file has {count:,} {what}; it must have exactly the columns "
            f"{show(expected[0])} and {show(expected[1])}"
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
            raise InvalidPredictions(f"the file could not be read as CSV: {_reason(exc)}") from None
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


def _read_jsonl(data: bytes, expected: list[str]) -> pa.Table:
    """Parse with a schema taken from the first line, so a file cannot make pyarrow build
    a column for every stray key, and any later deviation is found and named."""
    depth, line = _deepest(data)
    if depth > _MAX_DEPTH:  # pyarrow's JSON parser recurses, and crashes the process
        raise InvalidPredictions(
            f"line {line} nests lists or objects more than {_MAX_DEPTH} deep; {_ONE_OBJECT}"
        )
    schema = _first_line_schema(data, expected)
    view, tables, start = memoryview(data), [], 0
    while start < len(data):  # in pieces: a refusal stops the work at the faulty piece
        end = data.find(b"\n", start + _BLOCK)
        end = len(data) if end < 0 else end + 1
        try:
            tables.append(_parse_jsonl(view[start:end], schema))
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            # Python names the faulty line, but is slow: it reads only a small piece.
            start, end = _bad_piece(data, start, end, schema)
            first = next(_records(data))  # the types every line must share
            _explain_jsonl(view[start:end].tobytes(), expected, data.count(b"\n", 0, start), first)
            raise InvalidPredictions(
                f"the file could not be read as JSON Lines: {_reason(exc)}"
            ) from None
        start = end
    return pa.concat_tables(tables)


def _parse_jsonl(data: bytes | memoryview, schema: pa.Schema) -> pa.Table:
    options = pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    return pjson.read_json(
        pa.BufferReader(pa.py_buffer(data)),
        read_options=pjson.ReadOptions(block_size=4 << 20),
        parse_options=options,
    )


def _bad_piece(data: bytes, start: int, end: int, schema: pa.Schema) -> tuple[int, int]:
    """Within data[start:end], which pyarrow refuses, a piece of whole lines of about
    `_PIECE` bytes holding the first line it refuses. Halving costs about two more parses
    of the range, in C."""
    view = memoryview(data)
    while end - start > _PIECE:
        mid = data.find(b"\n", (start + end) // 2, end - 1)
        if mid < 0:
            break
        if _refused(view[start : mid + 1], schema):
            end = mid + 1
        elif _refused(view[mid + 1 : end], schema):
            start = mid + 1
        else:
            break  # each half parses alone: explain the pair
    return start, end


def _refused(piece: memoryview, schema: pa.Schema) -> bool:
    try:
        _parse_jsonl(piece, schema)
    except (pa.ArrowException, UnicodeDecodeError):
        return True
    return False


def _first_line_schema(data: bytes, expected: list[str]) -> pa.Schema:
    _count_first_keys(data, expected)
    number, record = next(_records(data), (0, {}))
    check_columns(list(record), expected, "jsonl")
    fields = []
    for role, name in zip(_ROLE, expected, strict=True):
        value = record[name]
        if value is None:
            raise InvalidPredictions(f"line {number}: the {role} is missing")
        if isinstance(value, (list, dict)):
            raise InvalidPredictions(
                f"line {number}: the {role} is a {_json_kind(value)}, not a number or text"
            )
        fields.append((name, _arrow_type(value, role)))
    return pa.schema(fields)


def _count_first_keys(data: bytes, expected: list[str]) -> None:
    """Refuse a first line with too many keys before Python parses it (a pair each).

    Only a line with many colons is counted: those outside strings, one level deep
    (nesting is already known to be shallow)."""
    start = len(data) - len(data.lstrip())
    end = data.find(b"\n", start)
    line = data[start : end if end >= 0 else len(data)]
    if line.count(b":") <= MAX_COLUMNS:
        return
    if b"\\" in line:
        line = line.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = np.frombuffer(line.translate(None, _NOT_KEYS), np.uint8)
    keys = quotes = level = 0
    for start in range(0, len(kept), _PIECE):  # in slices, stopping once there are too many
        c = kept[start : start + _PIECE]
        outside = (quotes + np.cumsum(c == 34)) % 2 == 0
        step = ((c == 91) | (c == 123)).astype(np.int32) - ((c == 93) | (c == 125))
        levels = level + np.cumsum(step * outside)
        keys += int(np.count_nonzero((c == 58) & outside & (levels == 1)))
        if keys > MAX_COLUMNS:
            too_many(keys, expected, "keys or more on its first line")
        quotes, level = quotes + int(np.count_nonzero(c == 34)), int(levels[-1])


def _arrow_type(value: Any, role: str) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int) and role == "id":
        return pa.int64()
    return pa.float64() if isinstance(value, (int, float)) else pa.string()


def _explain_jsonl(
    data: bytes,
    expected: list[str],
    lines_before: int = 0,
    first: tuple[int, dict[str, Any]] | None = None,
) -> None:
    """Find the first bad line after pyarrow refused the file (its row numbers are per block).

    `data` may be a piece of the file after `lines_before` lines; `first` is the file's
    first record, whose types every line must share."""
    kinds: dict[str, tuple[str, int]] = {}
    if first is not None:
        kinds = {key: (_json_kind(value), first[0]) for key, value in first[1].items()}
    for number, record in _records(data, lines_before):
        for key, value in record.items():
            if key not in expected:
                raise InvalidPredictions(
                    f"line {number} has the unexpected key {show(key)}; each line must have "
                    f"exactly the keys {show(expected[0])} and {show(expected[1])}"
                )
            kind = _json_kind(value)
            if kind != "null" and kinds.get(key, ("null", 0))[0] == "null":
                kinds[key] = (kind, number)
            first = kinds.get(key, (kind, number))
            if kind not in ("null", first[0]):
                raise InvalidPredictions(
                    f"line {number}: {show(key)} is a {kind}, but on line {first[1]} it is a "
                    f"{first[0]}; use one type on every line"
                )


def _records(data: bytes, lines_before: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line parsed by Python, with its number; the first bad one raises."""
    # lazily: often one line is read
    for number, line in enumerate(io.BytesIO(data), start=lines_before + 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, object_pairs_hook=_unique_keys)
        except _RepeatedKey as exc:
            raise InvalidPredictions(f"line {number}: the key {exc} appears twice") from None
        except _TooManyKeys as exc:
            raise InvalidPredictions(
                f"line {number} holds an object with {exc} keys; {_ONE_OBJECT}"
            ) from None
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "bad value"
            raise InvalidPredictions(
                f"line {number} is not valid JSON ({reason}); {_ONE_OBJECT}"
            ) from None
        if not isinstance(record, dict):
            raise InvalidPredictions(
                f"line {number} holds a JSON {_json_kind(record)}, not an object; {_ONE_OBJECT}"
            )
        yield number, record


def _deepest(data: bytes, chunk: int = 1 << 16) -> tuple[int, int]:
    """How deep [ and { nest outside JSON strings, and on which line it peaks.

    pyarrow may start parsing at any line, so the depth counted is the most openers
    since the lowest point before (extra closers cannot hide a deep stack), and a string
    never runs past the end of a line. Escape pairs go first, then every byte but
    quotes, brackets and newlines, all in C; numpy scans what is left, in slices, and
    stops at the first slice that goes deeper than the limit.
    """
    if b"\\" in data:  # drop escape pairs, left to right as JSON reads them
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = data.translate(None, _NOT_STRUCTURE)
    if kept.count(b"[") + kept.count(b"{") <= _MAX_DEPTH:
        return 0, 0
    lines = kept.replace(b'""', b"") + b"\n"  # strings with nothing structural inside go
    if not lines.replace(b"{}\n", b"").strip(b"\n"):
        return 1, 1  # the usual file: each line is exactly one flat {…}
    depth = low = best = line = lines_before = in_string = 0
    everything = np.frombuffer(kept, np.uint8)
    for start in range(0, len(everything), chunk):
        c = everything[start : start + chunk]
        quotes = np.cumsum(c == 34, dtype=np.int32)
        newline = c == 10
        since = np.maximum.accumulate(np.where(newline, quotes, -1))  # at the last newline
        outside = np.where(since >= 0, quotes - since, quotes + in_string) % 2 == 0
        step = ((c == 91) | (c == 123)).astype(np.int32) - ((c == 93) | (c == 125))
        levels = depth + np.cumsum(step * outside, dtype=np.int32)
        lows = np.minimum(np.minimum.accumulate(levels), low)
        top = int(np.argmax(levels - lows))
        if levels[top] - lows[top] > best:
            best = int(levels[top] - lows[top])
            line = lines_before + int(np.count_nonzero(newline[:top])) + 1
        if best > _MAX_DEPTH:
            break  # deep enough to refuse: the rest of the file need not be scanned
        depth, low, in_string = int(levels[-1]), int(lows[-1]), int(not outside[-1])
        lines_before += int(np.count_nonzero(newline))
    return best, line


class _RepeatedKey(ValueError):
    pass


class _TooManyKeys(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_COLUMNS:  # before looking at each key
        raise _TooManyKeys(f"{len(pairs):,}")
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise _RepeatedKey(show(key))
        record[key] = value
    return record


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false value"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), "value")


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
            f"the file's metadata takes {_mb(footer, 0)}; a file of two columns needs far "
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
        raise InvalidPredictions(f"the file is not a valid Parquet file: {_reason(exc)}") from None
    check_columns(names, expected, "parquet")
    if max_rows is not None:
        _check_rows(meta.num_rows, max_rows)
    if meta.num_rows > max_bytes:
        raise InvalidPredictions(
            f"the file holds {meta.num_rows:,} rows, far more than the test set"
        )
    budget = EXPANSION * max_bytes
    too_big = InvalidPredictions(
        f"the file unpacks to more than {_mb(budget, 0)}; upload fewer or shorter predictions"
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
        raise InvalidPredictions(f"the Parquet file could not be read: {_reason(exc)}") from None
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


# --- wording -------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    """pyarrow's own words, without its block-relative row numbers or its prefixes."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = re.sub(r"^(CSV|JSON) parse error:\s*", "", re.sub(r"\s*in row \d+", "", text))
    return text if len(text) <= 120 else text[:120] + "…"


def _mb(size: int, other: int) -> str:
    """Megabytes, plus the byte count when rounding would make two sizes look equal."""
    text, twin = f"{size / 2**20:.1f} MB", f"{other / 2**20:.1f} MB"
    return f"{text} ({size:,} bytes)" if text == twin else text


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
