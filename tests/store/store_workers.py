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


def increment_under_chaos(
    backend: str, where: str, times: int, fault_rate: float, lost_reply_rate: float
) -> None:
    """`times` CAS increments from a process of its own, on either backend.

    `where` is the LocalStore's root or the Hub repo id; for the Hub the faults are the
    emulator's (set by the parent), for a LocalStore they are given here.
    """
    import time

    from store_helpers import TOKEN, increment

    def short_sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.02))

    if backend == "local":
        from heldout.queue.store_faults import StoreFaults

        faults = StoreFaults(fault_rate=fault_rate, lost_reply_rate=lost_reply_rate)
        store = LocalStore(where, faults=faults, sleep=short_sleep)
    else:
        import os

        from heldout.queue.hub_store import HubStore

        skip_client_backoff()
        store = HubStore(where, token=TOKEN, endpoint=os.environ["HF_ENDPOINT"], sleep=short_sleep)
    increment(store, times=times)


def skip_client_backoff() -> None:
    """huggingface_hub's own retries (preupload) sleep for real; keep them short here."""
    import time
    import types

    from huggingface_hub.utils import _http

    fast = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("__")}
    )
    fast.sleep = lambda seconds: time.sleep(min(seconds, 0.02))
    _http.time = fast
