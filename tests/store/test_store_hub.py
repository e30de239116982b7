"""HubStore only, over the emulator: access, faults, lost replies, quotas, request cost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from huggingface_hub import HfApi
from store_helpers import TOKEN, RecordingSleep, write

from heldout.errors import AccessDenied, Conflict, InvalidPath, NotFound, TransientError
from heldout.queue.hub_store import HubStore
from heldout.queue.store import Add, Store, read_many


def commit_count(store: HubStore, emulator) -> int:
    api = HfApi(endpoint=emulator.url, token=TOKEN)
    return len(api.list_repo_commits(store.repo_id, repo_type="dataset"))


def bump(store: Store, index: int) -> str:
    """One sequential commit: a new file plus the counter, read-modify-write."""
    head = store.head()
    value = int(store.read("counter", head))
    ops = [Add(f"f/{index:02d}", b"x"), Add("counter", str(value + 1).encode())]
    return store.commit(ops, f"bump {index}", head)


def test_a_private_repo_refuses_another_user(hub_store: HubStore, emulator) -> None:
    write(hub_store, {"secret": b"answers"})
    mallory = HubStore(hub_store.repo_id, token="hf_test_mallory", endpoint=emulator.url)
    for call in (
        mallory.head,
        lambda: mallory.read("secret"),
        lambda: mallory.list(),
        lambda: mallory.commit([Add("x", b"1")], "mine now", hub_store.head()),
    ):
        with pytest.raises((AccessDenied, NotFound)) as caught:
            call()
        assert "hf_test_mallory" not in str(caught.value)
    assert hub_store.read("secret") == b"answers"


def test_an_invalid_token_is_access_denied(hub_store: HubStore, emulator) -> None:
    stranger = HubStore(hub_store.repo_id, token="not-a-token", endpoint=emulator.url)
    with pytest.raises((AccessDenied, NotFound)) as caught:
        stranger.head()
    assert "not-a-token" not in str(caught.value)


def test_commits_land_through_twenty_percent_faults(hub_store: HubStore, faults, sleeps) -> None:
    write(hub_store, {"counter": b"0"})
    faults.fault_rate = 0.2
    for index in range(30):
        bump(hub_store, index)
    faults.fault_rate = 0.0
    assert hub_store.read("counter") == b"30"
    assert hub_store.list("f") == [f"f/{i:02d}" for i in range(30)]
    assert sleeps.calls  # faults were met and waited out


def test_lost_replies_reconcile_without_duplicates(hub_store: HubStore, faults, emulator) -> None:
    write(hub_store, {"counter": b"0"})
    before = commit_count(hub_store, emulator)
    faults.lost_reply_rate = 0.5
    heads = [bump(hub_store, index) for index in range(20)]  # never a false Conflict
    faults.lost_reply_rate = 0.0
    assert heads[-1] == hub_store.head()
    assert len(set(heads)) == 20
    assert hub_store.read("counter") == b"20"
    assert commit_count(hub_store, emulator) == before + 20


def test_a_lost_reply_after_another_writer_moved_the_head_is_a_conflict(
    hub_factory: Callable[..., HubStore], faults
) -> None:
    store = hub_factory()
    parent = write(store, {"counter": b"0"})
    write(store, {"counter": b"1"})  # another writer got there first
    faults.lost_reply_rate = 1.0
    with pytest.raises(Conflict):
        store.commit([Add("counter", b"1")], "late", parent)


def test_a_spent_commit_quota_waits_per_retry_after_then_succeeds(
    hub_factory: Callable[..., HubStore], faults
) -> None:
    waits: list[float] = []

    def hour_passes(seconds: float) -> None:
        waits.append(seconds)
        faults.commit_quota_per_hour = None  # the rolling hour has gone by

    store = hub_factory(sleep=hour_passes, retry_seconds=7200)
    write(store, {"a": b"1"})
    faults.commit_quota_per_hour = 1
    head = write(store, {"b": b"2"})
    assert store.read("b", head) == b"2"
    assert len(waits) == 1 and 1000 < waits[0] <= 3600  # the Hub's Retry-After


def test_a_spent_commit_quota_past_the_budget_is_a_clear_transient_error(
    hub_factory: Callable[..., HubStore], faults, sleeps: RecordingSleep
) -> None:
    store = hub_factory(retry_seconds=60)
    write(store, {"a": b"1"})
    faults.commit_quota_per_hour = 1
    with pytest.raises(TransientError) as caught:
        write(store, {"b": b"2"})
    message = str(caught.value)
    assert "HTTP 429" in message and "retry budget of 60 s" in message
    assert TOKEN not in message
    assert sleeps.calls == []


def test_requests_per_operation(hub_store: HubStore, emulator) -> None:
    head = write(hub_store, {"f/a": b"1"})
    hub_store.read("f/a", head)

    def cost(call: Callable[[], object]) -> int:
        emulator.reset_counters()
        call()
        return sum(emulator.counters().values())

    assert cost(hub_store.head) == 1
    assert cost(lambda: hub_store.list("f")) == 1
    assert cost(lambda: hub_store.read("f/a", head)) == 0  # cached by commit sha
    assert cost(lambda: write(hub_store, {"f/b": b"2"})) == 3  # head + preupload + commit


def test_bad_ids_cost_no_request(emulator) -> None:
    emulator.reset_counters()
    with pytest.raises(InvalidPath):
        HubStore.create("../../etc", token=TOKEN, endpoint=emulator.url)
    assert sum(emulator.counters().values()) == 0


def add_once(store: Store, path: str) -> None:
    """An idempotent transition, as the queue's are: done when the file is there."""
    while True:
        head = store.head()
        if path in store.list(path.rsplit("/", 1)[0]):
            return
        try:
            store.commit([Add(path, b"done")], f"add {path}", head)
            return
        except Conflict:
            continue


