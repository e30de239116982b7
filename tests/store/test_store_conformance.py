"""What every Store must do, checked on LocalStore and on HubStore over the emulator."""

from __future__ import annotations

import multiprocessing
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import store_workers
from store_helpers import increment, user_files, write

from heldout.errors import Conflict, NotFound
from heldout.queue.store import Add, Delete, Store, read_many

COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")


def test_head_is_a_commit_id_that_changes_on_commit(store: Store) -> None:
    before = store.head()
    after = write(store, {"a.txt": b"1"})
    assert COMMIT_ID.match(before) and COMMIT_ID.match(after)
    assert after != before
    assert store.head() == after


def test_list_is_sorted_recursive_and_by_prefix(store: Store) -> None:
    write(store, {"b/2.json": b"", "a/z.json": b"", "a/deep/er/x.json": b"", "a/b.json": b""})
    assert user_files(store.list()) == ["a/b.json", "a/deep/er/x.json", "a/z.json", "b/2.json"]
    assert store.list("a") == ["a/b.json", "a/deep/er/x.json", "a/z.json"]
    assert store.list("a/") == store.list("a")
    assert store.list("a/deep") == ["a/deep/er/x.json"]


def test_list_of_a_missing_folder_is_empty(store: Store) -> None:
    write(store, {"a/1": b"x"})
    assert store.list("nothing/here") == []


def test_read_at_head_and_at_an_old_revision(store: Store) -> None:
    first = write(store, {"f.txt": b"one"})
    write(store, {"f.txt": b"two"})
    assert store.read("f.txt") == b"two"
    assert store.read("f.txt", first) == b"one"


def test_read_of_a_missing_file_or_revision_is_not_found(store: Store) -> None:
    head = write(store, {"f.txt": b"one"})
    with pytest.raises(NotFound):
        store.read("nope.txt")
    with pytest.raises(NotFound):
        store.read("f.txt", "0" * 40)
    later = write(store, {"g.txt": b"x"})
    with pytest.raises(NotFound):
        store.read("g.txt", head)
    assert store.read("g.txt", later) == b"x"


def test_delete_removes_the_file_and_keeps_history(store: Store) -> None:
    kept = write(store, {"d/a": b"1", "d/b": b"2"})
    store.commit([Delete("d/a")], "delete", store.head())
    assert store.list("d") == ["d/b"]
    with pytest.raises(NotFound):
        store.read("d/a")
    assert store.read("d/a", kept) == b"1"


def test_deleting_the_last_file_of_a_folder_empties_it(store: Store) -> None:
    write(store, {"only/one": b"1"})
    store.commit([Delete("only/one")], "delete", store.head())
    assert store.list("only") == []


def test_one_commit_adds_and_deletes_together(store: Store) -> None:
    write(store, {"q/PENDING/j1": b"job"})
    store.commit([Delete("q/PENDING/j1"), Add("q/RUNNING/j1", b"job")], "move", store.head())
    assert store.list("q") == ["q/RUNNING/j1"]


def test_stale_parent_is_a_conflict_and_writes_nothing(store: Store) -> None:
    parent = store.head()
    head = write(store, {"x": b"first"})
    with pytest.raises(Conflict):
        store.commit([Add("x", b"second")], "late", parent)
    assert store.head() == head
    assert store.read("x") == b"first"


def test_same_bytes_on_a_stale_parent_still_conflict(store: Store) -> None:
    """The lost-update hole: the loser writes exactly what the winner wrote."""
    parent = write(store, {"counter": b"0"})
    write(store, {"counter": b"1"})
    with pytest.raises(Conflict):
        store.commit([Add("counter", b"1")], "same bytes", parent)


def test_a_commit_with_one_bad_operation_changes_nothing(store: Store) -> None:
    head = write(store, {"keep": b"1"})
    with pytest.raises(NotFound):
        store.commit([Add("new", b"2"), Delete("missing")], "bad", head)
    assert store.head() == head
    assert user_files(store.list()) == ["keep"]


def test_eight_writers_increment_a_counter_exactly_forty_times(store: Store) -> None:
    """CAS under contention; racing writers produce identical bytes (HUB_FACTS' hole)."""
    write(store, {"counter": b"0"})
    with ThreadPoolExecutor(8) as pool:
        conflicts = sum(pool.map(lambda _: increment(store), range(8)))
    assert store.read("counter") == b"40"
    assert conflicts > 0  # the writers really did race


