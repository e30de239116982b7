"""Small moves every store test makes: write some files, bump a counter under CAS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from heldout.errors import Conflict
from heldout.queue.store import Add, Store

OWNER = "alice"
TOKEN = f"hf_test_{OWNER}"


class RecordingSleep:
    """An injectable `sleep` that remembers each wait and returns at once.

    With `nap` set it really sleeps, up to `nap` seconds: other writers then get the
    window a real back-off gives them. `then`, if set, runs after each wait (a test's
    way to make something happen while a store waits)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.nap = 0.0
        self.then: Callable[[], object] | None = None

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.nap:
            time.sleep(min(seconds, self.nap))
        if self.then is not None:
            self.then()


def unique_repo() -> str:
    return f"{OWNER}/store-{uuid.uuid4().hex[:12]}"


def write(store: Store, files: dict[str, bytes], message: str = "write") -> str:
    """Commit `files` on top of the current head and return the new head."""
    ops = [Add(path, content) for path, content in files.items()]
    return store.commit(ops, message, store.head())


def user_files(paths: list[str]) -> list[str]:
    """Drop files the Hub puts in every new repo (`.gitattributes`)."""
    return [path for path in paths if not path.startswith(".")]


def increment(store: Store, path: str = "counter", times: int = 5) -> int:
    """Read-modify-write `times` increments, retrying on Conflict. Returns conflicts seen.

    Two racers that read the same value write identical bytes: the lost-update case.
    """
    conflicts = 0
    for _ in range(times):
        while True:
            head = store.head()
            value = int(store.read(path, head))
            try:
                store.commit([Add(path, str(value + 1).encode())], "increment", head)
                break
            except Conflict:
                conflicts += 1
    return conflicts
