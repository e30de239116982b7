"""Entry points for the child processes of the LocalStore tests (spawned, so importable)."""

from __future__ import annotations

from heldout.errors import Conflict
from heldout.queue.local_store import LocalStore
from heldout.queue.store import Add, Delete


def increment_counter(root: str, times: int) -> None:
    from store_helpers import increment

    increment(LocalStore(root), times=times)


def add_own_files(root: str, worker: int, count: int) -> None:
    """Each commit adds one file of this worker's and bumps a shared counter."""
    store = LocalStore(root)
    for index in range(count):
        while True:
            head = store.head()
            value = int(store.read("counter", head))
            ops = [Add(f"w{worker}/{index:04d}", b"x"), Add("counter", str(value + 1).encode())]
            try:
                store.commit(ops, f"worker {worker} file {index}", head)
                break
            except Conflict:
                continue


def commit_forever(root: str) -> None:
    """Commit until killed: file n/<i> plus counter = i + 1, so state is checkable.

    Every third commit adds `gone/<i>` and the next deletes it, so replays see deletes.
    """
    store = LocalStore(root)
    index = int(store.read("counter"))
    while True:
        ops = [Add(f"n/{index:06d}", b"payload" * 50), Add("counter", str(index + 1).encode())]
        if index % 3 == 2:
            ops.append(Add(f"gone/{index}", b"tmp"))
        elif index % 3 == 0 and store.list("gone"):
            ops.extend(Delete(path) for path in store.list("gone"))
        store.commit(ops, f"commit {index}", store.head())
        index += 1