def test_listing_goes_past_one_page(store: Store, backend: str, request) -> None:
    if backend != "local":
        request.getfixturevalue("faults").page_size = 5
    write(store, {f"many/{i:02d}.json": b"{}" for i in range(23)})
    write(store, {"other/x": b""})
    assert store.list("many") == [f"many/{i:02d}.json" for i in range(23)]


def test_read_many_gives_what_one_by_one_reads_give(store: Store) -> None:
    first = write(store, {"u/a.json": b"A1", "u/b.json": b"B"})
    second = write(store, {"u/a.json": b"A2"})
    paths = ["u/a.json", "u/b.json", "u/missing.json"]
    assert read_many(store, paths, second) == {
        "u/a.json": b"A2",
        "u/b.json": b"B",
        "u/missing.json": None,
    }
    assert read_many(store, paths, first)["u/a.json"] == b"A1"


CHAOS = {
    "lost replies": (0.0, 0.2),
    "faults and lost replies": (0.1, 0.2),
}


@pytest.mark.parametrize("weather", CHAOS)
def test_eight_writers_count_to_forty_when_commit_replies_get_lost(
    store: Store, chaos, weather: str
) -> None:
    """Exactly once: a commit that landed is reported as landed, even when another
    writer committed on top before the writer could look (issue 9, item 4)."""
    write(store, {"counter": b"0"})
    chaos(*CHAOS[weather])
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: increment(store), range(8)))
    chaos(0.0, 0.0)
    assert store.read("counter") == b"40"


@pytest.mark.slow
def test_eight_processes_count_to_forty_when_commit_replies_get_lost(
    store: Store, backend: str, chaos
) -> None:
    """Processes, under faults and lost replies together (the harder of the two)."""
    if backend == "hub_without_paths_info":
        pytest.skip("processes never call paths-info: the hub variant covers this")
    write(store, {"counter": b"0"})
    fault_rate, lost_reply_rate = CHAOS["faults and lost replies"]
    if backend == "hub":
        chaos(fault_rate, lost_reply_rate)
        where = store.repo_id  # type: ignore[attr-defined]
    else:
        where = str(store.root)  # type: ignore[attr-defined]
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(
            target=store_workers.increment_under_chaos,
            args=(backend, where, 5, fault_rate, lost_reply_rate),
        )
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
    chaos(0.0, 0.0)
    assert [worker.exitcode for worker in workers] == [0] * 8
    assert store.read("counter") == b"40"


def test_a_landed_commit_is_reported_landed_though_another_was_made_on_top(
    store: Store, chaos, sleeps, other_writer
) -> None:
    """The reply is lost, and before the writer looks another writer commits on top."""
    parent = write(store, {"counter": b"0"})
    chaos(lost_reply_rate=1.0)

    def another_writer_commits() -> None:
        sleeps.then = None
        chaos(0.0, 0.0)
        write(other_writer, {"elsewhere": b"x"})

    sleeps.then = another_writer_commits
    landed = store.commit([Add("counter", b"1")], "mine", parent)
    assert store.read("counter", landed) == b"1"
    assert store.head() != landed  # the other commit is on top of ours
    assert store.read("counter") == b"1" and store.read("elsewhere") == b"x"


def test_read_many_through_folder_listings_when_paths_info_is_missing(
    hub_without_paths_info_store: Store, emulator
) -> None:
    """Asks `paths-info` once, then lists the folders involved instead."""
    store = hub_without_paths_info_store
    head = write(store, {"u/a.json": b"A", "u/b.json": b"B", "top.json": b"T"})
    paths = ["u/a.json", "u/b.json", "u/gone.json", "top.json", "nowhere/x.json"]
    emulator.reset_counters()
    first = read_many(store, paths, head)
    assert first == {
        "u/a.json": b"A",
        "u/b.json": b"B",
        "u/gone.json": None,
        "top.json": b"T",
        "nowhere/x.json": None,
    }
    assert emulator.counters().get("paths_info") == 1
    later = write(store, {"elsewhere": b"moved"})  # another commit: the same files, new sha
    emulator.reset_counters()
    assert read_many(store, paths, later) == first
    assert emulator.counters() == {"tree": 3}  # one listing per folder, contents cached