def test_racing_writers_with_faults_and_lost_replies_lose_nothing(
    hub_store: HubStore, faults
) -> None:
    write(hub_store, {"jobs/.keep": b""})
    faults.fault_rate = 0.1
    faults.lost_reply_rate = 0.3
    paths = [f"jobs/w{w}-{i}" for w in range(4) for i in range(5)]
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(lambda w: [add_once(hub_store, p) for p in paths if f"/w{w}-" in p], range(4))
        )
    faults.fault_rate = faults.lost_reply_rate = 0.0
    assert hub_store.list("jobs") == sorted([*paths, "jobs/.keep"])


def test_a_hub_that_keeps_failing_ends_in_a_clear_transient_error(
    hub_factory: Callable[..., HubStore], faults, sleeps: RecordingSleep
) -> None:
    store = hub_factory(retry_seconds=10)
    faults.fault_rate = 1.0
    with pytest.raises(TransientError) as caught:
        store.head()
    message = str(caught.value)
    assert store.repo_id in message and "retry budget of 10 s" in message
    assert len(sleeps.calls) >= 2 and sum(sleeps.calls) <= 10


def test_read_many_costs_one_request_for_files_seen_before(hub_store: HubStore, emulator) -> None:
    """After a lost CAS race a transaction re-reads everything at the new head."""
    paths = [f"users/u{n}.json" for n in range(30)]
    write(hub_store, {p: p.encode() for p in paths})
    read_many(hub_store, paths, hub_store.head())
    head = write(hub_store, {"queue/other.json": b"moved"})  # someone else committed
    emulator.reset_counters()
    again = read_many(hub_store, paths, head)
    assert again == {p: p.encode() for p in paths}
    assert emulator.counters() == {"paths_info": 1}


def test_a_hub_that_stops_answering_times_out_instead_of_blocking(
    hub_store: HubStore, emulator, faults
) -> None:
    """The client's timeout is process-wide, so it is set in a process of its own."""
    import subprocess
    import sys

    script = (
        "from heldout.queue.hub_store import HubStore\n"
        f"store = HubStore({hub_store.repo_id!r}, token={TOKEN!r}, endpoint={emulator.url!r},"
        " retry_seconds=1.0, http_timeout=0.3)\n"
        "try:\n"
        "    print('head', store.head())\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    faults.slow_rate, faults.slow_seconds = 1.0, 3.0
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith("TransientError"), done.stdout + done.stderr
    assert TOKEN not in done.stdout


def test_a_read_costs_one_get_and_what_is_known_at_a_commit_costs_nothing(
    hub_store: HubStore, emulator
) -> None:
    """Issue 10: no HEAD before a GET; content cached by content id and (commit, path)."""
    paths = [f"q/{n}.json" for n in range(5)]
    head = write(hub_store, {p: p.encode() for p in paths})
    other = HubStore(hub_store.repo_id, token=TOKEN, endpoint=emulator.url)  # another process

    def cost(call: Callable[[], object]) -> dict[str, int]:
        emulator.reset_counters()
        call()
        return emulator.counters()

    assert cost(lambda: other.read("q/0.json", head)) == {"resolve": 1}
    assert cost(lambda: other.read("q/0.json", head)) == {}
    assert cost(lambda: hub_store.read("q/1.json", head)) == {}  # it wrote that itself
    wanted = [*paths, "q/missing.json"]
    assert cost(lambda: read_many(other, wanted, head)) == {"paths_info": 1, "resolve": 4}
    assert cost(lambda: read_many(other, wanted, head)) == {}  # absent files remembered too
    with pytest.raises(NotFound):
        other.read("q/missing.json", head)
    assert cost(lambda: pytest.raises(NotFound, other.read, "q/missing.json", head)) == {}


def test_no_retry_loop_hides_inside_the_client(
    hub_factory: Callable[..., HubStore], faults, emulator, sleeps: RecordingSleep
) -> None:
    """One retry discipline: each 503 costs one request and one wait of heldout's own;
    huggingface_hub's `http_backoff` (5 retries per call) does not retry it again."""
    store = hub_factory(retry_seconds=10)
    write(store, {"f/a": b"1"})
    faults.fault_rate = 1.0
    emulator.reset_counters()
    with pytest.raises(TransientError):
        store.list("f")
    faults.fault_rate = 0.0
    assert emulator.counters() == {"tree": len(sleeps.calls) + 1}
