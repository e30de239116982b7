"""The test set stays with the evaluator: the leaderboard cannot import it, its config
cannot point at it, and published results carry aggregates only."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from worker_helpers import Bench

import heldout
from heldout.config import load_config
from heldout.evaluator.worker import Worker
from heldout.queue.results import DATA_FOLDER, results_schema
from heldout.queue.status import JobStatus

PACKAGE = Path(heldout.__file__).parent


def module_file(name: str) -> Path | None:
    """The source file of a heldout module, or None if it is not one."""
    parts = name.split(".")
    if parts[0] != "heldout":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, name: str) -> set[str]:
    """Every heldout module `path` imports, anywhere in the file (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    return {m for m in found if m == "heldout" or m.startswith("heldout.")}


def reachable_from(start: list[str]) -> dict[str, str]:
    """Module -> the module that first imported it, following heldout imports."""
    seen: dict[str, str] = {m: "" for m in start}
    todo = list(start)
    while todo:
        name = todo.pop()
        path = module_file(name)
        if path is None:
            continue
        for dep in imported_modules(path, name):
            parents = [".".join(dep.split(".")[:i]) for i in range(1, dep.count(".") + 2)]
            for mod in parents:  # importing a.b.c runs a and a.b first
                if mod not in seen and module_file(mod):
                    seen[mod] = name
                    todo.append(mod)
    return seen


def test_no_leaderboard_module_can_reach_the_evaluator_by_import() -> None:
    board = sorted(
        f"heldout.leaderboard.{p.stem}" if p.stem != "__init__" else "heldout.leaderboard"
        for p in (PACKAGE / "leaderboard").glob("*.py")
    )
    assert len(board) > 1, "the leaderboard package has no modules to check"
    reached = reachable_from(board)
    leaks = {m: via for m, via in reached.items() if m.startswith("heldout.evaluator")}
    assert not leaks, f"the leaderboard reaches the evaluator: {leaks}"
    assert "heldout.queue.jobs" in reached  # the walk does follow imports


def test_the_import_walk_would_see_a_lazy_import(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from heldout.evaluator import worker\n    from . import x\n")
    found = imported_modules(source, "heldout.leaderboard.mod")
    assert {"heldout.evaluator", "heldout.evaluator.worker", "heldout.leaderboard.x"} <= found


def test_importing_the_leaderboard_app_loads_no_evaluator_module() -> None:
    if module_file("heldout.leaderboard.app") is None:
        pytest.skip("heldout/leaderboard/app.py is not written yet")
    probe = (
        "import sys, heldout.leaderboard.app\n"
        "bad = sorted(m for m in sys.modules if m.startswith('heldout.evaluator'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]


def paths_in(value: Any) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if is_dataclass(value):
        return [p for f in fields(value) for p in paths_in(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [p for v in value for p in paths_in(v)]
    return []


def test_the_leaderboard_config_has_no_setting_that_reaches_the_test_set(tmp_path: Path) -> None:
    from heldout.scaffold import init_benchmark

    folder = init_benchmark(tmp_path / "bench", n_items=50)
    truth = load_config(folder.evaluator / "heldout.toml").evaluator.truth
    assert truth.is_file()
    config = load_config(folder.leaderboard / "heldout.toml")
    assert config.evaluator is None
    found = paths_in(config)
    assert found  # public ids and the example file are there
    for path in found:
        assert path.resolve() != truth.resolve()
        assert truth.parent.resolve() not in path.resolve().parents
    assert not any(p.name == truth.name for p in folder.leaderboard.rglob("*"))


def test_published_rows_hold_aggregate_metrics_only(make_bench) -> None:
    bench: Bench = make_bench()
    jobs = bench.submit(5)
    Worker(bench.queue(), bench.config, worker_id="w").run(once=True)
    q = bench.queue()
    assert {q.get(j).status for j in jobs} == {JobStatus.FINISHED}

    store = q.results.store
    files = [p for p in store.list() if p.endswith(".parquet")]
    assert all(p.startswith(f"{DATA_FOLDER}/") for p in files)
    tables = [pq.read_table(io.BytesIO(store.read(p))) for p in files]
    schema = results_schema(bench.config.benchmark)
    assert all(t.schema.names == schema.names for t in tables)
    rows = [row for t in tables for row in t.to_pylist()]
    assert sorted(r["job_id"] for r in rows) == sorted(jobs)  # one row per job
    test_ids = set(bench.truth["id"])
    for row in rows:
        assert row["split_scores"] == []
        values = {str(v) for v in row.values()}
        assert not values & test_ids  # no test id, so nothing per example
        assert all(len(v) < 200 for v in values)
