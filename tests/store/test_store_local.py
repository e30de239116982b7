"""LocalStore only: crashes at every step of a commit, several processes, SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import store_workers
from store_helpers import write

from heldout.errors import InvalidPath, NotFound
from heldout.queue.local_store import LocalStore
from heldout.queue.store import Add, Delete

SPAWN = multiprocessing.get_context("spawn")


class Crash(Exception):
    """Stands for the process dying at this instant."""


def expected_tree(store: LocalStore) -> dict[str, bytes]:
    """The files at the head, rebuilt from the commit log alone."""
    files: dict[str, bytes] = {}
    for record in reversed(store.history()):
        for path, sha in record.changes.items():
            if sha is None:
                files.pop(path, None)
            else:
                files[path] = store.read(path, record.id)
    return files


def assert_consistent(store: LocalStore) -> None:
    """What `tree/` shows at the head equals what the log says the head holds."""
    expected = expected_tree(store)
    assert store.list() == sorted(expected)
    for path, content in expected.items():
        assert store.read(path) == content


def count_replaces(root: Path) -> int:
    store = LocalStore(root)
    calls = 0
    real = os.replace

    def counting(src, dst):
        nonlocal calls
        calls += 1
        real(src, dst)

    os.replace = counting
    try:
        store.commit([Add("a/new", b"n"), Delete("old"), Add("k", b"2")], "probe", store.head())
    finally:
        os.replace = real
    return calls


# The probe commit calls os.replace for 2 blobs, its record, HEAD, 2 tree files (the
# first one twice: it fails until its folder exists), then TREE_AT.
REPLACES_PER_PROBE = 8


def test_the_crash_points_cover_every_replace_of_a_commit(tmp_path: Path) -> None:
    write(LocalStore(tmp_path), {"old": b"o", "k": b"1"})
    assert count_replaces(tmp_path) == REPLACES_PER_PROBE


@pytest.mark.parametrize("crash_at", range(1, REPLACES_PER_PROBE + 1))
def test_a_crash_at_any_replace_leaves_old_or_new_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    store = LocalStore(tmp_path / "s")
    old_head = write(store, {"old": b"o", "k": b"1"})
    calls = 0
    real = os.replace

    def crashing(src, dst):
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise Crash(f"killed before replacing {Path(dst).name}")
        real(src, dst)

    monkeypatch.setattr(os, "replace", crashing)
    with pytest.raises(Crash):
        store.commit([Add("a/new", b"n"), Delete("old"), Add("k", b"2")], "crash", old_head)
    monkeypatch.setattr(os, "replace", real)

    reopened = LocalStore(tmp_path / "s")
    if reopened.head() == old_head:
        assert reopened.list() == ["k", "old"] and reopened.read("k") == b"1"
    else:
        assert reopened.list() == ["a/new", "k"] and reopened.read("k") == b"2"
    assert_consistent(reopened)
    assert not any((tmp_path / "s" / "tmp").iterdir())


def test_a_tree_left_behind_head_is_rolled_forward(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = write(store, {"a": b"1"})
    write(store, {"a": b"2", "b/c": b"3"})
    (tmp_path / "TREE_AT").write_text(first)  # as if a crash hit after the commit point
    (tmp_path / "tree" / "a").unlink()
    assert LocalStore(tmp_path).read("a") == b"2"
    assert_consistent(LocalStore(tmp_path))


def test_four_processes_commit_without_losing_any(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write(store, {"counter": b"0"})
    workers = [
        SPAWN.Process(target=store_workers.add_own_files, args=(str(tmp_path), w, 10))
        for w in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert store.read("counter") == b"40"
    assert len(store.list()) == 41
    assert len(store.history()) == 42  # initial + first write + 40
    assert_consistent(store)


def test_eight_processes_increment_a_counter_exactly_forty_times(tmp_path: Path) -> None:
    write(LocalStore(tmp_path), {"counter": b"0"})
    workers = [
        SPAWN.Process(target=store_workers.increment_counter, args=(str(tmp_path), 5))
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert LocalStore(tmp_path).read("counter") == b"40"


def test_sigkill_during_commits_leaves_a_committed_state(tmp_path: Path) -> None:
    write(LocalStore(tmp_path), {"counter": b"0"})
    rng = random.Random(7)
    for _ in range(8):
        child = SPAWN.Process(target=store_workers.commit_forever, args=(str(tmp_path),))
        child.start()
        before = LocalStore(tmp_path).head()
        deadline = time.monotonic() + 20
        while LocalStore(tmp_path).head() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        store = LocalStore(tmp_path)
        heads = [record.id for record in store.history()]
        assert store.head() == heads[0]
        count = int(store.read("counter"))
        assert store.list("n") == [f"n/{i:06d}" for i in range(count)]
        assert_consistent(store)
    assert count > 8


def test_a_path_cannot_be_both_file_and_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write(store, {"a/b": b"1"})
    with pytest.raises(InvalidPath):
        write(store, {"a": b"file over folder"})
    with pytest.raises(InvalidPath):
        write(store, {"a/b/c": b"folder under file"})
    assert store.list() == ["a/b"]


def test_history_lists_commits_newest_first(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write(store, {"a": b"1"}, "first")
    write(store, {"a": b"2"}, "second")
    records = store.history()
    assert [r.message for r in records] == ["second", "first", "initial commit"]
    assert records[0].parent == records[1].id
    assert [r.message for r in store.history(limit=1)] == ["second"]


def test_a_malformed_revision_is_not_found(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write(store, {"a": b"1"})
    with pytest.raises(NotFound):
        store.read("a", "../../HEAD")


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write(store, {f"same/{i}": b"identical" for i in range(50)})
    blobs = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert store.read("same/7") == b"identical"
