"""An append-only log of state changes, replayed at start to rebuild the state.

Each change (a repo created, a commit, a secret set, a token issued) is one JSON line,
written and fsynced before the change is acknowledged. A restart replays the lines in
order through the same code that applied them live, so the two can never disagree.
Appending costs the size of the change, never the size of the state.

A crash can leave a torn last line; it is dropped (its change was never
acknowledged) and the file is truncated back to the last whole line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Journal:
    """Appends events to `path`; `replay()` yields the events already there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 - kept open for the server's life

    def replay(self) -> Iterator[dict[str, Any]]:
        good_end = 0
        with open(self.path, "rb") as handle:
            data = handle.read()
        position = 0
        while position < len(data):
            newline = data.find(b"\n", position)
            if newline < 0:
                break  # a torn last line: never acknowledged
            line = data[position:newline]
            try:
                event = json.loads(line)
            except json.JSONDecodeError as error:
                if data.find(b"\n", newline + 1) < 0 and not data[newline + 1 :].strip():
                    break  # torn last line
                raise ValueError(f"journal {self.path} is corrupt at byte {position}") from error
            yield event
            position = newline + 1
            good_end = position
        if good_end < len(data):
            self._file.truncate(good_end)

    def append(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a reader sees the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
