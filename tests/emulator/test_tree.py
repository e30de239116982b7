"""The versioned tree on its own: history, listings at old commits, cost of a listing."""

from __future__ import annotations

import random

import pytest

from heldout.hub_emulator.tree import DIR, FileEntry, RepoTree


def entry(tag: str) -> FileEntry:
    return FileEntry(sha256=tag, oid=tag, size=len(tag))


def listing(tree: RepoTree, folder: str, seq: int | None = None, recursive: bool = False):
    return [path for path, _ in tree.walk(folder, seq, recursive=recursive)]


def test_folders_come_and_go_with_their_files() -> None:
    tree = RepoTree()
    tree.apply(0, [("a/b/c.txt", entry("1")), ("a/d.txt", entry("2"))])
    assert tree.node("a") == DIR and tree.node("a/b") == DIR
    tree.apply(1, [("a/b/c.txt", None)])
    assert tree.node("a/b") is None
    assert listing(tree, "a") == ["a/d.txt"]
    assert listing(tree, "a", seq=0) == ["a/b", "a/d.txt"]
    assert tree.file("a/b/c.txt", 0) == entry("1")


def test_a_file_can_become_a_folder_in_one_commit() -> None:
    tree = RepoTree()
    tree.apply(0, [("x", entry("1"))])
    tree.apply(1, [("x/y", entry("2")), ("x", None)])
    assert tree.node("x") == DIR
    assert tree.node("x", 0) == entry("1")
    assert listing(tree, "", recursive=True) == ["x", "x/y"]


def test_walk_resumes_after_a_cursor_even_if_it_was_deleted() -> None:
    tree = RepoTree()
    tree.apply(0, [(f"d/{i:02d}/f", entry(str(i))) for i in range(10)])
    everything = listing(tree, "d", recursive=True)
    cursor = everything[7]
    rest = [path for path, _ in tree.walk("d", None, recursive=True, after=cursor)]
    assert rest == everything[8:]
    tree.apply(1, [("d/03/f", None)])
    after_deleted = [path for path, _ in tree.walk("d", None, recursive=True, after="d/03/f")]
    assert after_deleted == [p for p in everything if p > "d/03/f" and not p.startswith("d/03")]


def test_listing_a_small_folder_does_not_visit_a_big_one(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = RepoTree()
    tree.apply(0, [(f"big/{i:05d}", entry(str(i))) for i in range(20_000)])
    tree.apply(1, [("small/a", entry("a")), ("small/b", entry("b"))])
    tree.apply(2, [("big/00000", None)])
    calls = []
    original = tree.node
    monkeypatch.setattr(tree, "node", lambda *a, **k: calls.append(a) or original(*a, **k))
    assert listing(tree, "small") == ["small/a", "small/b"]
    assert listing(tree, "small", seq=1) == ["small/a", "small/b"]
    assert len(calls) <= 10


def test_random_histories_match_a_naive_model() -> None:
    """Every version of the tree, at every commit, equals a brute-force replay."""
    rng = random.Random(7)
    tree = RepoTree()
    snapshots: list[dict[str, FileEntry]] = []
    current: dict[str, FileEntry] = {}
    names = ["a", "b", "c"]
    for seq in range(60):
        changes: dict[str, FileEntry | None] = {}
        for _ in range(rng.randint(1, 6)):
            path = "/".join(rng.choice(names) for _ in range(rng.randint(1, 3)))
            if path in current and rng.random() < 0.5:
                changes[path] = None
            elif not any(p.startswith(path + "/") for p in current) and not any(
                path.startswith(p + "/") for p in current
            ):
                changes[path] = entry(f"{seq}-{path}")
        staged = dict(current)
        for path, value in changes.items():
            if value is None:
                staged.pop(path, None)
            else:
                staged[path] = value
        if any(q.startswith(p + "/") for p in staged for q in staged):
            continue  # the naive model refuses what staging would refuse
        tree.apply(seq, [(p, v) for p, v in changes.items() if v != current.get(p)])
        current = staged
        snapshots.append(dict(current))
        snapshots[-1]["__seq__"] = seq  # type: ignore[assignment]
    for snapshot in snapshots:
        seq = snapshot.pop("__seq__")  # type: ignore[arg-type]
        files = {p: n for p, n in tree.walk("", seq, recursive=True) if isinstance(n, FileEntry)}
        assert files == snapshot, seq
        folders = {p.rsplit("/", 1)[0] for p in snapshot if "/" in p}
        for folder in folders:
            expected = sorted(
                {p[len(folder) + 1 :].split("/")[0] for p in snapshot if p.startswith(folder + "/")}
            )
            assert tree.children(folder, seq) == expected
