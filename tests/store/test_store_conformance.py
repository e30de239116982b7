"""What every Store must do, checked on LocalStore and on HubStore over the emulator."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
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
    if backend == "hub":
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
