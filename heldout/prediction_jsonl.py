"""Reading JSON Lines uploads: pyarrow parses, Python explains, and neither can be made slow.

Split from `heldout.prediction_formats`. pyarrow's JSON parser recurses (a deep file
crashes the process) and names rows per block, so nesting is measured first with
numpy, the first line's keys are counted before Python parses it, and the file is
parsed in pieces so that a refusal stops at the faulty piece, which is then halved
down to a few kilobytes for Python to name the line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pjson

from heldout.errors import InvalidPredictions
from heldout.prediction_text import MAX_COLUMNS, check_columns, reason, show, too_many

_MAX_DEPTH = 32
_BLOCK = 1 << 20  # JSON Lines are parsed in pieces of about this many bytes
_PIECE = 1 << 16  # and a refused piece is halved down to this size to find the bad line
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}\n')
_NOT_KEYS = bytes(b for b in range(256) if b not in b'"[]{}:')
_ONE_OBJECT = 'each line must be one JSON object such as {"id": "…", "prediction": "…"}'
_ROLE = ("id", "prediction")  # what expected[0] and expected[1] hold, in messages


def read_jsonl(data: bytes, expected: list[str]) -> pa.Table:
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
                f"the file could not be read as JSON Lines: {reason(exc)}"
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
